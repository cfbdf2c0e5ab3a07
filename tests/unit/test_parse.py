"""The parse stage: feedparser on bytes only, stable ids, fields, hostile documents."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bot.ingest.errors import NotAFeedError, ParseError
from bot.ingest.parse import parse_duration, parse_feed
from bot.text.enrich import enrich_entries
from tests.feedserver import atom_feed, rdf_feed, rss_feed

HEADERS = {"Content-Type": "application/rss+xml"}


def test_rss2_fields() -> None:
    body = rss_feed(
        [
            {
                "title": "Episode <b>one</b> &amp; more",
                "link": "/p/one",
                "guid": "ep-1",
                "description": "Subtitle here",
                "content": "<p>Body</p>",
                "pubDate": "Tue, 02 Jan 2024 10:00:00 +0200",
                "author": "ann@example.com (Ann)",
                "enclosure": {"url": "/audio/1.mp3", "type": "audio/mpeg", "length": "1234"},
                "duration": "01:02:03",
                "image": "https://cdn.example.com/1.png",
            }
        ],
        title="Pod",
        link="https://pod.example.com/",
        language="ja",
    ).encode()
    feed = parse_feed(body, HEADERS, "https://pod.example.com/feed")
    assert feed.title == "Pod"
    assert feed.language == "ja"
    (entry,) = feed.entries
    assert entry.stable_id == "ep-1"
    assert entry.title == "Episode one & more"
    assert entry.url == "https://pod.example.com/p/one"
    assert entry.published == datetime(2024, 1, 2, 8, 0, tzinfo=UTC)
    assert entry.content_html == "<p>Body</p>"
    assert entry.description_html == "Subtitle here"
    assert entry.enclosure is not None
    assert entry.enclosure.url == "https://pod.example.com/audio/1.mp3"
    assert entry.enclosure.type == "audio/mpeg"
    assert entry.enclosure.length == 1234
    assert entry.duration_s == 3723
    assert entry.image_url == "https://cdn.example.com/1.png"
    assert entry.language == "ja"


def test_atom_and_rdf() -> None:
    atom = atom_feed(
        [
            {
                "title": "A",
                "link": "https://a.example.com/1",
                "id": "urn:a:1",
                "published": "2024-03-01T12:00:00Z",
                "content": "<p>Atom body</p>",
                "author": "Bea",
            }
        ],
        subtitle="Atom sub",
    ).encode()
    feed = parse_feed(atom, {"Content-Type": "application/atom+xml"}, None)
    (entry,) = feed.entries
    assert (entry.stable_id, entry.author, entry.content_html) == (
        "urn:a:1",
        "Bea",
        "<p>Atom body</p>",
    )
    assert entry.published == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert feed.description == "Atom sub"

    rdf = rdf_feed(
        [
            {
                "title": "R",
                "link": "https://r.example.com/1",
                "description": "d",
                "date": "2024-01-01",
            }
        ]
    ).encode()
    (rdf_entry,) = parse_feed(rdf, {}, None).entries
    assert rdf_entry.url == "https://r.example.com/1"
    assert rdf_entry.stable_id == "https://r.example.com/1"


def test_stable_id_falls_back_to_link_then_content_hash() -> None:
    body = rss_feed(
        [
            {"title": "linked", "link": "https://e.example.com/x"},
            {"title": "bare", "description": "only text"},
        ]
    ).encode()
    first, second = parse_feed(body, HEADERS, None).entries
    assert first.stable_id == "https://e.example.com/x"
    assert second.stable_id.startswith("sha256:")
    # The hash is stable across parses.
    assert parse_feed(body, HEADERS, None).entries[1].stable_id == second.stable_id


def test_repeated_guid_is_disambiguated_not_merged() -> None:
    body = rss_feed(
        [
            {"title": "one", "guid": "same", "link": "https://e.example.com/1"},
            {"title": "two", "guid": "same", "link": "https://e.example.com/2"},
            {"title": "three", "guid": "same", "link": "https://e.example.com/3"},
        ]
    ).encode()
    ids = [e.stable_id for e in parse_feed(body, HEADERS, None).entries]
    assert len(set(ids)) == 3
    assert ids[0] == "same"
    assert ids == [e.stable_id for e in parse_feed(body, HEADERS, None).entries]


def test_missing_date_is_none_so_store_uses_first_seen() -> None:
    (entry,) = parse_feed(rss_feed([{"title": "t", "guid": "g"}]).encode(), HEADERS, None).entries
    assert entry.published is None


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("3600", 3600),
        ("1:00", 60),
        ("01:02:03", 3723),
        ("", None),
        ("abc", None),
        (None, None),
        ("1e999", None),
        ("inf", None),
        ("nan", None),
        ("-5", None),
        ("9" * 30, None),
    ],
)
def test_duration_formats(raw: str | None, seconds: int | None) -> None:
    assert parse_duration(raw) == seconds


def test_hostile_enclosure_length_is_dropped_not_kept() -> None:
    """A length SQLite cannot store (or a negative one) is unknown, not a crash at commit."""
    for raw in ("9" * 30, "-1"):
        body = rss_feed(
            [{"guid": "g", "enclosure": {"url": "https://a.example/1.mp3", "length": raw}}]
        ).encode()
        (entry,) = parse_feed(body, HEADERS, None).entries
        assert entry.enclosure is not None and entry.enclosure.length is None


def test_a_malformed_link_drops_that_link_not_the_feed() -> None:
    """urllib raises on some links (an unclosed IPv6 bracket, a bad port): that one entry's
    link is unknown; the feed and its other entries still parse."""
    body = rss_feed(
        [
            {"title": "bad", "guid": "b", "link": "http://[::1/p"},
            {"title": "port", "guid": "p", "link": "http://example.com:99999999/p"},
            {"title": "good", "guid": "g", "link": "https://example.com/p"},
        ]
    ).encode()
    entries = parse_feed(body, HEADERS, "https://example.com/feed").entries
    assert [(e.stable_id, e.url) for e in entries] == [
        ("b", None),
        ("p", None),
        ("g", "https://example.com/p"),
    ]


def test_billion_laughs_is_refused() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<rss version="2.0"><channel><title>&c;</title></channel></rss>'
    )
    with pytest.raises(ParseError, match="entities"):
        parse_feed(body, HEADERS, None)


def _padded(subset: str, refs: str) -> bytes:
    """A 70 KB comment first (past any check of the first 64 KiB), then the DOCTYPE."""
    return (
        '<?xml version="1.0"?>\n<!--' + "x" * 70_000 + "-->\n"
        f"<!DOCTYPE rss {subset}>\n"
        '<rss version="2.0"><channel><title>Padded</title>'
        f"<item><title>one</title><guid>1</guid><description>{refs}</description></item>"
        "<item><title>two</title><guid>2</guid></item></channel></rss>"
    ).encode()


# name → what parse_feed must do: refuse the feed, or read both of its items.
HOSTILE_PROLOGS = {
    # feedparser's loose parser expands an entity with a plain value on every reference:
    # 40,000 references to 10 kB would be 400 MB.
    "linear": _padded('[\n<!ENTITY a "' + "a" * 10_000 + '">\n]', "&a;" * 40_000),
    "billion-laughs": _padded(
        "["
        + '<!ENTITY a0 "aaaaaaaaaa">'
        + "".join(f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10))
        + "]",
        "&a9;",
    ),
    # No internal subset at all: the declaration hides in a comment, where feedparser's
    # line-anchored regex still finds it and pairs it with the (lone) DOCTYPE.
    "comment-smuggled": (
        b'<?xml version="1.0"?>\n<!--\n<!ENTITY a "' + b"a" * 10_000 + b'">\n-->\n'
        b'<!DOCTYPE rss SYSTEM "x.dtd">\n<rss version="2.0"><channel><title>S</title>'
        b"<item><title>one</title><guid>1</guid><description>"
        + b"&a;"
        * 40_000
        + b"</description></item><item><title>two</title><guid>2</guid></item>"
        b"</channel></rss>"
    ),
}

_UNDER_LIMIT = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (512 * 2**20, 512 * 2**20))
from bot.ingest.errors import ParseError
from bot.ingest.parse import parse_feed
try:
    feed = parse_feed(sys.stdin.buffer.read(), {}, None)
except ParseError as exc:
    print(json.dumps(str(exc)))
else:
    print(json.dumps([[e.title, len(e.description_html)] for e in feed.entries]))
"""
REFUSED = {"linear", "billion-laughs"}


