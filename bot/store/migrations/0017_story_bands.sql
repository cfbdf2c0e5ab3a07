-- Same-story candidates by LSH band (bot.ingest.story.bands: a whole band of three MinHash
-- values in common) instead of by single marks, which a topic's stock phrases made shared by
-- most of its posts (bench/RESULTS.md, issue 16). Bands cannot be computed in SQL, and the
-- sketches kept do not hold them: items routed before this migration are found by their
-- link key only; every item routed after it gets bands (the window is 72 hours).
DROP TABLE story_marks;
CREATE TABLE story_bands (
    band                INTEGER NOT NULL,
    seen_at             REAL    NOT NULL,
    item_id             INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (band, seen_at, item_id)
) WITHOUT ROWID;
CREATE INDEX story_bands_item ON story_bands (item_id);
