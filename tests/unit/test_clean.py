"""clean_html: hostile feed HTML → plain text and a lead image, furniture removed."""

from __future__ import annotations

import re

import pytest

from bot.safe import safe_url
from bot.text.clean import CleanContent, clean_html

BASE = "https://news.example.com/p/post"

# A trimmed Substack post with each kind of furniture the real feed carries.
SUBSTACK_POST = """
<h5>Edit Jun. 11: the company <a href="https://x.example/status/1">changed</a> course.</h5>
<p>Today the lab <a href="https://lab.example/news">released</a> a model.<a class="footnote-anchor"
 data-component-name="FootnoteAnchorToDOM" id="footnote-anchor-1" href="#footnote-1"
 target="_self">1</a> It is fast.</p>
<p class="button-wrapper" data-component-name="ButtonCreateButton"><a class="button primary"
 href="https://news.example.com/p/post?utm_source=substack&action=share"><span>Share</span></a></p>
<div class="captioned-image-container"><figure><a class="image-link image2 is-viewable-img"
 href="https://substackcdn.com/image/fetch/full.png" data-component-name="Image2ToDOM">
 <div class="image2-inset"><picture><source type="image/webp"
 srcset="https://substackcdn.com/image/fetch/w_424.webp 424w"><img
 src="https://substackcdn.com/image/fetch/w_1456.png" width="1456" height="800"
 alt="Benchmark table"></picture><div class="image-link-expand"><div class="pencraft">
 <button class="pencraft icon-container restack-image"><svg width="20" height="20">
 <title>restack</title><path d="M2 7"></path></svg></button><button class="icon-container
 view-image"><svg><polyline points="15 3 21 3"></polyline></svg></button></div></div></div></a>
 <figcaption class="image-caption">Scores on the usual benchmarks.</figcaption></figure></div>
<div class="subscription-widget-wrap-editor" data-component-name="SubscribeWidgetToDOM">
 <div class="subscription-widget show-subscribe"><div class="preamble"><p class="cta-caption">
 Example News is a reader-supported publication. To receive new posts and support my work,
 consider becoming a subscriber.</p></div><form class="subscription-widget-subscribe"><input
 type="email" class="email-input" name="email" placeholder="Type your email…"><input
 type="submit" class="button primary" value="Subscribe"></form></div></div>
<p class="button-wrapper"><a class="button primary" href="https://news.example.com/subscribe?">
<span>Subscribe now</span></a></p>
<p class="button-wrapper"><a class="button primary" href="https://news.example.com/p/post/comments">
<span>Leave a comment</span></a></p>
<p>Thanks for reading Example News! Subscribe for free to receive new posts.</p>
<p>This post is public so feel free to share it.</p>
<div class="footnote" data-component-name="FootnoteToDOM"><a class="footnote-number"
 href="#footnote-anchor-1" id="footnote-1">1</a><div class="footnote-content"><p>Priced at
 $10 per million tokens.</p></div></div>
"""


def clean(html: str, base: str | None = BASE) -> CleanContent:
    return clean_html(html, base)


def test_substack_furniture_is_removed_and_story_kept() -> None:
    result = clean(SUBSTACK_POST)
    for furniture in (
        "Share",
        "Subscribe",
        "subscriber",
        "reader-supported",
        "Leave a comment",
        "Type your email",
        "restack",
        "feel free to share",
        "Thanks for reading",
    ):
        assert furniture not in result.text, furniture
    assert "Today the lab released a model. It is fast." in result.text
    assert "Scores on the usual benchmarks." in result.text
    assert "[1] Priced at $10 per million tokens." in result.text
    assert result.image_url == "https://substackcdn.com/image/fetch/w_1456.png"


def test_reader_supported_sentence_is_cut_out_of_a_run_on_paragraph() -> None:
    html = (
        "<p>The question is still at stake.Example AI is a reader-supported publication. To "
        "receive new posts and support my work, consider becoming a subscriber.With this "
        "complexity, I wanted to distill my beliefs.</p>"
    )
    result = clean(html)
    assert "reader-supported" not in result.text
    assert "subscriber" not in result.text
    assert "The question is still at stake." in result.text
    assert "With this complexity, I wanted to distill my beliefs." in result.text


def test_a_real_button_that_is_not_furniture_keeps_its_text() -> None:
    html = (
        '<p class="button-wrapper"><a class="button primary" '
        'href="https://example.org/report.pdf"><span>Read the full report</span></a></p>'
    )
    assert clean(html).text == "Read the full report"


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert('x')</script>",
        "<style>p { color: red }</style>",
        "<iframe src='https://evil.example/frame'>fallback text</iframe>",
        "<svg><title>icon</title><text>svg text</text></svg>",
        "<object data='x.swf'>object fallback</object>",
        "<form><input value='form value'><button>Send</button></form>",
        "<noscript>enable js</noscript>",
        "<template><p>template text</p></template>",
        "<div hidden>hidden text</div>",
        "<div style='display: none'>invisible text</div>",
        "<span aria-hidden='true'>aria text</span>",
    ],
)
def test_active_and_hidden_content_is_dropped(html: str) -> None:
    result = clean(f"<p>Before.</p>{html}<p>After.</p>")
    assert result.text == "Before.\n\nAfter."


