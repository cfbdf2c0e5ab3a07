"""Searching the archive and listing the newest items: /search and /latest."""
