"""Following topics: a saved search that DMs a member when a new item matches."""
