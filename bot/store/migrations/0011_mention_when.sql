-- A subscription's role ping may be limited to the posts that match a query in the /search
-- language (bot.search.query), kept as the admin typed it. NULL: every post pings the role.
ALTER TABLE subscriptions ADD COLUMN mention_when TEXT;
