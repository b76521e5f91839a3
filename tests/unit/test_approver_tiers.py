"""Approver tiers, as pure rules: which tier an amount reaches, the ladder a channel sees,
the escalation steps of an approval, and when one person hears of an escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.approver_tiers import (
    GLOBAL,
    Placed,
    ScopeTiers,
    Tier,
    escalation_steps,
    ladder,
    level_of,
    send_at,
)
from bot.config import QuietHours

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(hours=24)
QUIET = QuietHours.parse("20:00-08:00")


def tiers(*spec: tuple[int, str], **extra: object) -> ScopeTiers:
    return ScopeTiers.of([Tier(over=Decimal(over), members=(who,), **extra) for over, who in spec])  # type: ignore[arg-type]


def names(placed: list[Placed]) -> list[tuple[str, str]]:
    return [(p.scope, p.tier.members[0]) for p in placed]


LEAD_AND_FINANCE = tiers((0, "U0LEAD"), (1000, "S0FINANCE"), (10000, "U0CFO"))


@pytest.mark.parametrize(
    ("amount", "member"),
    [
        (Decimal("0.01"), "U0LEAD"),
        (Decimal("999.99"), "U0LEAD"),
        (Decimal("1000"), "S0FINANCE"),  # "from $1 000 up" includes $1 000
        (Decimal("1000.01"), "S0FINANCE"),
        (Decimal("9999.99"), "S0FINANCE"),
        (Decimal("10000.00"), "U0CFO"),
        (Decimal("250000"), "U0CFO"),
        (None, "U0CFO"),  # an amount the bot could not read: the highest tier, never fewer eyes
    ],
)
def test_an_amount_gets_the_highest_tier_it_reaches(amount: Decimal | None, member: str) -> None:
    placed = ladder(None, LEAD_AND_FINANCE)
    assert placed[level_of(placed, amount)].tier.members == (member,)


def test_below_every_tier_there_is_no_tier() -> None:
    placed = ladder(None, tiers((1000, "S0FINANCE")))
    assert level_of(placed, Decimal(999)) == -1
    assert level_of([], Decimal(5)) == -1
    assert level_of([], None) == -1


def test_a_channel_replaces_the_global_tiers_from_its_lowest_up() -> None:
    channel = tiers((1000, "S0HIRING_FINANCE"))
    assert names(ladder(channel, LEAD_AND_FINANCE)) == [
        (GLOBAL, "U0LEAD"),  # below the channel's lowest tier, the global one still applies
        ("channel", "S0HIRING_FINANCE"),
    ]
    assert names(ladder(tiers((0, "U0ANA")), LEAD_AND_FINANCE)) == [("channel", "U0ANA")]
    assert names(ladder(None, None)) == []
    assert names(ladder(ScopeTiers(), LEAD_AND_FINANCE)) == names(ladder(None, LEAD_AND_FINANCE))


def test_a_tier_without_members_is_no_tier_and_one_per_amount() -> None:
    scope = ScopeTiers.of(
        [Tier(members=("U1",)), Tier(over=Decimal(5), members=()), Tier(members=("U2",))]
    )
    assert [t.members for t in scope.tiers] == [("U2",)]
    assert scope.put(Tier(members=())).tiers == ()


def test_labels_name_the_tier() -> None:
    assert Tier(members=("U1",)).label() == "Approvers"
    assert Tier(over=Decimal(1000), members=("U1",)).label() == "Approvers for $1,000.00 and more"


# --- escalation ---------------------------------------------------------------------------


def test_each_level_waits_its_own_delay_then_the_admins_hear() -> None:
    scope = ScopeTiers.of(
        [
            Tier(members=("U0LEAD",)),
            Tier(over=Decimal(1000), members=("S0FINANCE",), escalate_after=timedelta(hours=12)),
            Tier(over=Decimal(10000), members=("U0CFO",)),
        ]
    )
    placed = ladder(None, scope)
    steps = escalation_steps(placed, 0, T0, DAY)
    assert [(s.level, s.to.tier.members if s.to else "admins", s.waited) for s in steps] == [
        (1, ("S0FINANCE",), DAY),  # the lead's tier: ESCALATE_AFTER
        (2, ("U0CFO",), DAY + timedelta(hours=12)),  # finance's own 12 h
        (3, "admins", 2 * DAY + timedelta(hours=12)),  # past the top tier: the admins
    ]
    assert [s.due_at for s in steps] == [T0 + s.waited for s in steps]
    # From the top tier, only the admins are left.
    assert [(s.level, s.to) for s in escalation_steps(placed, 2, T0, DAY)] == [(1, None)]


def test_no_delay_means_no_escalation_past_that_tier() -> None:
    placed = ladder(None, LEAD_AND_FINANCE)
    assert escalation_steps(placed, 0, T0, None) == []  # ESCALATE_AFTER unset, no tier's own
    off = ScopeTiers.of(
        [Tier(members=("U0LEAD",)), Tier(over=Decimal(1000), members=("S0F",), never_escalate=True)]
    )
    steps = escalation_steps(ladder(None, off), 0, T0, DAY)
    assert [s.level for s in steps] == [1]  # the lead escalates to finance; finance never does


def test_below_every_tier_escalates_to_the_lowest() -> None:
    placed = ladder(None, tiers((1000, "S0FINANCE")))
    steps = escalation_steps(placed, -1, T0, DAY)
    assert [(s.level, s.to.tier.members if s.to else None) for s in steps] == [
        (1, ("S0FINANCE",)),
        (2, None),
    ]
    assert [s.level for s in escalation_steps([], -1, T0, DAY)] == [1]  # nobody set: admins


# --- when a person hears ------------------------------------------------------------------


def test_quiet_hours_hold_an_escalation_until_morning() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    due = datetime(2031, 3, 3, 21, 0, tzinfo=UTC)  # 22:00 in Berlin
    expires = due + timedelta(hours=30)
    assert send_at(due, expires, berlin, QUIET) == datetime(2031, 3, 4, 7, 0, tzinfo=UTC)
    daytime = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)
    assert send_at(daytime, expires, berlin, QUIET) == daytime


def test_quiet_hours_give_way_in_the_last_two_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    due = datetime(2031, 3, 3, 21, 0, tzinfo=UTC)  # 22:00 in Berlin, quiet until 07:00 UTC
    # Expiry at 04:00 UTC: the morning is too late, so it goes at 02:00 UTC (2 h before).
    expires = datetime(2031, 3, 4, 4, 0, tzinfo=UTC)
    assert send_at(due, expires, berlin, QUIET) == datetime(2031, 3, 4, 2, 0, tzinfo=UTC)
    # Due within the last two hours already: at once, quiet or not.
    late = expires - timedelta(hours=1)
    assert send_at(late, expires, berlin, QUIET) == late
