"""Dates where Discord does not render them (console mode, CLI output, a thread's name), in the
current language's own way (Babel's CLDR formats): `May 1, 2024, 7:00:00 AM UTC` in English,
`2024/05/01 7:00:00 UTC` in Japanese. Where Discord renders a timestamp (`<t:…>`), each
member sees it in their own language and time zone instead."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.i18n import current_locale


def format_moment(moment: datetime) -> str:
    """A moment in UTC, date and time, in the current language."""
    from babel.dates import format_datetime  # imported on first use, like the catalogues

    text = format_datetime(moment, "medium", tzinfo=UTC, locale=current_locale())
    return f"{text} UTC"


def format_day(moment: datetime) -> str:
    """The UTC day of a moment in the current language (`May 1, 2024`, `2024/05/01`)."""
    from babel.dates import format_date

    return format_date(moment.astimezone(UTC), "medium", locale=current_locale())
