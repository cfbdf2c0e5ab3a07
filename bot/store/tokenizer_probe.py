"""Ask the linked SQLite how FTS5's unicode61 tokenizer (remove_diacritics 2) cuts text.

bot.store.tokens uses it to learn, once per character, what the search index does with
it, so topic matching and query parsing cut text exactly as the index does. A private
in-memory database: it never touches the archive.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

_lock = threading.Lock()
_probe: sqlite3.Connection | None = None


def _connection() -> sqlite3.Connection:
    global _probe
    if _probe is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        conn.execute(
            "CREATE VIRTUAL TABLE probe USING fts5 (x, tokenize = 'unicode61 remove_diacritics 2')"
        )
        conn.execute("CREATE VIRTUAL TABLE probe_terms USING fts5vocab (probe, 'instance')")
        _probe = conn
    return _probe


def unicode61_terms(documents: Sequence[tuple[int, str]]) -> dict[int, list[str]]:
    """For each (id, text): the tokens unicode61 makes of the text, in order. Thread-safe."""
    with _lock:
        conn = _connection()
        found: dict[int, list[tuple[int, str]]] = {}
        conn.execute("BEGIN")
        try:
            conn.executemany("INSERT INTO probe (rowid, x) VALUES (?, ?)", documents)
            for term, doc, offset in conn.execute("SELECT term, doc, offset FROM probe_terms"):
                found.setdefault(int(doc), []).append((int(offset), str(term)))
        finally:
            conn.execute("ROLLBACK")
    return {doc: [t for _, t in sorted(terms)] for doc, terms in found.items()}