def test_unclosed_embed_and_source_do_not_swallow_following_text() -> None:
    # libxml2 does not know these are void and nests what follows inside them.
    html = "<p>One.</p><embed src='movie.swf'><p>Two.</p><picture><source srcset='a.webp'>"
    html += "<img src='/img/lead.jpg' width='800'></picture><p>Three.</p>"
    result = clean(html)
    assert result.text == "One.\n\nTwo.\n\nThree."
    assert result.image_url == "https://news.example.com/img/lead.jpg"


def test_youtube_embed_leaves_a_line_the_frame_does_not() -> None:
    html = (
        '<div class="youtube-wrap"><div class="youtube-inner"><iframe '
        'src="https://www.youtube-nocookie.com/embed/XpyqKn_1ZP4?rel=0"></iframe></div></div>'
    )
    assert clean(html).text == "YouTube video"
    assert clean(html.replace("youtube-nocookie.com", "evil.example")).text == ""


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "&#106;avascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "#section-2",
    ],
)
def test_unsafe_links_are_dropped_but_keep_their_text(href: str) -> None:
    result = clean(f'<p>Click <a href="{href}">here</a> now.</p>')
    assert result.text == "Click here now."
    assert result.image_url is None


def test_relative_images_resolve_against_the_base_and_links_keep_their_text() -> None:
    html = '<p>See <a href="/p/other">the other post</a>.</p><img src="../img/a.png" width="600">'
    result = clean(html)
    assert result.text == "See the other post."
    assert result.image_url == "https://news.example.com/img/a.png"
    assert clean(html, base=None) == CleanContent("See the other post.", None)


def test_inline_markup_keeps_only_its_text() -> None:
    html = (
        '<p>Read <a href="https://a.example/x_(y)">the <b>paper</b></a> or '
        '<a href="mailto:editor@example.com">write</a> <code>pip</code>.</p>'
    )
    assert clean(html).text == "Read the paper or write pip."


def test_tracking_pixels_and_icons_are_never_the_image() -> None:
    html = (
        '<img src="https://pixel.wp.com/g.gif?x=1">'
        '<img src="https://cdn.example/t.gif" width="1" height="1">'
        '<img src="https://feeds.feedburner.com/~r/x/~4/abc">'
        '<img src="https://cdn.example/open.gif?u=1">'
        '<img src="https://cdn.example/smile.png" class="wp-smiley emoji">'
        '<img src="data:image/png;base64,AAAA" width="500">'
        '<img src="https://cdn.example/logo.svg" width="300">'
        "<p>Body.</p>"
        '<img src="https://cdn.example/photo.jpg" width="1200" height="800">'
    )
    result = clean(html)
    assert result.image_url == "https://cdn.example/photo.jpg"
    assert result.text == "Body."


def test_text_keeps_escaped_markup_as_literal_text() -> None:
    """Text is plain: what the feed escaped stays visible (the renderer escapes it later)."""
    html = "<p>&lt;script&gt;alert(1)&lt;/script&gt; hi &lt;@123456&gt; *not bold*</p>"
    assert clean(html).text == "<script>alert(1)</script> hi <@123456> *not bold*"


def test_structure_headings_lists_quotes_code() -> None:
    html = (
        "<h2>Big <strong>news</strong></h2>"
        "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>"
        "<ol start='3'><li>three</li><li>four</li></ol>"
        "<blockquote><p>Quoted.</p><p>Twice.</p></blockquote>"
        "<p>Use <code>pip install x_y</code> then <em>relax</em>.</p>"
        "<pre>line 1\n  line 2 ```</pre>"
    )
    assert clean(html).text.split("\n\n") == [
        "Big news",
        "one\ntwo\nnested",
        "three\nfour",
        "Quoted.",
        "Twice.",
        "Use pip install x_y then relax.",
        "line 1\n  line 2 ```",
    ]


def test_whitespace_is_collapsed_and_blank_lines_never_repeat() -> None:
    html = "<div>\n\n  <p>  A   lot\n of   space </p>\n\n\n<p></p>"
    html += "<div><br><br></div><p>B<br>C</p></div>"
    result = clean(html)
    assert result.text == "A lot of space\n\nB\nC"


