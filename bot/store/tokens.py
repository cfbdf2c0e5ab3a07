"""Tokens exactly as the search index sees them (the SQLite index and the PostgreSQL one).

The archive is indexed by FTS5's `unicode61` tokenizer with `remove_diacritics 2`, over text that
went through `space_cjk` first. Topic matching (the percolator) and query parsing must cut text
into the very same tokens, or a followed topic and `/search` would disagree.

unicode61 decides per code point: a separator, or a token character folded to lower case without
diacritics (possibly to nothing, for combining marks). Its tables come from the Unicode version
compiled into the SQLite library, which is older than Python's `unicodedata` (they disagree on
thousands of code points). So instead of re-deriving the rules, every non-ASCII character is
classified once by the linked SQLite itself (a private in-memory FTS5 table, asked in batches)
and remembered; ASCII follows the fixed rule (letters and digits are token characters, A-Z fold
to a-z, everything else separates). Text is then tokenized with one `str.translate`.
"""

from __future__ import annotations

import re
import sqlite3
import threading

from bot.store.cjk import has_cjk

# The translate table of non-ASCII characters learned so far: separator → " ", token character →
# its fold ("" for a dropped combining mark); a CJK character (as `space_cjk` sees it) also gets
# spaces around it, so `space_cjk` needs no separate pass.
_table: dict[int, str] = {}
# ASCII, done on UTF-8 bytes (so non-ASCII bytes pass untouched): letters and digits are token
# characters, A-Z fold to a-z, every other ASCII byte separates.
_ASCII_BYTES = bytes(
    b if b >= 0x80 else ord(chr(b).lower()) if chr(b).isalnum() else 0x20 for b in range(256)
)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# Many distinct non-ASCII characters means a non-Latin script: one translate pass beats many runs.
_MANY_DISTINCT = 12
_lock = threading.Lock()
_probe: sqlite3.Connection | None = None  # in memory: it never touches the archive


def _learn(chars: set[str]) -> None:
    """Ask SQLite how unicode61 treats each of `chars` and remember it in the translate table.

    Each character c is indexed as the document "a{c}a": two tokens "a", "a" mean c separates;
    one token "a{f}a" means c is a token character folded to f (f may be empty).
    """
    global _probe
    with _lock:
        todo = sorted(ord(c) for c in chars if ord(c) not in _table)
        # A lone surrogate cannot even be stored: it separates.
        rows = [(code + 1, f"a{chr(code)}a") for code in todo if not 0xD800 <= code <= 0xDFFF]
        if _probe is None:
            _probe = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            _probe.execute(
                "CREATE VIRTUAL TABLE probe USING fts5 "
                "(x, tokenize = 'unicode61 remove_diacritics 2')"
            )
            _probe.execute("CREATE VIRTUAL TABLE probe_terms USING fts5vocab (probe, 'instance')")
        terms: dict[int, list[str]] = {}
        _probe.execute("BEGIN")
        try:
            _probe.executemany("INSERT INTO probe (rowid, x) VALUES (?, ?)", rows)
            for term, doc in _probe.execute("SELECT term, doc FROM probe_terms"):
                terms.setdefault(int(doc) - 1, []).append(str(term))
        finally:
            _probe.execute("ROLLBACK")
        for code in todo:
            found = terms.get(code, [])
            one = len(found) == 1 and found[0].startswith("a") and found[0].endswith("a")
            folded = found[0][1:-1] if one else " "
            _table[code] = f" {folded} " if has_cjk(chr(code)) else folded


def fold(text: str) -> str:
    """`space_cjk(text)` with each character folded as unicode61 folds it and every separator
    turned into a space: the tokens are then exactly `fold(text).split()`."""
    if not text.isascii():
        wide = [c for c in set(text) if c >= "\x80"]
        unknown = {c for c in wide if ord(c) not in _table}
        if unknown:
            _learn(unknown)
        if len(wide) > _MANY_DISTINCT:  # mostly non-ASCII text (CJK): one pass is fastest
            text = text.translate(_table)
        else:  # mostly ASCII with a few accents or quotes: touch only the non-ASCII runs
            text = _NON_ASCII_RUN.sub(lambda run: run.group().translate(_table), text)
    return text.encode("utf-8").translate(_ASCII_BYTES).decode("utf-8")


def tokens(text: str) -> list[str]:
    """The tokens FTS5 (unicode61, remove_diacritics 2) produces for `space_cjk(text)`."""
    return fold(text).split()
