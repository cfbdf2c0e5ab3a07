"""The prolog of a feed document (what comes before its first element), rebuilt so that no
parser ever sees an entity definition it could expand without bound.

feedparser's own `replace_doctype` finds `<!ENTITY` declarations with a line-anchored regex in
everything before the first `<\\w`, and hands those whose value holds no `&` to its loose parser,
which expands them on every reference (one 5 kB entity referenced 20,000 times is a 100 MB
string); its strict parser (expat) sees the internal subset itself. So feedparser is given
`rewrite_prolog` instead (see bot.ingest.parse): the prolog is scanned as XML (declaration,
comments, processing instructions, DOCTYPE with quoted literals and an internal subset) and
rebuilt as the XML declaration, then the document element. An entity whose value is one character
reference (`<!ENTITY nbsp "&#160;">`: old feeds use them, they cannot amplify) is kept; any other
refuses the document (EntityDeclarationError). What follows the first element declares nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# feedparser ends the prolog at its first `<\w` (bytes: [A-Za-z0-9_]); after the rewrite that
# is the document element, so nothing of the old prolog can reach its entity regex.
_ELEMENT_START = re.compile(rb"<[A-Za-z0-9_]")
_DECLARATION = re.compile(rb"<\?xml[ \t\r\n?]")
# A markup declaration's or start tag's end: '>' outside quoted literals. Possessive, so never
# backtracking.
_TAG_END = re.compile(rb"""(?:[^"'>]|"[^"]*"|'[^']*')*+>""")
_DOCTYPE_SKIP = re.compile(rb"""[^"'\[<>]*+""")
_SUBSET_SKIP = re.compile(rb"(?:[ \t\r\n]++|%[^;<>\s]{1,200};)*+")
_SAFE_ENTITY = re.compile(
    rb"""<!ENTITY[ \t\r\n]+([A-Za-z_][A-Za-z0-9_.-]{0,100})[ \t\r\n]+"""
    rb"""(?:"(&\#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});)"|'(&\#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});)')"""
    rb"""[ \t\r\n]*>"""
)


class EntityDeclarationError(Exception):
    """The document's DOCTYPE declares an entity that could expand (billion laughs and kin)."""


@dataclass(slots=True)
class Prolog:
    """What a scan of the prolog found. `element` is where the document element starts."""

    declaration: bytes = b""
    doctype: bytes = b""
    safe_entities: dict[bytes, bytes] = field(default_factory=dict)
    element: int = 0


def scan_prolog(data: bytes) -> Prolog:
    """Scan the prolog of an XML document (bytes in an ASCII-compatible encoding); raise
    EntityDeclarationError for an entity that is not a single character reference. Malformed
    pieces (an unclosed comment, text) are skipped up to the next `<`, as a forgiving reader does.
    """
    prolog = Prolog()
    size = len(data)
    pos = 0
    if _DECLARATION.match(data):
        end = data.find(b"?>", 5)
        if end != -1:
            prolog.declaration = data[: end + 2]
            pos = end + 2
    while pos < size:
        if data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = end + 3 if end != -1 else pos + 4
        elif data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            pos = end + 2 if end != -1 else pos + 2
        elif data.startswith(b"<!DOCTYPE", pos):
            doctype_end = _doctype(data, pos + 9, prolog)
            if doctype_end is None:
                pos += 9
            else:
                prolog.doctype = data[pos:doctype_end]
                pos = doctype_end
        elif _ELEMENT_START.match(data, pos):
            prolog.element = pos
            return prolog
        else:  # text, or markup that is not allowed here: skip to the next '<'
            found = data.find(b"<", pos + 1)
            pos = found if found != -1 else size
    prolog.element = size
    return prolog


def _doctype(data: bytes, pos: int, prolog: Prolog) -> int | None:
    """The end of a DOCTYPE whose name starts at `pos`; its internal subset's entity
    declarations are sorted into `prolog`. None when it is not a DOCTYPE that ends."""
    while True:
        pos = _DOCTYPE_SKIP.match(data, pos).end()  # type: ignore[union-attr]
        char = data[pos : pos + 1]
        if char in (b'"', b"'"):
            end = data.find(char, pos + 1)
            if end == -1:
                return None
            pos = end + 1
        elif char == b"[":
            subset_end = _subset(data, pos + 1, prolog)
            if subset_end is None:
                return None
            pos = subset_end
        elif char == b">":
            return pos + 1
        else:  # '<' or the end
            return None


def _subset(data: bytes, pos: int, prolog: Prolog) -> int | None:
    """Scan an internal subset from just after its '['; return the offset after its ']'."""
    size = len(data)
    while True:
        pos = _SUBSET_SKIP.match(data, pos).end()  # type: ignore[union-attr]
        if pos >= size:
            return None
        if data.startswith(b"]", pos):
            return pos + 1
        if data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            if end == -1:
                return None
            pos = end + 3
        elif data.startswith(b"<?", pos):
            end = data.find(b"?>", pos + 2)
            if end == -1:
                return None
            pos = end + 2
        elif data.startswith(b"<!", pos):
            match = _TAG_END.match(data, pos + 2)
            if match is None:
                return None
            declaration = data[pos : match.end()]
            safe = _SAFE_ENTITY.fullmatch(declaration)
            if safe:
                prolog.safe_entities[safe.group(1)] = safe.group(2) or safe.group(3)
            elif declaration.startswith(b"<!ENTITY"):
                raise EntityDeclarationError
            pos = match.end()
        else:
            return None


def rewrite_prolog(data: bytes) -> tuple[str | None, bytes, dict[str, str]]:
    """A drop-in for feedparser's `replace_doctype(data)`: (rss version or None, the document
    with its prolog rebuilt, the safe entities for the loose parser). Raises as scan_prolog."""
    prolog = scan_prolog(data)
    version = "rss091n" if b"netscape" in prolog.doctype.lower() else None
    entities = prolog.safe_entities
    subset = b"".join(
        b"<!ENTITY " + name + b' "' + value + b'">\n' for name, value in entities.items()
    )
    doctype = b"\n<!DOCTYPE feed [\n" + subset + b"]>" if subset else b""
    document = prolog.declaration + doctype + b"\n" + data[prolog.element :]
    return version, document, {n.decode("ascii"): v.decode("ascii") for n, v in entities.items()}


_ROOT_NAME = re.compile(rb"[A-Za-z0-9_][A-Za-z0-9_:.-]{0,100}")
_CLOSE_END = re.compile(rb"[ \t\r\n]*>")


def cut_off(data: bytes) -> bool:
    """True when the document element starts but the body ends before it closes: a transfer
    that stopped early, not a document to read. The root is closed when its start tag is
    self-closing or the body's last `</name` is a whole end tag (what follows does not matter).
    An XML declaration with no element after it was cut too. A body whose root is not found in
    ASCII (UTF-16, no markup) is not judged. Raises as scan_prolog does.
    """
    start = scan_prolog(data).element
    if start == len(data):  # no element at all: cut in an XML prolog, or not XML
        return data.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<?xml")
    name = _ROOT_NAME.match(data, start + 1)
    if name is None:
        return False
    rest = _TAG_END.match(data, name.end())
    if rest is None:  # the start tag itself is cut
        return True
    if data[rest.end() - 2 : rest.end()] == b"/>":
        return False
    close = data.rfind(b"</" + name.group(), rest.end())
    return close == -1 or _CLOSE_END.match(data, close + 2 + len(name.group())) is None
