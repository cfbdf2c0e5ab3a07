-- Followed topics (saved searches that DM a member) and what the bot knows about members' DMs.
-- Search itself needs nothing new: it uses items_fts (0001).

CREATE TABLE topics (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: DM buttons name it
    guild_id            INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    query               TEXT    NOT NULL,                   -- as the member typed it
    norm_key            TEXT    NOT NULL,                   -- bot.search.query.Query.key
    feed_id             INTEGER REFERENCES feeds (id) ON DELETE CASCADE,  -- NULL: every feed
    created_at          REAL    NOT NULL,
    match_count         INTEGER NOT NULL DEFAULT 0,
    last_match_at       REAL,
    UNIQUE (guild_id, user_id, norm_key)
);
CREATE INDEX topics_user ON topics (user_id, guild_id);
CREATE INDEX topics_feed ON topics (feed_id);

-- A member as a DM target: the cached DM channel, and whether their DMs are closed (403, code
-- 50007): then their topics are paused (not matched) until they resume.
CREATE TABLE members (
    user_id             INTEGER PRIMARY KEY,
    dm_channel_id       INTEGER,
    dms_closed_at       REAL,                               -- NULL: DMs work (as far as we know)
    closed_notice_at    REAL                                -- when we told them why (in a reply)
);
