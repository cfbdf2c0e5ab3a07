"""digestbot: newsletters (RSS/Atom) turned into Discord posts, digests, search and topic DMs."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/digestbot/digestbot"
USER_AGENT = f"digestbot/{__version__} (+{PROJECT_URL})"
