"""Digest timing: local wall-clock slots across DST, weekly, and missed slots after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.features.digest.schedule import (
    DigestSchedule,
    canonical_timezone,
    due_slot,
    last_slot_at_or_before,
    matching_timezones,
    next_slot_after,
    validate_schedule,
)
from bot.features.digest.service import period_name
from bot.store.routing import digest_key

BERLIN = ZoneInfo("Europe/Berlin")
DAILY_9_BERLIN = DigestSchedule("daily", time(9, 0), "Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def walk_slots(schedule: DigestSchedule, start: datetime, count: int) -> list[datetime]:
    slots, now = [], start
    for _ in range(count):
        now = next_slot_after(schedule, now)
        slots.append(now)
    return slots


# --- validation -----------------------------------------------------------------------------


def test_validate_schedule_accepts_what_admins_type() -> None:
    schedule = validate_schedule("Daily", "9:05", "europe/berlin")
    assert schedule == DigestSchedule("daily", time(9, 5), "Europe/Berlin", None)
    weekly = validate_schedule("weekly", "18:30", "America/New_York", "fri")
    assert weekly.weekday == 4
    assert validate_schedule("weekly", time(7, 0), "UTC", 0).weekday == 0
    assert validate_schedule("daily", "07:00", "UTC", "monday").weekday is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("daily", "25:00", "UTC"), "HH:MM"),
        (("daily", "9", "UTC"), "HH:MM"),
        (("daily", "09:60", "UTC"), "HH:MM"),
        (("daily", "9am", "UTC"), "HH:MM"),
        (("daily", "09:00", "Mars/Olympus"), "time zone"),
        (("daily", "09:00", "../../etc/passwd"), "time zone"),
        (("daily", "09:00", ""), "time zone"),
        (("weekly", "09:00", "UTC"), "weekday"),
        (("weekly", "09:00", "UTC", "someday"), "weekday"),
        (("weekly", "09:00", "UTC", 7), "weekday"),
        (("hourly", "09:00", "UTC"), "daily or weekly"),
    ],
)
def test_validate_schedule_rejects_with_clear_message(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_schedule(*args)


def test_schedule_itself_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        DigestSchedule("weekly", time(9), "UTC", None)
    with pytest.raises(ValueError):
        DigestSchedule("daily", time(9), "Nowhere/City")


def test_timezone_helpers() -> None:
    assert canonical_timezone(" europe/berlin ") == "Europe/Berlin"
    assert canonical_timezone("America/New York") == "America/New_York"
    assert matching_timezones("berl")[0] == "Europe/Berlin"
    assert "America/New_York" in matching_timezones("york")
    assert len(matching_timezones("", limit=25)) == 25


# --- daily across DST -----------------------------------------------------------------------


def test_daily_0900_berlin_stays_0900_local_across_march_change() -> None:
    # Europe/Berlin switches CET → CEST on 2024-03-31.
    slots = walk_slots(DAILY_9_BERLIN, utc(2024, 3, 29, 12), 4)
    assert slots == [
        utc(2024, 3, 30, 8),
        utc(2024, 3, 31, 7),
        utc(2024, 4, 1, 7),
        utc(2024, 4, 2, 7),
    ]
    assert all(s.astimezone(BERLIN).time() == time(9, 0) for s in slots)


def test_daily_0900_berlin_stays_0900_local_across_october_change() -> None:
    # CEST → CET on 2024-10-27.
    slots = walk_slots(DAILY_9_BERLIN, utc(2024, 10, 25, 12), 4)
    assert slots == [
        utc(2024, 10, 26, 7),
        utc(2024, 10, 27, 8),
        utc(2024, 10, 28, 8),
        utc(2024, 10, 29, 8),
    ]
    assert all(s.astimezone(BERLIN).time() == time(9, 0) for s in slots)


def test_nonexistent_local_time_moves_forward_and_ambiguous_takes_first() -> None:
    schedule = DigestSchedule("daily", time(2, 30), "Europe/Berlin")
    # 02:30 does not exist on 2024-03-31: the slot is 03:30 CEST (01:30 UTC), once that day.
    spring = walk_slots(schedule, utc(2024, 3, 30, 12), 2)
    assert spring == [utc(2024, 3, 31, 1, 30), utc(2024, 4, 1, 0, 30)]
    # 02:30 happens twice on 2024-10-27: the first one (CEST, 00:30 UTC), once that day.
    autumn = walk_slots(schedule, utc(2024, 10, 26, 12), 2)
    assert autumn == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]


def test_last_slot_at_or_before_includes_the_exact_instant() -> None:
    assert last_slot_at_or_before(DAILY_9_BERLIN, utc(2024, 3, 31, 7)) == utc(2024, 3, 31, 7)
    assert last_slot_at_or_before(DAILY_9_BERLIN, utc(2024, 3, 31, 6, 59)) == utc(2024, 3, 30, 8)
    assert next_slot_after(DAILY_9_BERLIN, utc(2024, 3, 31, 7)) == utc(2024, 4, 1, 7)
    before_slot = utc(2024, 3, 31, 7) - timedelta(microseconds=1)
    assert last_slot_at_or_before(DAILY_9_BERLIN, before_slot) == utc(2024, 3, 30, 8)


def test_slots_near_local_midnight_in_a_far_zone() -> None:
    # 23:30 in Pacific/Auckland is the previous UTC day; local date decides, not UTC date.
    schedule = DigestSchedule("daily", time(23, 30), "Pacific/Auckland")
    now = utc(2024, 6, 1, 12, 0)  # 2024-06-02 00:00 NZST
    assert last_slot_at_or_before(schedule, now) == utc(2024, 6, 1, 11, 30)
    assert next_slot_after(schedule, now) == utc(2024, 6, 2, 11, 30)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError):
        next_slot_after(DAILY_9_BERLIN, datetime(2024, 1, 1))


# --- weekly ---------------------------------------------------------------------------------


def test_weekly_monday_0800_new_york_across_dst() -> None:
    schedule = validate_schedule("weekly", "08:00", "America/New_York", "monday")
    # US DST starts 2024-03-10 (a Sunday).
    slots = walk_slots(schedule, utc(2024, 3, 1), 3)
    assert slots == [utc(2024, 3, 4, 13), utc(2024, 3, 11, 12), utc(2024, 3, 18, 12)]
    ny = ZoneInfo("America/New_York")
    assert all(s.astimezone(ny).weekday() == 0 for s in slots)
    assert all(s.astimezone(ny).time() == time(8) for s in slots)
    assert last_slot_at_or_before(schedule, utc(2024, 3, 11, 11, 59)) == utc(2024, 3, 4, 13)


# --- due slots ------------------------------------------------------------------------------


def test_restart_after_three_missed_days_gives_exactly_one_due_slot() -> None:
    last_sent = utc(2024, 3, 28, 8)  # Thursday 09:00 CET
    now = utc(2024, 3, 31, 12)  # back on Sunday afternoon; Fri, Sat, Sun slots were missed
    slot = due_slot(DAILY_9_BERLIN, now, last_sent)
    assert slot == utc(2024, 3, 31, 7)
    # Sent: it is not due again, however often the scheduler checks until the next slot.
    for minutes in range(0, 19 * 60, 7):
        assert due_slot(DAILY_9_BERLIN, now + timedelta(minutes=minutes), slot) is None
    assert due_slot(DAILY_9_BERLIN, utc(2024, 4, 1, 7), slot) == utc(2024, 4, 1, 7)


def test_driving_a_clock_for_two_weeks_sends_one_digest_per_day() -> None:
    now, last_sent, sent = utc(2024, 3, 25, 0), None, []
    created = now
    while now < utc(2024, 4, 8, 0):
        slot = due_slot(DAILY_9_BERLIN, now, last_sent, not_before=created)
        if slot is not None:
            sent.append(slot)
            last_sent = slot
        now += timedelta(minutes=13)
    assert len(sent) == 14 == len(set(sent))
    assert all(s.astimezone(BERLIN).time() == time(9) for s in sent)


def test_new_schedule_waits_for_its_first_slot() -> None:
    created = utc(2024, 5, 1, 10)  # after today's 09:00 Berlin slot (07:00 UTC)
    assert due_slot(DAILY_9_BERLIN, created, None, not_before=created) is None
    assert due_slot(DAILY_9_BERLIN, utc(2024, 5, 2, 7), None, not_before=created) == utc(
        2024, 5, 2, 7
    )
    # Without a creation time, a never-sent schedule is due for its latest slot.
    assert due_slot(DAILY_9_BERLIN, created, None) == utc(2024, 5, 1, 7)


def test_period_key_is_stable_per_channel_and_slot() -> None:
    # The digest tick's outbox key: digest_key(channel, period_name(slot)).
    def period_key(channel_id: int, slot: datetime) -> str:
        return digest_key(channel_id, period_name(slot))

    slot = utc(2024, 3, 31, 7)
    assert period_key(42, slot) == "digest:42:2024-03-31T07:00:00Z"
    assert period_key(42, slot.astimezone(BERLIN)) == period_key(42, slot)
    assert period_key(43, slot) != period_key(42, slot)
    assert period_key(42, utc(2024, 4, 1, 7)) != period_key(42, slot)
