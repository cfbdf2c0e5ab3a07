"""When a channel's digest is due: daily or weekly at a local wall-clock time in an IANA zone.

Pure functions of an injected `now` (aware datetimes; results are UTC), so tests drive time.
A slot is computed as the local time on a local date, so 09:00 Europe/Berlin stays 09:00 local
across daylight-saving changes. A local time that does not exist that day (spring-forward gap)
is read with the offset from before the change, i.e. it moves forward by the gap (02:30 →
03:30); a local time that happens twice (fall-back) is the first occurrence (fold=0). Either
way each day has exactly one slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.i18n import N_, _

Cadence = Literal["daily", "weekly"]
CADENCES: tuple[str, ...] = get_args(Cadence)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_NAMES = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)

_HH_MM = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")
# Enough days to reach the previous/next slot of a weekly schedule from any instant.
_SEARCH_DAYS = 9


@cache
def _zone_names() -> dict[str, str]:
    """Case-folded IANA name → canonical name, from the installed tzdata."""
    return {name.casefold(): name for name in available_timezones()}


def canonical_timezone(name: str) -> str:
    """The IANA zone name as tzdata spells it ("europe/berlin" → "Europe/Berlin"); ValueError
    for a name that is not a known IANA zone."""
    cleaned = name.strip().replace(" ", "_")
    canonical = _zone_names().get(cleaned.casefold())
    if canonical is not None:
        return canonical
    try:
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            _(
                "{zone} is not a known time zone; use an IANA name such as "
                "Europe/Berlin, America/New_York or UTC",
                zone=repr(name.strip()),
            )
        ) from None
    return cleaned


# Abbreviations people type for a zone. tzdata knows some of them (EST, MST, HST: a fixed
# offset all year; CET, EET…: European rules) and most not at all; each means the place's
# zone, with its daylight-saving changes, and the answer says which zone was used.
ZONE_ABBREVIATIONS = {
    **dict.fromkeys(("est", "edt", "et", "est5edt", "eastern"), "America/New_York"),
    **dict.fromkeys(("cst", "cdt", "ct", "cst6cdt", "central"), "America/Chicago"),
    **dict.fromkeys(("mst", "mdt", "mt", "mst7mdt", "mountain"), "America/Denver"),
    **dict.fromkeys(("pst", "pdt", "pt", "pst8pdt", "pacific"), "America/Los_Angeles"),
    **dict.fromkeys(("akst", "akdt"), "America/Anchorage"),
    **dict.fromkeys(("hst",), "Pacific/Honolulu"),
    **dict.fromkeys(("bst",), "Europe/London"),
    **dict.fromkeys(("cet", "cest", "met"), "Europe/Berlin"),
    **dict.fromkeys(("eet", "eest"), "Europe/Athens"),
    **dict.fromkeys(("wet", "west"), "Europe/Lisbon"),
    **dict.fromkeys(("ist",), "Asia/Kolkata"),
    **dict.fromkeys(("jst",), "Asia/Tokyo"),
    **dict.fromkeys(("kst",), "Asia/Seoul"),
    **dict.fromkeys(("aest", "aedt"), "Australia/Sydney"),
}


def zone_for_abbreviation(name: str) -> str | None:
    """The IANA zone an abbreviation such as "est" stands for, or None."""
    return ZONE_ABBREVIATIONS.get(name.strip().casefold())


def matching_timezones(query: str, limit: int = 25) -> list[str]:
    """Zone names for autocomplete: the zone an abbreviation stands for, then prefix
    matches, then substring matches, sorted."""
    needle = query.strip().replace(" ", "_").casefold()
    names = sorted(_zone_names().values())
    prefix = [n for n in names if n.casefold().startswith(needle)]
    inner = [n for n in names if needle in n.casefold() and n not in prefix]
    meant = zone_for_abbreviation(query)  # "est": America/New_York first, not fixed EST
    first = [meant] if meant else []
    return (first + [n for n in prefix + inner if n != meant])[: max(0, limit)]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not a known time zone") from exc


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """A channel's digest timing. `weekday` is 0 = Monday … 6 = Sunday (weekly only)."""

    cadence: Cadence
    local_time: time
    timezone: str
    weekday: int | None = None

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ValueError(
                _("cadence must be daily or weekly, not {cadence}", cadence=repr(self.cadence))
            )
        _zone(self.timezone)
        if self.cadence == "weekly" and (self.weekday is None or not 0 <= self.weekday <= 6):
            raise ValueError(_("a weekly digest needs a weekday (Monday to Sunday)"))

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


