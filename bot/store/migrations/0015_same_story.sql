-- One story, posted once per channel (issue 16). An item's story key, written when it is
-- routed (bot.ingest.story decides what it is): its link without tracking parameters, and
-- a bottom-k sketch of its title and opening. `canonical_url`: the feed's rel=canonical for
-- the item (saved with it), which the story key prefers to the link.
ALTER TABLE items ADD COLUMN canonical_url TEXT;
ALTER TABLE items ADD COLUMN story_url TEXT;
ALTER TABLE items ADD COLUMN story_sketch BLOB;
CREATE INDEX items_story_url ON items (story_url) WHERE story_url IS NOT NULL;
-- How a routed item's near-duplicates are found: its marks (bot.ingest.story.marks), by time.
CREATE TABLE story_marks (
    mark                INTEGER NOT NULL,
    seen_at             REAL    NOT NULL,
    item_id             INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (mark, seen_at, item_id)
) WITHOUT ROWID;
CREATE INDEX story_marks_item ON story_marks (item_id);

-- 0: this subscription's items are always posted, even when the channel already had the story.
ALTER TABLE subscriptions ADD COLUMN merge_stories INTEGER NOT NULL DEFAULT 1;

-- Deliveries of kind 'edit': the item is not posted; the post of the delivery `merged_into`
-- is edited to name this item's feed too. SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE deliveries_next (
    id                  INTEGER PRIMARY KEY,
    dedupe_key          TEXT    NOT NULL UNIQUE,
    kind                TEXT    NOT NULL
                        CHECK (kind IN ('item', 'digest', 'dm', 'notice', 'edit')),
    item_id             INTEGER REFERENCES items (id) ON DELETE CASCADE,
    subscription_id     INTEGER REFERENCES subscriptions (id) ON DELETE SET NULL,
    guild_id            INTEGER,
    target_kind         TEXT    NOT NULL CHECK (target_kind IN ('channel', 'user')),
    target_id           INTEGER NOT NULL,
    payload             TEXT,
    state               TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'paused',
                                         'cancelled')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    next_attempt_at     REAL    NOT NULL,
    maybe_sent          INTEGER NOT NULL DEFAULT 0,
    message_id          INTEGER,
    last_error          TEXT,
    created_at          REAL    NOT NULL,
    sent_at             REAL,
    merged_into         INTEGER            -- kind 'edit': the delivery whose post is edited
);
INSERT INTO deliveries_next (id, dedupe_key, kind, item_id, subscription_id, guild_id,
    target_kind, target_id, payload, state, attempts, next_attempt_at, maybe_sent, message_id,
    last_error, created_at, sent_at)
SELECT id, dedupe_key, kind, item_id, subscription_id, guild_id, target_kind, target_id,
    payload, state, attempts, next_attempt_at, maybe_sent, message_id, last_error, created_at,
    sent_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_next RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_target ON deliveries (target_kind, target_id, state, id);
CREATE INDEX deliveries_item ON deliveries (item_id);
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, state);
-- A channel's recent posts: the candidates a new item's story is compared with.
CREATE INDEX deliveries_recent ON deliveries (target_id, created_at) WHERE kind = 'item';
CREATE INDEX deliveries_merged ON deliveries (merged_into) WHERE merged_into IS NOT NULL;
