-- Every feed a guild has ever subscribed to: /search covers the feeds a guild follows now or
-- followed before (their items stay in its archive), never another guild's.

CREATE TABLE guild_feeds (
    guild_id            INTEGER NOT NULL,
    feed_id             INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    first_subscribed_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, feed_id)
);

INSERT INTO guild_feeds (guild_id, feed_id, first_subscribed_at)
SELECT guild_id, feed_id, min(created_at) FROM subscriptions GROUP BY guild_id, feed_id;
