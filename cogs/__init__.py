"""Slash-command cogs: thin adapters from interactions to services."""
