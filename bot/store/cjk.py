"""CJK spacing: FTS5's unicode61 tokenizer keeps a run of kana/kanji as one token, so a word
inside a run (自動更新 in 500円で自動更新します) could never match. Both the indexed text and
every query are passed through `space_cjk`, which makes each CJK character its own token; a
CJK word then becomes a phrase of single characters and is found wherever it occurs.
"""

from __future__ import annotations

import functools
import re

# Han (CJK unified + ext A + compatibility), Hiragana, Katakana (+ phonetic ext, half-width),
# Hangul syllables, CJK symbols are left alone (they are separators for unicode61 anyway).
_BMP_CJK = (
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\uac00-\ud7af"
)
_CJK_CHAR = re.compile(f"([{_BMP_CJK}\U00020000-\U0002fa1f])")


def space_cjk(text: str) -> str:
    """Surround every CJK character with spaces so each is one unicode61 token."""
    if not text or text.isascii():
        return text
    return _CJK_CHAR.sub(r" \1 ", text)


def has_cjk(text: str) -> bool:
    return not text.isascii() and _CJK_CHAR.search(text) is not None


def unspace_cjk(text: str, markers: str = "") -> str:
    """The exact inverse of `space_cjk`: each CJK character gives back the one space it was
    given on each side, so the feed's own spacing (``最近、``, ``AI の``, ``蒸留（distillation）``)
    comes back as written. Also exact on a fragment FTS5 cut at token boundaries (a space cut
    off at its edge is simply absent), and `markers` (snippet highlight characters) may sit
    between a character and its spaces. Spacing is undone before any whitespace is collapsed,
    or a space of the feed's could be taken for one `space_cjk` added.
    """
    if not text or text.isascii():
        return text
    return _spaced_pattern(markers).sub(r"\1", text)


@functools.cache
def _spaced_pattern(markers: str) -> re.Pattern[str]:
    around = f"[{re.escape(markers)}]*" if markers else ""
    return re.compile(f" ?({around}{_CJK_CHAR.pattern}{around}) ?")
