"""When each approver is reminded: offsets, time zones, quiet hours, snooze, late adoption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.config import QuietHours
from bot.reminder_times import Reminder, Snooze, due, outside_quiet, plan, slot_name

H = timedelta(hours=1)
DEFAULT_OFFSETS = [24 * H, 2 * H]
NIGHT = QuietHours.parse("20:00-08:00")

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in November (daylight time)
HONOLULU = ZoneInfo("Pacific/Honolulu")  # UTC−10 all year

# Expires Thursday 13 Nov 2031, 09:00 UTC; requested three days before.
EXPIRES = datetime(2031, 11, 13, 9, 0, tzinfo=UTC)
ADOPTED = EXPIRES - 72 * H


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def times(reminders: list[Reminder]) -> list[tuple[datetime, bool]]:
    return [(r.due_at, r.final) for r in reminders]


def plan_for(tz: ZoneInfo, **overrides: object) -> list[Reminder]:
    options: dict[str, object] = {
        "adopted_at": ADOPTED,
        "offsets": DEFAULT_OFFSETS,
        "tz": tz,
        "quiet": NIGHT,
        **overrides,
    }
    expires = options.pop("expires_at", EXPIRES)
    assert isinstance(expires, datetime)
    return plan(expires, **options)  # type: ignore[arg-type]


# --- one approval, four approvers in four time zones ---------------------------------


def test_berlin_daytime_reminders_go_at_their_offsets() -> None:
    # 10:00 and 08:00 in Berlin (UTC+1 in November): both outside quiet hours.
    reminders = plan_for(BERLIN)
    assert times(reminders) == [(utc("2031-11-12T09:00"), False), (utc("2031-11-13T07:00"), True)]
    assert [r.slot for r in reminders] == ["before-24h", "before-2h"]


def test_new_york_early_morning_waits_until_eight_local() -> None:
    # 04:00 EST → 08:00 EST (13:00 UTC); the last one (02:00 EST) goes anyway.
    assert times(plan_for(NEW_YORK)) == [
        (utc("2031-11-12T13:00"), False),
        (utc("2031-11-13T07:00"), True),
    ]


def test_auckland_utc_plus_13_late_evening_moves_to_next_morning() -> None:
    # 22:00 NZDT on the 12th → 08:00 NZDT on the 13th = 19:00 UTC on the 12th.
    # The last reminder is at 20:00 NZDT — quiet hours, and it still goes.
    assert times(plan_for(AUCKLAND)) == [
        (utc("2031-11-12T19:00"), False),
        (utc("2031-11-13T07:00"), True),
    ]


def test_honolulu_utc_minus_10_night_moves_to_morning() -> None:
    # 23:00 HST on the 11th → 08:00 HST on the 12th = 18:00 UTC; last one at 21:00 HST.
    assert times(plan_for(HONOLULU)) == [
        (utc("2031-11-12T18:00"), False),
        (utc("2031-11-13T07:00"), True),
    ]


# --- quiet hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        ("2031-11-12T19:59", "2031-11-12T19:59"),  # just before the window
        ("2031-11-12T20:00", "2031-11-13T08:00"),  # the window's first minute
        ("2031-11-12T23:59", "2031-11-13T08:00"),  # before midnight: next day's end
        ("2031-11-13T00:00", "2031-11-13T08:00"),  # midnight
        ("2031-11-13T03:30", "2031-11-13T08:00"),  # after midnight: same day's end
        ("2031-11-13T07:59", "2031-11-13T08:00"),
        ("2031-11-13T08:00", "2031-11-13T08:00"),  # the end itself is not quiet
        ("2031-11-13T12:00", "2031-11-13T12:00"),
    ],
)
def test_window_spanning_midnight(local: str, expected_local: str) -> None:
    at = datetime.fromisoformat(local).replace(tzinfo=BERLIN).astimezone(UTC)
    expected = datetime.fromisoformat(expected_local).replace(tzinfo=BERLIN).astimezone(UTC)
    assert outside_quiet(at, BERLIN, NIGHT) == expected


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        ("2031-11-12T11:59", "2031-11-12T11:59"),
        ("2031-11-12T12:00", "2031-11-12T14:00"),
        ("2031-11-12T13:59", "2031-11-12T14:00"),
        ("2031-11-12T14:00", "2031-11-12T14:00"),
    ],
)
def test_window_within_one_day(local: str, expected_local: str) -> None:
    lunch = QuietHours.parse("12:00-14:00")
    at = datetime.fromisoformat(local).replace(tzinfo=HONOLULU).astimezone(UTC)
    expected = datetime.fromisoformat(expected_local).replace(tzinfo=HONOLULU).astimezone(UTC)
    assert outside_quiet(at, HONOLULU, lunch) == expected


def test_an_empty_window_never_shifts() -> None:
    never = QuietHours.parse("00:00-00:00")
    assert times(plan_for(AUCKLAND, quiet=never)) == [
        (utc("2031-11-12T09:00"), False),
        (utc("2031-11-13T07:00"), True),
    ]


def test_a_shift_that_would_reach_the_last_reminder_is_dropped() -> None:
    # 4 h before = 21:00 in Honolulu → 08:00 next day, after the last (2 h before): dropped.
    expires = utc("2031-11-13T11:00")  # 01:00 HST
    reminders = plan_for(HONOLULU, expires_at=expires, offsets=[4 * H, 2 * H])
    assert times(reminders) == [(utc("2031-11-13T09:00"), True)]


def test_the_last_reminder_always_goes_even_at_three_in_the_morning() -> None:
    expires = datetime(2031, 11, 13, 5, 0, tzinfo=BERLIN).astimezone(UTC)
    reminders = plan_for(BERLIN, expires_at=expires, adopted_at=expires - 72 * H)
    assert reminders[-1].final
    assert reminders[-1].due_at.astimezone(BERLIN).hour == 3


# --- daylight saving time ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "nominal", "expected"),
    [
        # Berlin falls back on 26 Oct 2031: 01:00 CEST → 08:00 CET (07:00 UTC, not 06:00).
        (BERLIN, "2031-10-25T23:00", "2031-10-26T07:00"),
        # Berlin springs forward on 30 Mar 2031: 00:30 CET → 08:00 CEST (06:00 UTC).
        (BERLIN, "2031-03-29T23:30", "2031-03-30T06:00"),
        # New York springs forward on 9 Mar 2031: 00:00 EST → 08:00 EDT (12:00 UTC).
        (NEW_YORK, "2031-03-09T05:00", "2031-03-09T12:00"),
        # New York falls back on 2 Nov 2031: 00:30 EDT → 08:00 EST (13:00 UTC).
        (NEW_YORK, "2031-11-02T04:30", "2031-11-02T13:00"),
        # Auckland springs forward on 28 Sep 2031: 00:00 NZST → 08:00 NZDT (19:00 UTC).
        (AUCKLAND, "2031-09-27T12:00", "2031-09-27T19:00"),
    ],
)
def test_quiet_hours_end_at_local_wall_clock_time_across_dst(
    tz: ZoneInfo, nominal: str, expected: str
) -> None:
    shifted = outside_quiet(utc(nominal), tz, NIGHT)
    assert shifted == utc(expected)
    assert shifted.astimezone(tz).strftime("%H:%M") == "08:00"


def test_a_window_ending_in_the_spring_forward_gap_ends_outside_it() -> None:
    # 02:30 does not exist in Berlin on 30 Mar 2031; the shifted time is 03:30 CEST.
    window = QuietHours.parse("22:00-02:30")
    shifted = outside_quiet(utc("2031-03-29T23:00"), BERLIN, window)
    assert shifted == utc("2031-03-30T01:30")
    assert not window.contains(shifted.astimezone(BERLIN).time())


def test_a_full_plan_across_the_autumn_change() -> None:
    expires = utc("2031-10-26T23:30")  # 00:30 CET on the 27th
    reminders = plan_for(BERLIN, expires_at=expires, adopted_at=expires - 72 * H)
    # 24 h before = 01:30 CEST on the 26th → 08:00 CET = 07:00 UTC; last = 22:30 CET.
    assert times(reminders) == [(utc("2031-10-26T07:00"), False), (utc("2031-10-26T21:30"), True)]


# --- adoption late in an approval's life ---------------------------------------------------


def test_adopted_less_than_two_hours_before_expiry_gets_the_last_reminder_at_once() -> None:
    adopted = EXPIRES - timedelta(minutes=90)
    assert times(plan_for(BERLIN, adopted_at=adopted)) == [(adopted, True)]


def test_adopted_within_a_day_skips_the_reminder_it_missed() -> None:
    adopted = EXPIRES - 23 * H
    assert times(plan_for(BERLIN, adopted_at=adopted)) == [(utc("2031-11-13T07:00"), True)]


def test_adopted_exactly_at_an_offset_still_gets_that_reminder() -> None:
    adopted = EXPIRES - 24 * H
    assert times(plan_for(BERLIN, adopted_at=adopted)) == [
        (adopted, False),
        (utc("2031-11-13T07:00"), True),
    ]


def test_adopted_after_expiry_gets_nothing() -> None:
    assert plan_for(BERLIN, adopted_at=EXPIRES) == []
    assert plan_for(BERLIN, adopted_at=EXPIRES + H) == []


# --- snooze --------------------------------------------------------------------------------


def test_snooze_reminds_again_four_hours_later() -> None:
    pressed = utc("2031-11-12T09:05")  # right after Berlin's 24 h reminder
    reminders = plan_for(BERLIN, snooze=Snooze(pressed, pressed + 4 * H))
    assert times(reminders) == [
        (utc("2031-11-12T09:00"), False),
        (utc("2031-11-12T13:05"), False),
        (utc("2031-11-13T07:00"), True),
    ]
    assert reminders[1].slot == f"snooze-{int((pressed + 4 * H).timestamp())}"


def test_snooze_postpones_a_reminder_due_within_it() -> None:
    # In Auckland the last ten hours before expiry are daytime (12:00–22:00 NZDT).
    offsets = [24 * H, 8 * H, 2 * H]
    pressed = EXPIRES - 10 * H
    unsnoozed = plan_for(AUCKLAND, offsets=offsets)
    assert (EXPIRES - 8 * H, False) in times(unsnoozed)
    reminders = plan_for(AUCKLAND, offsets=offsets, snooze=Snooze(pressed, pressed + 4 * H))
    # The 8 h reminder falls within the snooze and is folded into its end.
    assert times(reminders) == [
        (utc("2031-11-12T19:00"), False),
        (EXPIRES - 6 * H, False),
        (EXPIRES - 2 * H, True),
    ]


def test_snooze_never_postpones_past_the_last_reminder() -> None:
    offsets = [24 * H, 4 * H, 2 * H]
    pressed = EXPIRES - 5 * H  # 17:00 NZDT; the snooze would end at 21:00, after the last one
    assert (EXPIRES - 4 * H, False) in times(plan_for(AUCKLAND, offsets=offsets))
    reminders = plan_for(AUCKLAND, offsets=offsets, snooze=Snooze(pressed, pressed + 4 * H))
    assert times(reminders) == [(utc("2031-11-12T19:00"), False), (EXPIRES - 2 * H, True)]


def test_a_snooze_ending_in_quiet_hours_waits_for_the_morning() -> None:
    pressed = utc("2031-11-12T18:00")  # 19:00 in Berlin; ends 23:00, quiet
    reminders = plan_for(BERLIN, snooze=Snooze(pressed, pressed + 4 * H))
    # 08:00 CET next day = 07:00 UTC = the last reminder's time, so it is dropped.
    assert times(reminders) == [(utc("2031-11-12T09:00"), False), (utc("2031-11-13T07:00"), True)]
    early = plan_for(
        AUCKLAND, snooze=Snooze(utc("2031-11-12T19:30"), utc("2031-11-12T23:30"))
    )  # ends 12:30 NZDT, outside quiet hours
    assert (utc("2031-11-12T23:30"), False) in times(early)


# --- which reminder is due now -----------------------------------------------------------


def test_due_is_the_latest_reminder_that_has_come() -> None:
    reminders = plan_for(NEW_YORK)  # 13:00 UTC on the 12th, then 07:00 UTC on the 13th
    assert due(reminders, utc("2031-11-12T12:59"), EXPIRES) is None
    first = due(reminders, utc("2031-11-12T13:00"), EXPIRES)
    assert first is not None and first.slot == "before-24h" and not first.final
    assert due(reminders, utc("2031-11-13T06:59"), EXPIRES) == first
    last = due(reminders, utc("2031-11-13T07:00"), EXPIRES)
    assert last is not None and last.final


def test_after_downtime_only_the_latest_due_reminder_is_sent() -> None:
    reminders = plan_for(NEW_YORK)
    last = due(reminders, utc("2031-11-13T08:00"), EXPIRES)
    assert last is not None and last.final


def test_nothing_is_due_once_expired() -> None:
    reminders = plan_for(NEW_YORK)
    assert due(reminders, EXPIRES, EXPIRES) is None
    assert due(reminders, EXPIRES + H, EXPIRES) is None


# --- plans in general ----------------------------------------------------------------------


def test_offsets_in_any_order_and_repeated_give_one_plan() -> None:
    assert plan_for(BERLIN, offsets=[2 * H, 24 * H, 2 * H]) == plan_for(BERLIN)


def test_reminders_moved_to_the_same_morning_are_sent_once() -> None:
    # 12 h and 6 h before are 22:00 and 04:00 in Berlin: both wait for 08:00 — one DM.
    expires = utc("2031-11-13T09:00")
    reminders = plan_for(BERLIN, offsets=[12 * H, 6 * H, 2 * H], expires_at=expires)
    assert times(reminders) == [(utc("2031-11-13T07:00"), True)]
    # 15 h before is 19:00 in Berlin (not quiet); 12 h and 6 h before both move to 08:00.
    reminders = plan_for(BERLIN, offsets=[15 * H, 12 * H, 6 * H, 1 * H], expires_at=expires)
    assert times(reminders) == [
        (utc("2031-11-12T18:00"), False),
        (utc("2031-11-13T07:00"), False),
        (utc("2031-11-13T08:00"), True),
    ]
    assert reminders[1].slot == "before-12h"


def test_a_single_offset_is_the_last_reminder() -> None:
    assert times(plan_for(AUCKLAND, offsets=[2 * H])) == [(utc("2031-11-13T07:00"), True)]


def test_no_offsets_no_reminders() -> None:
    assert plan_for(BERLIN, offsets=[]) == []


def test_reminders_come_in_order_and_none_at_or_after_expiry() -> None:
    offsets = [48 * H, 24 * H, 12 * H, 6 * H, 2 * H]
    for tz in (BERLIN, NEW_YORK, AUCKLAND, HONOLULU):
        for hour in range(24):
            expires = EXPIRES + hour * H
            reminders = plan_for(
                tz, offsets=offsets, expires_at=expires, adopted_at=expires - 72 * H
            )
            due_times = [r.due_at for r in reminders]
            assert due_times == sorted(due_times) and len(set(due_times)) == len(due_times)
            assert all(at < expires for at in due_times)
            assert [r.final for r in reminders] == [False] * (len(reminders) - 1) + [True]
            assert reminders[-1].due_at == expires - 2 * H
            for reminder in reminders[:-1]:
                assert not NIGHT.contains(reminder.due_at.astimezone(tz).time())


@pytest.mark.parametrize(
    ("offset", "name"),
    [
        (24 * H, "before-24h"),
        (2 * H, "before-2h"),
        (timedelta(minutes=90), "before-90m"),
        (timedelta(seconds=45), "before-45s"),
    ],
)
def test_slot_names_are_readable_and_stable(offset: timedelta, name: str) -> None:
    assert slot_name(offset) == name
