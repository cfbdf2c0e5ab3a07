-- Scheduled digests: at most one schedule per channel. Times are unix seconds (UTC) as REAL.
-- A slot is the UTC instant of one scheduled digest (bot.features.digest.schedule).

CREATE TABLE digest_schedules (
    channel_id          INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL,
    channel_name        TEXT    NOT NULL DEFAULT '',   -- for the digest's header
    cadence             TEXT    NOT NULL CHECK (cadence IN ('daily', 'weekly')),
    local_time          TEXT    NOT NULL,              -- 'HH:MM', wall clock in `timezone`
    timezone            TEXT    NOT NULL,              -- IANA name, e.g. 'Europe/Berlin'
    weekday             INTEGER CHECK (weekday BETWEEN 0 AND 6),  -- 0 = Monday; weekly only
    created_by          INTEGER,                       -- user id
    created_at          REAL    NOT NULL,
    updated_at          REAL    NOT NULL,              -- last (re)scheduled: earlier slots never due
    last_sent_slot      REAL,                          -- slot of the last digest handled
    CHECK ((cadence = 'weekly') = (weekday IS NOT NULL))
);
CREATE INDEX digest_schedules_guild ON digest_schedules (guild_id);

-- A digest lists the items its channel's digest-mode feeds first saw during the period.
CREATE INDEX items_feed_first_seen ON items (feed_id, first_seen_at);
