"""Delivery: the durable outbox, the senders, and the adapters that turn a Message into
discord.py calls or terminal text."""
