-- Each item's text is stored once (issue 13). Before: the body three times (content_md, which
-- nothing read; content_text; and items_fts's own copy, CJK-spaced) plus unread keywords.
-- After: items.content_text holds the body as indexed (CJK-spaced by bot.store.cjk.space_cjk;
-- unspace_cjk undoes it for display), fts_title / fts_summary hold the spaced title and
-- summary only where spacing changed them (CJK), and items_fts is an external-content index
-- that reads its text through the items_fts_src view (snippets come from there). Triggers on
-- items keep the index in step on insert, edit, prune and feed delete (ON DELETE CASCADE
-- fires them too). content_md and keywords were neither indexed nor used by a view or
-- trigger. Freed pages are reused as the archive grows; `VACUUM` (it cannot run inside this
-- transaction) gives them back to the file system at once.

ALTER TABLE items ADD COLUMN fts_title TEXT;
ALTER TABLE items ADD COLUMN fts_summary TEXT;

-- The index already holds the spaced forms: take them from it before it goes.
UPDATE items SET
    content_text = f.text,
    fts_title = nullif(f.title, items.title),
    fts_summary = nullif(f.summary, items.summary)
FROM items_fts f WHERE f.rowid = items.id;

DROP TABLE items_fts;
ALTER TABLE items DROP COLUMN content_md;
ALTER TABLE items DROP COLUMN keywords;

CREATE VIEW items_fts_src AS
    SELECT id, coalesce(fts_title, title) AS title, coalesce(fts_summary, summary) AS summary,
           content_text AS text
    FROM items;

CREATE VIRTUAL TABLE items_fts USING fts5 (
    title, summary, text,
    content = 'items_fts_src', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO items_fts (items_fts) VALUES ('rebuild');

-- An external-content index must be told the OLD values to forget a row.
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, title, summary, text) VALUES (
        new.id, coalesce(new.fts_title, new.title), coalesce(new.fts_summary, new.summary),
        new.content_text);
END;

CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, summary, text) VALUES (
        'delete', old.id, coalesce(old.fts_title, old.title),
        coalesce(old.fts_summary, old.summary), old.content_text);
END;

CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, content_text, fts_title,
    fts_summary ON items
WHEN old.title IS NOT new.title OR old.summary IS NOT new.summary
    OR old.content_text IS NOT new.content_text OR old.fts_title IS NOT new.fts_title
    OR old.fts_summary IS NOT new.fts_summary
BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, summary, text) VALUES (
        'delete', old.id, coalesce(old.fts_title, old.title),
        coalesce(old.fts_summary, old.summary), old.content_text);
    INSERT INTO items_fts (rowid, title, summary, text) VALUES (
        new.id, coalesce(new.fts_title, new.title), coalesce(new.fts_summary, new.summary),
        new.content_text);
END;
