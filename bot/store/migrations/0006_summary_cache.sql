-- Summaries made by a summarizer other than the offline one (an LLM), by content hash: an item
-- is summarized once, and an identical text (a re-post, an edit reverted) is not sent again.

CREATE TABLE summary_cache (
    content_hash        TEXT    PRIMARY KEY,
    summary             TEXT    NOT NULL,
    source              TEXT    NOT NULL,          -- e.g. "llm:<model>"
    created_at          REAL    NOT NULL
);
