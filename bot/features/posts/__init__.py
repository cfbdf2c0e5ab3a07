"""A post: one item as a channel, a DM, a search result or a preview shows it."""
