-- The language a channel's posts, digests and notices are written in, when an admin chose one
-- (no row: the guild's preferred language).
CREATE TABLE channel_locales (
    channel_id INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    locale     TEXT    NOT NULL,
    updated_at REAL    NOT NULL
);
-- The language a member's last /follow came in: their topic DMs are written in it.
CREATE TABLE member_locales (
    user_id    INTEGER PRIMARY KEY,
    locale     TEXT    NOT NULL,
    updated_at REAL    NOT NULL
);
