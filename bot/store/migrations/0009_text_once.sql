-- Unread columns go (issue 13): content_md (Discord markdown of every body, ~3 ms an item to
-- make, selected by nothing: markdown is to be made at render time) and keywords (likewise
-- never read). Neither is indexed or used by a view or trigger. The space is reused by SQLite
-- as the archive grows; `VACUUM` (not run here: it cannot run in a transaction) returns it.
ALTER TABLE items DROP COLUMN content_md;
ALTER TABLE items DROP COLUMN keywords;
