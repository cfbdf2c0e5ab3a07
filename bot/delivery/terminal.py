"""The terminal adapter: a `Message` becomes the text console mode prints.

The console shows what the Discord embed shows: the same title, link, summary, fields and
footer, with Discord markdown read back into plain text (escapes removed, masked links as
`text <url>`, `<t:…>` timestamps as UTC times in the console's language). Control
characters never reach the terminal.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.i18n import ngettext
from bot.i18n.dates import format_moment
from bot.model import Embed, Message
from bot.safe import plain_line, strip_control

# One pass over Discord markdown: an escaped character, a masked link, a timestamp, bold or
# underline markers, in that order of precedence.
_MARKDOWN = re.compile(
    r"\\(?P<escaped>[^\w\s]|_)"
    r"|\[(?P<text>(?:\\.|[^\]\\])*)\]\((?P<url>[^)\s]+)\)"
    r"|<t:(?P<ts>-?\d{1,12})(?::[tTdDfFR])?>"
    r"|(?P<bold>\*\*|__)"
)


def plain(markdown: str) -> str:
    """Discord markdown read back into terminal text (no control characters)."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"] is not None:
            return match["escaped"]
        if match["url"] is not None:
            text = plain(match["text"])
            url = match["url"]
            return url if text in ("", url) else f"{text} <{url}>"
        if match["ts"] is not None:
            try:
                return format_moment(datetime.fromtimestamp(int(match["ts"]), tz=UTC))
            except (OverflowError, OSError, ValueError):
                return match[0]
        return ""

    return _MARKDOWN.sub(replace, strip_control(markdown))


def _embed_lines(embed: Embed) -> list[str]:
    lines: list[str] = []
    title = plain_line(plain(embed.title or ""))
    author = plain_line(embed.author or "")
    head = " ".join(part for part in (f"[{author}]" if author else "", title) if part)
    if head:
        lines.append(head)
    if embed.url:
        lines.append(f"  {plain_line(embed.url)}")
    # Timestamps in the console's language (DIGESTBOT_LOCALE).
    byline = [format_moment(embed.timestamp)] if embed.timestamp else []
    if embed.footer:
        byline.append(plain_line(embed.footer))
    if byline:
        lines.append("  " + " · ".join(byline))
    fields = [f"{plain_line(f.name)}: {plain_line(plain(f.value))}" for f in embed.fields]
    if fields:
        lines.append("  " + " · ".join(fields))
    blank = False
    for line in plain(embed.description or "").splitlines():
        if line.strip():
            if blank and len(lines) > 1:
                lines.append("")  # a paragraph break (between a digest's entries) stays
            lines.append("  " + line.strip())
        blank = not line.strip()
    if embed.image_url and not lines:
        lines.append(f"  {plain_line(embed.image_url)}")
    return lines


def to_text(message: Message) -> str:
    """The whole message as terminal text: content, then each embed, then its buttons."""
    lines: list[str] = []
    if message.content:
        lines.extend(line.rstrip() for line in plain(message.content).splitlines())
    for embed in message.embeds:
        if lines:
            lines.append("")
        lines.extend(_embed_lines(embed))
    if message.buttons:
        lines.append("  " + "  ".join(f"[{plain_line(b.label)}]" for b in message.buttons))
    for file in message.files:
        attached = ngettext(
            "(attached: {file}, {count} byte)",
            "(attached: {file}, {count} bytes)",
            len(file.data),
            file=plain_line(file.filename),
        )
        lines.append(f"  {attached}")
    return "\n".join(lines)
