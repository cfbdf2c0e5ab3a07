-- Related items (issue 16): how many items hold each indexed term, read from the index itself
-- (no copy to keep in step), so an item's most distinctive terms can be chosen by rarity.
CREATE VIRTUAL TABLE items_fts_vocab USING fts5vocab (items_fts, row);
