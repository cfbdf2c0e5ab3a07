-- Feeds and their archive of items, with a full-text index.
-- Times are unix seconds (UTC) as REAL or INTEGER.

CREATE TABLE feeds (
    id                  INTEGER PRIMARY KEY,
    url                 TEXT    NOT NULL UNIQUE,   -- normalized
    title               TEXT    NOT NULL DEFAULT '',
    site_url            TEXT,
    description         TEXT,
    language            TEXT,
    etag                TEXT,
    last_modified       TEXT,
    body_hash           TEXT,                       -- sha256 of the last 200 body: unchanged → no parse
    interval_s          REAL    NOT NULL,
    next_poll_at        REAL    NOT NULL,
    last_polled_at      REAL,
    last_success_at     REAL,
    last_new_item_at    REAL,
    consecutive_errors  INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    failing_since       REAL,
    disabled            INTEGER NOT NULL DEFAULT 0,
    disabled_reason     TEXT,
    created_at          REAL    NOT NULL
);
CREATE INDEX feeds_due ON feeds (disabled, next_poll_at);

CREATE TABLE items (
    id                  INTEGER PRIMARY KEY,
    feed_id             INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    stable_id           TEXT    NOT NULL,          -- guid → link → hash of title and content
    raw_hash            TEXT    NOT NULL,          -- fingerprint of the raw entry: unchanged → not enriched again
    content_hash        TEXT    NOT NULL,          -- sha256 of title + cleaned text
    url                 TEXT,
    title               TEXT    NOT NULL,
    author              TEXT,
    published_at        REAL    NOT NULL,          -- the feed's date, else first seen
    first_seen_at       REAL    NOT NULL,
    updated_at          REAL,
    content_md          TEXT    NOT NULL,
    content_text        TEXT    NOT NULL,
    summary             TEXT    NOT NULL,
    keywords            TEXT    NOT NULL DEFAULT '', -- space-separated
    image_url           TEXT,
    enclosure_url       TEXT,
    enclosure_type      TEXT,
    enclosure_length    INTEGER,
    duration_s          INTEGER,
    language            TEXT,
    UNIQUE (feed_id, stable_id)
);
CREATE INDEX items_feed_published ON items (feed_id, published_at DESC);
CREATE INDEX items_published ON items (published_at DESC);

-- Full-text index; rowid = items.id. Text is stored CJK-spaced (bot.store.cjk.space_cjk) so a
-- word inside a run of kana/kanji is found as a phrase of single-character tokens.
CREATE VIRTUAL TABLE items_fts USING fts5 (
    title, summary, text,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Small facts the bot keeps about itself (e.g. the hash of the last synced command payload).
CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
