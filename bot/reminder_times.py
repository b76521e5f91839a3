"""When each approver is reminded: a pure function of expiry, time zone, quiet hours, snooze.

Rules (DESIGN.md §5):
- one reminder per offset before `expiresAt` (default 24 h and 2 h);
- a non-final reminder that falls in the approver's local quiet hours waits for
  the end of the window, and is dropped when that is not before the last
  reminder (which then says it all); reminders that land on the same instant
  are sent once;
- the last reminder always goes at its time, quiet hours or not; when the
  approval was adopted after that time, it goes at adoption;
- reminders due before the approval was adopted were never owed;
- a snooze (from a reminder DM) folds the non-final reminders due within it
  into one reminder at its end — never past the last reminder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from bot.config import QuietHours

SNOOZE_SLOT_PREFIX = "snooze-"


@dataclass(frozen=True)
class Snooze:
    """An approver pressed "Snooze" at `at`; nothing but the last reminder before `until`."""

    at: datetime
    until: datetime


@dataclass(frozen=True)
class Reminder:
    slot: str  # stable name within one approval and approver (part of the effect id)
    due_at: datetime  # UTC
    final: bool


def plan(
    expires_at: datetime,
    *,
    adopted_at: datetime,
    offsets: Sequence[timedelta],
    tz: tzinfo,
    quiet: QuietHours,
    snooze: Snooze | None = None,
) -> list[Reminder]:
    """Every reminder one approver gets for one approval, in the order they are due."""
    if not offsets or adopted_at >= expires_at:
        return []
    ordered = sorted(set(offsets), reverse=True)
    last_offset = ordered[-1]
    final = Reminder(slot_name(last_offset), max(expires_at - last_offset, adopted_at), True)
    earlier = [
        Reminder(slot_name(offset), outside_quiet(expires_at - offset, tz, quiet), False)
        for offset in ordered[:-1]
        if expires_at - offset >= adopted_at
    ]
    if snooze is not None:
        earlier = [r for r in earlier if not snooze.at <= r.due_at < snooze.until]
        slot = f"{SNOOZE_SLOT_PREFIX}{int(snooze.until.timestamp())}"
        earlier.append(Reminder(slot, outside_quiet(snooze.until, tz, quiet), False))
    kept: dict[datetime, Reminder] = {}
    for reminder in sorted(earlier, key=lambda r: r.due_at):
        # Two reminders moved to the same end of quiet hours make one DM, not two.
        if reminder.due_at < final.due_at:
            kept.setdefault(reminder.due_at, reminder)
    return [*kept.values(), final]


def due(reminders: Sequence[Reminder], now: datetime, expires_at: datetime) -> Reminder | None:
    """The reminder to send at `now`: the latest one due, none once the approval has expired.

    Only the latest counts, so a bot that was down across several reminder
    times sends one DM when it is back, not a burst of stale ones.
    """
    if now >= expires_at:
        return None
    passed = [r for r in reminders if r.due_at <= now]
    return max(passed, key=lambda r: r.due_at) if passed else None


def outside_quiet(at: datetime, tz: tzinfo, quiet: QuietHours) -> datetime:
    """`at`, or the end of the quiet window it falls in (in the approver's local time), in UTC."""
    local = at.astimezone(tz)
    if not quiet.contains(local.time()):
        return at
    # Wall-clock arithmetic on purpose: the window ends at the same local time on a
    # day when the clocks change, whatever that means in UTC.
    end = datetime.combine(local.date(), quiet.end, tzinfo=tz)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=tz)
    return end.astimezone(UTC)


def slot_name(offset: timedelta) -> str:
    """ "before-24h", "before-90m", "before-45s": readable, and stable for a given offset."""
    seconds = int(offset.total_seconds())
    if seconds % 3600 == 0:
        return f"before-{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"before-{seconds // 60}m"
    return f"before-{seconds}s"
