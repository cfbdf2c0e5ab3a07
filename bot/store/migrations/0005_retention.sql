-- Retention (DIGESTBOT_RETENTION_DAYS, `digestbot prune`): an item pruned by age leaves a
-- tombstone, so a pruned item still listed in its feed is never archived or posted again
-- (bot.store.maintenance.prune writes them; bot.store.items.save_items skips them).

CREATE TABLE item_tombstones (
    feed_id             INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    stable_id           TEXT    NOT NULL,
    raw_hash            TEXT    NOT NULL,          -- the raw entry's fingerprint: unchanged → not enriched again
    pruned_at           REAL    NOT NULL,
    PRIMARY KEY (feed_id, stable_id)
);