def parse_local_time(text: str) -> time:
    """`HH:MM` (24-hour, `9:05` allowed) → time; ValueError with a clear message otherwise."""
    match = _HH_MM.match(text)
    if match is None:
        raise ValueError(
            _(
                "{time} is not a time; use 24-hour HH:MM such as 09:00",
                time=repr(text.strip()),
            )
        )
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekday(value: int | str | None) -> int | None:
    """0–6 (Monday = 0) or a day name/abbreviation ("monday", "Mon") → 0–6; None stays None."""
    if value is None:
        return None
    if isinstance(value, int):
        if 0 <= value <= 6:
            return value
        raise ValueError(_("weekday must be 0 (Monday) to 6 (Sunday), not {value}", value=value))
    text = value.strip().casefold()
    if not text:
        return None
    if len(text) >= 2:
        for index, name in enumerate(WEEKDAYS):
            if name.startswith(text):
                return index
    raise ValueError(
        _("{value} is not a weekday; use a name such as Monday", value=repr(value.strip()))
    )


def validate_schedule(
    cadence: str,
    local_time: str | time,
    timezone: str,
    weekday: int | str | None = None,
) -> DigestSchedule:
    """Check what an admin typed and build the schedule; ValueError says what is wrong. A
    weekday given for a daily digest is ignored."""
    cadence_key = cadence.strip().casefold()
    if cadence_key not in CADENCES:
        raise ValueError(
            _("{cadence} is not a cadence; choose daily or weekly", cadence=repr(cadence.strip()))
        )
    when = local_time if isinstance(local_time, time) else parse_local_time(local_time)
    zone_name = canonical_timezone(timezone)
    day = parse_weekday(weekday)
    if cadence_key == "weekly":
        return DigestSchedule("weekly", when, zone_name, day)  # it says when `day` is missing
    return DigestSchedule("daily", when, zone_name, None)


def _slot_on(schedule: DigestSchedule, day: date) -> datetime | None:
    """The slot on a local calendar day in UTC, or None when the schedule skips that day."""
    if schedule.cadence == "weekly" and day.weekday() != schedule.weekday:
        return None
    local = datetime.combine(day, schedule.local_time, tzinfo=schedule.zone)  # fold=0
    return local.astimezone(UTC)


def _slots(schedule: DigestSchedule, now: datetime, days: range) -> Iterator[datetime]:
    """The schedule's slots (UTC) on the local days `days` away from `now`'s, in that order."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    today = now.astimezone(schedule.zone).date()
    for offset in days:
        slot = _slot_on(schedule, today + timedelta(days=offset))
        if slot is not None:
            yield slot


def last_slot_at_or_before(schedule: DigestSchedule, now: datetime) -> datetime:
    """The latest slot at or before `now`, in UTC (every schedule has one within a week)."""
    return next(s for s in _slots(schedule, now, range(0, -_SEARCH_DAYS, -1)) if s <= now)


def next_slot_after(schedule: DigestSchedule, now: datetime) -> datetime:
    """The first slot strictly after `now`, in UTC."""
    return next(s for s in _slots(schedule, now, range(-1, _SEARCH_DAYS)) if s > now)


def due_slot(
    schedule: DigestSchedule,
    now: datetime,
    last_sent_slot: datetime | None,
    *,
    not_before: datetime | None = None,
) -> datetime | None:
    """The one slot whose digest should be sent now, or None: the latest slot at or before
    `now` if it is later than `last_sent_slot` (after downtime only the latest missed slot is
    due, never one per missed day) and not before `not_before` (when the schedule was created:
    a new schedule waits for its first slot instead of sending at once)."""
    slot = last_slot_at_or_before(schedule, now)
    if last_sent_slot is not None and slot <= last_sent_slot:
        return None
    return None if not_before is not None and slot < not_before else slot
