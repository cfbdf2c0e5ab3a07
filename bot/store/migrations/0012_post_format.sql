-- How a subscription's posts look (`/feed format`): format_style is 'card' (NULL: the default
-- card), 'compact' or 'text'; format_template the admin's template (NULL: none), checked by
-- bot.features.posts.format before it is stored.
ALTER TABLE subscriptions ADD COLUMN format_style TEXT;
ALTER TABLE subscriptions ADD COLUMN format_template TEXT;

-- The opening of an item's body as the feed gave it (raw HTML, at most 8,000 characters,
-- zlib-compressed: ~3 kB), read only
-- when a template shows {excerpt}: it is cleaned and made Discord markdown at render time
-- (bot.text.excerpt), so no markdown is stored. NULL: archived before this column existed.
ALTER TABLE items ADD COLUMN opening_html BLOB;