@pytest.mark.parametrize("name", sorted(HOSTILE_PROLOGS))
def test_entity_expansion_is_impossible_under_a_memory_limit(name: str) -> None:
    """Run in a child limited to 512 MiB of address space: a feed that declares expanding
    entities is refused, wherever its DOCTYPE sits; a declaration inside a comment declares
    nothing (both items parse, no reference grows)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _UNDER_LIMIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = child.communicate(HOSTILE_PROLOGS[name], timeout=50)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 0, err.decode()[-2000:]
    answer = json.loads(out)
    if name in REFUSED:
        assert "declares its own XML entities" in answer
    else:
        assert [title for title, _ in answer] == ["one", "two"]
        assert all(length < 200_000 for _, length in answer)


def test_cdata_that_mentions_entity_declarations_is_just_text() -> None:
    body = rss_feed(
        [
            {
                "title": "XML tips",
                "guid": "1",
                "extra": '<description><![CDATA[Write <!ENTITY nbsp "&#160;"> in the DTD]]>'
                "</description>",
            },
            {"title": "More", "guid": "2"},
        ]
    ).encode()
    feed = parse_feed(body, HEADERS, None)
    assert [e.title for e in feed.entries] == ["XML tips", "More"]
    assert "<!ENTITY nbsp" in feed.entries[0].description_html


def test_character_reference_entities_still_work() -> None:
    """Old feeds declare `&nbsp;` as a character reference: that cannot amplify, so it stays."""
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY nbsp "&#160;">\n]>\n'
        b'<rss version="2.0"><channel><title>a&nbsp;b</title>'
        b"<item><title>x</title><guid>1</guid></item></channel></rss>"
    )
    feed = parse_feed(body, HEADERS, None)
    assert feed.title == "a b"  # &nbsp; was defined (a space once whitespace is collapsed)
    assert feed.warning is None


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html><html><head><title>Blog</title></head><body>hi</body></html>"
    with pytest.raises(NotAFeedError, match="web page"):
        parse_feed(page, {"Content-Type": "text/html"}, "https://blog.example.com/")


def test_junk_is_a_clear_error() -> None:
    with pytest.raises(ParseError, match="does not serve a readable"):
        parse_feed(b"\x00\x01 this is not xml at all {", {}, None)


def test_malformed_feed_still_yields_its_items() -> None:
    good = rss_feed([{"title": "kept", "guid": "k1"}, {"title": "also", "guid": "k2"}])
    # Malformed inside, but whole: the root element closes (a body that ends before it does is
    # a cut-off transfer, refused: see test_a_cut_off_body_is_refused).
    broken = good.replace("</channel></rss>", "<item><title>unclosed & bad</title></channel></rss>")
    feed = parse_feed(broken.encode(), HEADERS, None)
    assert [e.title for e in feed.entries][:2] == ["kept", "also"]
    assert feed.warning is not None


def test_windows_1252_and_shift_jis() -> None:
    cp1252 = rss_feed([{"title": "Café – “quotes”", "guid": "c"}], encoding="windows-1252")
    (entry,) = parse_feed(cp1252.encode("cp1252"), HEADERS, None).entries
    assert entry.title == "Café – “quotes”"
    sjis = rss_feed([{"title": "自動更新のお知らせ", "guid": "j"}], encoding="shift_jis")
    (jentry,) = parse_feed(
        sjis.encode("shift_jis"), {"Content-Type": "application/xml"}, None
    ).entries
    assert jentry.title == "自動更新のお知らせ"


def test_five_thousand_items() -> None:
    items = [{"title": f"Item {n}", "guid": f"g{n}", "description": "x" * 50} for n in range(5000)]
    feed = parse_feed(rss_feed(items).encode(), HEADERS, None)
    assert len(feed.entries) == 5000
    assert len({e.stable_id for e in feed.entries}) == 5000


def test_titles_lose_control_characters_and_bidi_overrides() -> None:
    body = rss_feed([{"title": "Bell\x07 &#27;[31mred &#8238;evil", "guid": "c"}])
    (entry,) = parse_feed(body.encode(), HEADERS, None).entries
    assert entry.title == "Bell [31mred evil"


def test_script_and_style_text_never_reach_titles_names_or_descriptions() -> None:
    body = rss_feed(
        [
            {
                "title": "safe<script>alert(1)</script> x",
                "guid": "1",
                "author": "Ann<style>b{}</style>",
            }
        ],
        title="Feed<script>steal()</script>",
        description="About<style>p{color:red}</style> things",
    ).encode()
    feed = parse_feed(body, HEADERS, None)
    (entry,) = feed.entries
    assert (entry.title, entry.author) == ("safe x", "Ann")
    assert (feed.title, feed.description) == ("Feed", "About things")


def test_comments_and_quoted_brackets_leave_no_markup_in_titles() -> None:
    body = rss_feed(
        [
            {"title": "safe<!-- a > b --> after", "guid": "1"},
            {"title": 'hot <img alt="dog>"> dog', "guid": "2"},
            {"title": "line<br>break &amp; more", "guid": "3"},
        ]
    ).encode()
    titles = [e.title for e in parse_feed(body, HEADERS, None).entries]
    assert titles == ["safe after", "hot dog", "line break & more"]


ATOM_HEAD = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"'


def test_atom_plain_text_title_keeps_its_literal_markup() -> None:
    body = (
        ATOM_HEAD + '><title type="text">All about &lt;blink&gt;</title>'
        '<entry><id>1</id><title type="text">Use &lt;blink&gt; &amp;amp; &lt;b&gt;</title>'
        "<author><name>Ann &lt;3</name></author></entry>"
        '<entry><id>2</id><title type="html">Use &lt;b&gt;bold&lt;/b&gt;</title></entry></feed>'
    ).encode()
    feed = parse_feed(body, {"Content-Type": "application/atom+xml"}, None)
    assert feed.title == "All about <blink>"
    first, second = feed.entries
    assert (first.title, first.author) == ("Use <blink> &amp; <b>", "Ann <3")
    assert second.title == "Use bold"


def test_relative_links_resolve_against_xml_base() -> None:
    body = (
        ATOM_HEAD + ' xml:base="https://blog.example.com/2024/"><title>B</title>'
        '<link href="https://blog.example.com/"/>'
        '<entry><id>1</id><title>content base</title><link href="https://blog.example.com/a"/>'
        '<content type="html" xml:base="https://cdn.example.net/posts/1/">'
        '&lt;p&gt;&lt;a href="notes.html"&gt;notes&lt;/a&gt; &lt;img src="pic.png"&gt;&lt;/p&gt;'
        "</content></entry>"
        '<entry xml:base="/archive/"><id>2</id><title>relative entry base</title>'
        '<summary type="html">&lt;a href="old.html"&gt;old&lt;/a&gt; &lt;img src="old.png"&gt;'
        "</summary></entry>"
        "</feed>"
    ).encode()
    feed = parse_feed(body, {"Content-Type": "application/atom+xml"}, "https://feeds.example.org/x")
    first, second = feed.entries
    assert first.html_base == "https://cdn.example.net/posts/1/"
    # A relative xml:base nests inside the feed's own one.
    assert second.html_base == "https://blog.example.com/archive/"
    one, two = enrich_entries(feed.entries, feed_language=None, base_url=feed.site_url)
    # The archive keeps the text and the lead image (links live in the text no longer).
    assert one.image_url == "https://cdn.example.net/posts/1/pic.png"
    assert two.image_url == "https://blog.example.com/archive/old.png"


def test_without_xml_base_links_resolve_as_before() -> None:
    """Content-Location is not xml:base: the item's own link stays the base."""
    body = rss_feed(
        [
            {
                "title": "t",
                "guid": "1",
                "link": "https://e.example.com/p/1/",
                "content": '<a href="x">x</a> <img src="x.png">',
            }
        ]
    ).encode()
    headers = {**HEADERS, "Content-Location": "https://e.example.com/feed.xml"}
    (entry,) = parse_feed(body, headers, "https://e.example.com/feed.xml").entries
    assert entry.html_base is None
    (item,) = enrich_entries([entry], feed_language=None, base_url=None)
    assert item.image_url == "https://e.example.com/p/1/x.png"


