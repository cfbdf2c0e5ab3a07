"""Tokens exactly as the search index sees them: the store's tokenizer (bot.store.tokens),
named here for the search layer. The store owns it because its PostgreSQL index is built from
these very tokens."""

from __future__ import annotations

from bot.store.tokens import fold, tokens

__all__ = ["fold", "tokens"]
