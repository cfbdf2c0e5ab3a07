"""Scheduled digests: one message per day or week instead of a post per item."""
