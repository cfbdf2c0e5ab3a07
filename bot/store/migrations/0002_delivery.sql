-- Channel subscriptions and the outbox of everything that must reach Discord.
-- Discord snowflakes (guild, channel, user, role, message ids) are INTEGER.

CREATE TABLE subscriptions (
    id                  INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    feed_id             INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    mode                TEXT    NOT NULL DEFAULT 'instant' CHECK (mode IN ('instant', 'digest')),
    mention_role_id     INTEGER,                   -- the only ping a post can make (opt-in)
    added_by            INTEGER,                   -- user id: told when the subscription pauses
    created_at          REAL    NOT NULL,
    updated_at          REAL,
    paused_reason       TEXT,                      -- in words, for /feed list
    paused_at           REAL,                      -- NULL: active
    UNIQUE (channel_id, feed_id)
);
CREATE INDEX subscriptions_feed ON subscriptions (feed_id, mode);
CREATE INDEX subscriptions_guild ON subscriptions (guild_id, channel_id);

-- The outbox. One row per thing to send to one target; dedupe_key makes it unique per
-- (item or digest, target): 'item:{item}:ch:{channel}', 'dm:{item}:u:{user}',
-- 'digest:{channel}:{period}', 'notice:…'.
CREATE TABLE deliveries (
    id                  INTEGER PRIMARY KEY,
    dedupe_key          TEXT    NOT NULL UNIQUE,
    kind                TEXT    NOT NULL CHECK (kind IN ('item', 'digest', 'dm', 'notice')),
    item_id             INTEGER REFERENCES items (id) ON DELETE CASCADE,
    subscription_id     INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    guild_id            INTEGER,
    target_kind         TEXT    NOT NULL CHECK (target_kind IN ('channel', 'user')),
    target_id           INTEGER NOT NULL,
    payload             TEXT,                      -- JSON for notices, digests, DM extras
    state               TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'paused',
                                         'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     REAL    NOT NULL,
    maybe_sent          INTEGER NOT NULL DEFAULT 0, -- a send may have reached Discord: look first
    message_id          INTEGER,
    last_error          TEXT,
    created_at          REAL    NOT NULL,
    sent_at             REAL
);
-- The worker: what is due.
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
-- Per-target order: a target gets its deliveries in id order (a feed's items oldest first).
CREATE INDEX deliveries_target ON deliveries (target_kind, target_id, state, id);
CREATE INDEX deliveries_item ON deliveries (item_id);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, state);
