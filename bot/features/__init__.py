"""One folder per user-facing capability: its service and its rendering to a Message."""
