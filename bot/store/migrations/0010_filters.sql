-- A subscription's filter (/feed filter): which of its feed's items are posted to the channel.
-- include / exclude: queries in the /search language; pattern: an RE2 regular expression on
-- the title and summary. NULL: that part is not set. Filtered items stay archived.

ALTER TABLE subscriptions ADD COLUMN filter_include TEXT;
ALTER TABLE subscriptions ADD COLUMN filter_exclude TEXT;
ALTER TABLE subscriptions ADD COLUMN filter_pattern TEXT;