def test_substack_mentions_and_post_embeds_keep_their_content() -> None:
    html = (
        '<p>I got <span class="mention-wrap" data-attrs=\'{"name":"Dean Ball","url":null}\'>'
        '</span> of <span class="mention-wrap" data-attrs=\'{"name":"Hyper",'
        '"url":"https://open.substack.com/pub/hyper"}\'></span> on.</p>'
        '<div class="digest-post-embed" data-attrs=\'{"title":"Older post",'
        '"canonical_url":"https://news.example.com/p/older"}\'></div>'
    )
    result = clean(html)
    assert result.text == "I got Dean Ball of Hyper on.\n\nOlder post"


def test_generic_footnote_backlinks_are_dropped() -> None:
    html = (
        '<p>Claim<sup id="fnref:1"><a href="#fn:1" class="footnote-ref">1</a></sup>.</p>'
        '<ol><li id="fn:1"><p>Source. <a href="#fnref:1" class="footnote-backref">↩</a></p>'
        "</li></ol>"
    )
    result = clean(html)
    assert result.text == "Claim.\n\nSource."


@pytest.mark.parametrize("html", ["", "   ", "<!-- only a comment -->", "<script>x</script>"])
def test_empty_input_gives_empty_content(html: str) -> None:
    assert clean(html) == CleanContent("", None)


def test_hostile_structure_does_not_crash() -> None:
    deep = "<div>" * 5000 + "deep" + "</div>" * 5000
    clean(deep)  # libxml2 caps nesting; we must simply not blow the stack
    weird = '<?xml version="1.0" encoding="latin-1"?><p>caf\u00e9 \x00\x07 ok\ud800</p>'
    assert "café" in clean(weird).text
    plain = clean("Just text, no tags & an ampersand.")
    assert plain.text == "Just text, no tags & an ampersand."


def test_safe_url_rules() -> None:
    assert safe_url("//cdn.example/x.png", BASE) == "https://cdn.example/x.png"
    assert safe_url("https://ok.example/a", None) == "https://ok.example/a"
    assert safe_url("mailto:a@b.example", BASE) is None
    assert safe_url("mailto:a@b.example", BASE, allow_mailto=True) == "mailto:a@b.example"
    assert safe_url("https:///nohost", BASE) is None
    assert safe_url("http://[::1", BASE) is None
    assert safe_url("https://a.example/" + "x" * 3000, BASE) is None


def test_tables_become_one_line_per_row() -> None:
    html = (
        "<p>Scores:</p><table><tr><th>Model</th><th>Score</th></tr>"
        "<tr><td>A|B</td><td>90</td></tr></table><p>After.</p>"
    )
    result = clean(html)
    assert result.text == "Scores:\n\nModel | Score\nA|B | 90\n\nAfter."


def test_random_tag_soup_never_yields_markup_text_or_an_unsafe_image() -> None:
    import random

    tags = "p div a b i code pre ul li blockquote h2 table tr td img br script svg iframe"
    tags += " span figure embed source picture button form textarea noscript sup"
    attrs = [
        'href="javascript:x"',
        'href="/rel"',
        'href="#f"',
        'href="https://a.example/(x)"',
        'class="share"',
        'class="footnote-number"',
        'src="//x.example/i.png"',
        'src="javascript:x"',
        'src="data:image/png;base64,AA"',
        "hidden",
        'class="digest-post-embed" data-attrs=\'{"title":"T","canonical_url":"javascript:1"}\'',
    ]
    texts = ["hi", "&lt; ", "&gt; q", "*", "_", "`", "```", "|", "[", "]", "&lt;@1&gt;", "# h"]
    texts += ["- l", "1. n", "日本語。", "\n\n\n", "\\", "\u200b", "https://x.example"]
    rng = random.Random(7)

    def soup(depth: int = 0) -> str:
        parts = []
        for _ in range(rng.randint(0, 4)):
            if depth > 5 or rng.random() < 0.4:
                parts.append(rng.choice(texts))
            else:
                tag = rng.choice(tags.split())
                attr = " ".join(rng.sample(attrs, rng.randint(0, 2)))
                close = f"</{tag}>" if rng.random() < 0.85 else ""
                parts.append(f"<{tag} {attr}>{soup(depth + 1)}{close}")
        return "".join(parts)

    for _ in range(400):
        result = clean(soup())
        # "<" only comes from the texts' "&lt; " and "&lt;@1&gt;", never from a tag.
        assert not re.search(r"<[^\s@]", result.text), result.text
        assert "\n\n\n" not in result.text
        assert result.image_url is None or result.image_url.startswith("https://x.example/")


def test_deeply_nested_widget_json_is_ignored_not_a_crash() -> None:
    """json.loads raises RecursionError (not ValueError) on '[[[[…' thousands deep; one such
    attribute must not fail the item, and so the whole poll of its feed."""
    nested = "[" * 50_000 + "]" * 50_000
    result = clean(
        f'<p>before</p><span class="mention-wrap" data-attrs="{nested}">Ann</span><p>after</p>'
    )
    assert result.text == "before\n\nAnn\n\nafter"
