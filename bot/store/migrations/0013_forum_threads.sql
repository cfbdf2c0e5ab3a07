-- Where a subscription's posts go inside its channel. forum_tag_id: in a forum, the tag each
-- new post carries (NULL: none). open_threads: in a text channel, each post opens a thread
-- named after the item, for the discussion (1) or not (0).
ALTER TABLE subscriptions ADD COLUMN forum_tag_id INTEGER;
ALTER TABLE subscriptions ADD COLUMN open_threads INTEGER NOT NULL DEFAULT 0;
