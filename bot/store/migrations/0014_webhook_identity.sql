-- The feed's own image (RSS <image>, Atom <logo>/<icon>, itunes:image), kept from the last
-- successful poll: the avatar of webhook posts unless the admin gave one.
ALTER TABLE feeds ADD COLUMN image_url TEXT;
-- A subscription posts under the feed's own name and avatar through a channel webhook when it
-- has a row here; name/avatar_url NULL: the feed's title and image at the time of posting.
CREATE TABLE subscription_identities (
    subscription_id INTEGER PRIMARY KEY REFERENCES subscriptions (id) ON DELETE CASCADE,
    name            TEXT,
    avatar_url      TEXT,
    updated_at      REAL NOT NULL
);
-- The one webhook the bot made in a channel. The token is a secret: never logged, never shown.
CREATE TABLE channel_webhooks (
    channel_id INTEGER PRIMARY KEY,
    webhook_id INTEGER NOT NULL,
    token      TEXT    NOT NULL,
    created_at REAL    NOT NULL
);