def test_titles_names_and_descriptions_are_capped_at_a_word_boundary() -> None:
    huge = "word " * 210_000  # a 1 MiB title
    body = rss_feed(
        [{"title": huge, "guid": "1", "author": "Ann " * 1000}],
        title="Feed " * 1000,
        description="About " * 1000,
    ).encode()
    feed = parse_feed(body, HEADERS, None)
    (entry,) = feed.entries
    for text, limit in (
        (entry.title, 300),
        (entry.author or "", 200),
        (feed.title, 200),
        (feed.description or "", 1000),
    ):
        assert limit - 10 <= len(text) <= limit
        assert text.endswith("…")
        # Cut between words, never inside one.
        assert text[:-1].split(" ")[-1] in ("word", "Ann", "Feed", "About")
    assert (
        parse_feed(rss_feed([{"title": "short one", "guid": "s"}]).encode(), HEADERS, None)
        .entries[0]
        .title
        == "short one"
    )


def test_a_cut_off_body_is_refused() -> None:
    whole = rss_feed([{"title": f"t{n}", "guid": f"g{n}"} for n in range(3)]).encode().rstrip()
    for cut in (10, 60, len(whole) // 2, len(whole) - 3, len(whole) - 1):
        with pytest.raises(ParseError, match=f"cut off after {cut:,} bytes"):
            parse_feed(whole[:cut], HEADERS, None)
    # Whole documents: the root closes (then a comment or stray junk), or closes itself.
    assert len(parse_feed(whole + b"\n<!-- cached -->\n<script>x</script>", HEADERS, None).entries)
    atom_whole = atom_feed().encode()
    assert parse_feed(atom_whole, HEADERS, None).title
    parse_feed(b'<?xml version="1.0"?><rss version="2.0"/>', HEADERS, None)
    with pytest.raises(ParseError, match="cut off"):
        parse_feed(atom_whole[: atom_whole.rindex(b"</feed>") + 4], HEADERS, None)


ATOM_CANONICAL = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Letter</title>
<entry><id>tag:letter,2024:1</id><title>Chip rules</title>
<link href="https://letter.example/p/chip-rules?utm_source=rss"/>
<link rel="canonical" href="/2024/chip-rules/"/>
</entry>
<entry><id>tag:letter,2024:2</id><title>Unsafe</title>
<link href="https://letter.example/p/two"/>
<link rel="canonical" href="javascript:alert(1)"/>
</entry></feed>"""

RSS_CANONICAL = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>T</title>
<link>https://rss.example/</link>
<item><title>A</title><link>https://rss.example/a</link>
<atom:link rel="canonical" href="https://news.example/a"/></item>
<item><guid>g-b</guid><title>B</title><link>https://rss.example/b</link></item>
</channel></rss>"""


def test_an_atom_entrys_rel_canonical_is_read_without_changing_its_id_or_link() -> None:
    """rel=canonical goes through the URL rules of any link (resolved against xml:base or the
    feed's address; a javascript: one is dropped); the stable id and the posted link stay."""
    parsed = parse_feed(ATOM_CANONICAL, {}, "https://www.news.example/feed.xml")
    first, unsafe = parsed.entries
    assert first.canonical_url == "https://www.news.example/2024/chip-rules/"
    assert first.stable_id == "tag:letter,2024:1"
    assert first.url == "https://letter.example/p/chip-rules?utm_source=rss"
    assert unsafe.canonical_url is None and unsafe.url == "https://letter.example/p/two"


def test_an_rss_items_atom_link_rel_canonical_is_read() -> None:
    parsed = parse_feed(RSS_CANONICAL, HEADERS, "https://rss.example/feed")
    with_canonical, without = parsed.entries
    assert with_canonical.canonical_url == "https://news.example/a"
    assert with_canonical.stable_id == "https://rss.example/a"  # no guid: the link, not canonical
    assert without.canonical_url is None
