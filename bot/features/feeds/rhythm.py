"""A feed's rhythm as a picture: items per week over the last 12 weeks as a sparkline
(`·▂▅▇▃…`, which Discord and terminals show as they are), its newest item and the weeks it has
been failing marked. `/feed status` shows the picture with a line of marks under it;
`/feed list` shows it compactly, failing weeks without items as ✗.

Weeks count back from now (the last cell is the last 7 days), by each item's publish time:
the feed's own rhythm, not when the bot happened to fetch it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.i18n import _, ngettext
from bot.model import SubscriptionView
from bot.store import Store

WEEKS = 12
WEEK_S = 7 * 24 * 3600
BARS = "▁▂▃▄▅▆▇█"
NO_ITEMS = "·"
FAILING = "✗"
NEWEST = "▲"
# The marks line's blank: a no-break space, which Discord keeps at either end of inline code.
BLANK = "\u00a0"


@dataclass(frozen=True, slots=True)
class Rhythm:
    """One feed's last `WEEKS` weeks."""

    counts: tuple[int, ...]  # items published per week, oldest first; the last: the last 7 days
    newest_week: int | None  # the week of the newest item (an index of counts); None: older
    failing_from: int | None  # the first week it has been failing in; None: not failing


def week_index(ts: float, now: float) -> int | None:
    """Which of the last `WEEKS` weeks `ts` falls in (0: the oldest), None before them."""
    back = math.floor((now - ts) / WEEK_S)
    if back < 0:
        return WEEKS - 1
    return WEEKS - 1 - back if back < WEEKS else None


def rhythm_of(
    counts: dict[int, int], newest_at: float | None, failing_since: float | None, now: float
) -> Rhythm:
    """`counts`: items per week numbered from the oldest (as the store's weekly_counts)."""
    return Rhythm(
        counts=tuple(counts.get(week, 0) for week in range(WEEKS)),
        newest_week=None if newest_at is None else week_index(newest_at, now),
        # Failing since before the weeks shown: from the first of them.
        failing_from=None if failing_since is None else week_index(failing_since, now) or 0,
    )


async def feed_rhythms(
    store: Store, views: Sequence[SubscriptionView], now: float
) -> dict[int, Rhythm]:
    """The rhythm of each feed the views show, by feed id."""
    failing = {v.subscription.feed_id: v.failing_since for v in views if v.consecutive_errors}
    feed_ids = sorted({v.subscription.feed_id for v in views})
    since = now - WEEKS * WEEK_S
    counts = await store.items.weekly_counts(feed_ids, since, now + 1, period_s=WEEK_S)
    newest = await store.items.newest_published(feed_ids, now + 1)
    return {
        feed_id: rhythm_of(counts.get(feed_id, {}), newest.get(feed_id), failing.get(feed_id), now)
        for feed_id in feed_ids
    }


def _is_failing(rhythm: Rhythm, week: int) -> bool:
    return rhythm.failing_from is not None and week >= rhythm.failing_from


def sparkline(rhythm: Rhythm, *, compact: bool = False) -> str:
    """A cell per week: a bar scaled to the busiest week, `·` for none; `compact` shows a
    failing week without items as ✗ (the list has no room for a line of marks)."""
    top = max(rhythm.counts, default=0)

    def cell(week: int, count: int) -> str:
        if count:
            return BARS[max(1, math.ceil(count * len(BARS) / top)) - 1]
        return FAILING if compact and _is_failing(rhythm, week) else NO_ITEMS

    return "".join(cell(week, count) for week, count in enumerate(rhythm.counts))


def marks(rhythm: Rhythm) -> str:
    """The line under the sparkline: ▲ under the newest item's week, ✗ under failing weeks
    (the newest item's mark wins). '' when there is nothing to mark."""
    cells = [FAILING if _is_failing(rhythm, week) else BLANK for week in range(WEEKS)]
    if rhythm.newest_week is not None:
        cells[rhythm.newest_week] = NEWEST
    line = "".join(cells)
    return line if line.strip(BLANK) else ""


def rhythm_lines(rhythm: Rhythm) -> list[str]:
    """`/feed status`'s picture: a heading, the sparkline, and the marks with their legend."""
    total = ngettext("{count} item", "{count} items", sum(rhythm.counts))
    lines = [
        _("Items per week, last {weeks} weeks (oldest first):", weeks=WEEKS),
        f"`{sparkline(rhythm)}` {total}",
    ]
    line = marks(rhythm)
    if line:
        legend = []
        if rhythm.newest_week is not None:
            legend.append(f"{NEWEST} " + _("newest item"))
        if rhythm.failing_from is not None:
            legend.append(f"{FAILING} " + _("failing"))
        lines.append(f"`{line}` " + " · ".join(legend))
    return lines
