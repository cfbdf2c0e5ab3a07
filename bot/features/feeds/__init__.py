"""Following feeds in channels: add, remove, list, status, mode, OPML."""
