"""Running the bot for real: logging, health and metrics, doctor, backups, OPML, ops CLI."""
