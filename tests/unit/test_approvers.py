"""Approvers per channel and globally (stored, audited), and the Slack directory behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approver_lists import Approvers
from bot.clock import FixedClock
from bot.explain import NotPossible
from bot.opentrain.models import HireTerms
from bot.people import People, Person
from bot.store import SqliteStore
from bot.store.kinds import APPROVERS
from bot.tracked_approvals import ApprovalDetails, Escalation, Requester, TrackedApproval
from tests.unit.cards_helpers import fund, tracked

T0 = datetime(2031, 11, 10, 9, 0, tzinfo=UTC)
KAI = Requester(kind="slack", id="U0KAI")


class FakeSlack:
    """Answers `users.info` and `usergroups.users.list` like Slack, counting calls."""

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {
            "U0ANA": {"id": "U0ANA", "tz": "Europe/Berlin", "deleted": False, "is_bot": False},
            "U0GONE": {"id": "U0GONE", "tz": "Europe/London", "deleted": True, "is_bot": False},
            "U0BOT": {"id": "U0BOT", "deleted": False, "is_bot": True},
            "U0ODD": {"id": "U0ODD", "tz": "Mars/Olympus_Mons"},
        }
        self.groups = {"S0FINANCE": ["U0ANA", "U0BEN"], "S0OPS": ["U0BEN", "U0KAI"]}
        self.calls: list[tuple[str, str]] = []
        self.fail_with: str | None = None

    async def users_info(self, *, user: str) -> dict[str, Any]:
        self.calls.append(("users.info", user))
        if self.fail_with:
            raise SlackApiError("failed", {"ok": False, "error": self.fail_with})
        if user not in self.users:
            raise SlackApiError("failed", {"ok": False, "error": "user_not_found"})
        return {"ok": True, "user": self.users[user]}

    async def usergroups_users_list(self, *, usergroup: str) -> dict[str, Any]:
        self.calls.append(("usergroups.users.list", usergroup))
        if usergroup not in self.groups:
            raise SlackApiError("failed", {"ok": False, "error": "no_such_subteam"})
        return {"ok": True, "users": list(self.groups[usergroup])}


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> FakeSlack:
    return FakeSlack()


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def people(slack: FakeSlack, ticks: Ticks) -> People:
    client: AsyncWebClient = slack  # type: ignore[assignment]
    return People(client, ttl=timedelta(minutes=10), monotonic=ticks)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await SqliteStore.open(tmp_path / "cosign.db")
    yield store
    await store.close()


@pytest.fixture
def approvers(store: SqliteStore, people: People) -> Approvers:
    return Approvers(store, FixedClock(T0), people)


# --- configuration --------------------------------------------------------------------


def approval(amount: str | None, channel: str | None = "C0HIRING", **extra: Any) -> TrackedApproval:
    """A funding request of `amount` dollars carded in `channel`, asked by Kai."""
    details = ApprovalDetails(amount_usd=Decimal(amount) if amount is not None else None)
    return fund(channel_id=channel, details=details, requester=KAI, **extra)


async def expected_members(
    approvers: Approvers, amount: str | None, channel: str | None
) -> list[str]:
    return (await approvers.expected(approval(amount, channel))).configured


async def test_nothing_configured_means_nobody(approvers: Approvers) -> None:
    assert await expected_members(approvers, "100", "C0HIRING") == []
    assert await expected_members(approvers, "100", None) == []
    assert await approvers.all() == {}
    assert await approvers.to_remind(approval("100")) == []


async def test_a_channel_list_replaces_the_global_one(approvers: Approvers) -> None:
    await approvers.change("global", "set", ["U0BEN"], by_user="U0ANA")
    await approvers.change("C0HIRING", "set", ["U0ANA", "S0FINANCE"], by_user="U0ANA")
    assert await expected_members(approvers, "100", "C0HIRING") == ["U0ANA", "S0FINANCE"]
    assert await expected_members(approvers, "100", "C0GENERAL") == ["U0BEN"]
    assert await expected_members(approvers, "100", None) == ["U0BEN"]
    assert {scope: tiers.tiers[0].members for scope, tiers in (await approvers.all()).items()} == {
        "C0HIRING": ("U0ANA", "S0FINANCE"),
        "global": ("U0BEN",),
    }


async def test_tiers_by_amount_in_a_channel_else_globally(approvers: Approvers) -> None:
    await approvers.change("global", "set", ["U0LEAD"], by_user="U0ANA")
    await approvers.change("global", "set", ["S0FINANCE"], over=Decimal(1000), by_user="U0ANA")
    await approvers.change("C0HIRING", "set", ["U0CFO"], over=Decimal(5000), by_user="U0ANA")
    table = [
        ("999.99", "C0HIRING", ["U0LEAD"], "Approvers"),
        ("1000", "C0HIRING", ["S0FINANCE"], "Approvers for $1,000.00 and more"),
        ("4999.99", "C0HIRING", ["S0FINANCE"], "Approvers for $1,000.00 and more"),
        ("5000", "C0HIRING", ["U0CFO"], "Approvers for $5,000.00 and more"),
        ("5000", "C0GENERAL", ["S0FINANCE"], "Approvers for $1,000.00 and more"),
        (None, "C0GENERAL", ["S0FINANCE"], "Approvers for $1,000.00 and more"),
        (None, "C0HIRING", ["U0CFO"], "Approvers for $5,000.00 and more"),
    ]
    for amount, channel, members, label in table:
        expected = await approvers.expected(approval(amount, channel))
        assert (expected.configured, expected.label) == (members, label), (amount, channel)


async def test_a_hire_is_tiered_by_its_total_with_fees(approvers: Approvers) -> None:
    await approvers.change("global", "set", ["U0LEAD"], by_user="U0ANA")
    await approvers.change("global", "set", ["U0CFO"], over=Decimal(1000), by_user="U0ANA")
    # $900 + $90 fee + $9.95 = $999.95: still the lead; $901 → $1,001.05: the CFO.
    for amount, member in (("900", "U0LEAD"), ("901", "U0CFO")):
        terms = HireTerms(name="Batch", description="Work", amount=Decimal(amount))
        hire = tracked(channel_id="C0HIRING", terms=terms, requester=KAI)
        assert (await approvers.expected(hire)).configured == [member]


async def test_add_and_remove_keep_order_and_never_repeat(approvers: Approvers) -> None:
    assert await approvers.change("C1", "set", ["U0ANA", "U0ANA", "S0OPS"], by_user="U0ANA") == [
        "U0ANA",
        "S0OPS",
    ]
    assert await approvers.change("C1", "add", ["U0KAI", "U0ANA"], by_user="U0ANA") == [
        "U0ANA",
        "S0OPS",
        "U0KAI",
    ]
    assert await approvers.change("C1", "remove", ["U0ANA", "U0LEI"], by_user="U0ANA") == [
        "S0OPS",
        "U0KAI",
    ]


async def test_clearing_a_channel_falls_back_to_global(approvers: Approvers) -> None:
    await approvers.change("global", "set", ["U0BEN"], by_user="U0ANA")
    await approvers.change("C0HIRING", "set", ["U0ANA"], by_user="U0ANA")
    await approvers.change("C0HIRING", "set", [], by_user="U0ANA")
    assert await expected_members(approvers, "10", "C0HIRING") == ["U0BEN"]
    assert "C0HIRING" not in await approvers.all()


async def test_a_list_stored_before_tiers_reads_as_the_base_tier(
    approvers: Approvers, store: SqliteStore
) -> None:
    await store.put_record(APPROVERS, "C0HIRING", ["U0ANA", "S0FINANCE"])
    assert await expected_members(approvers, "50000", "C0HIRING") == ["U0ANA", "S0FINANCE"]
    await approvers.change("C0HIRING", "add", ["U0CFO"], over=Decimal(1000), by_user="U0ANA")
    assert await expected_members(approvers, "10", "C0HIRING") == ["U0ANA", "S0FINANCE"]
    assert await expected_members(approvers, "1000", "C0HIRING") == ["U0CFO"]


async def test_escalation_and_tier_admins_need_the_tier(approvers: Approvers) -> None:
    with pytest.raises(NotPossible, match=r"No approvers are set from \$1,000.00 globally"):
        await approvers.set_escalation(
            "global", Decimal(1000), timedelta(hours=12), off=False, by_user="U0ANA"
        )
    await approvers.change("global", "set", ["S0FINANCE"], over=Decimal(1000), by_user="U0ANA")
    tier = await approvers.set_escalation(
        "global", Decimal(1000), timedelta(hours=12), off=False, by_user="U0ANA"
    )
    assert tier.escalate_after == timedelta(hours=12)
    tier = await approvers.set_admins("global", Decimal(1000), ["U0CFO"], by_user="U0ANA")
    assert (tier.admins, tier.escalate_after) == (("U0CFO",), timedelta(hours=12))
    # Changing the members keeps the tier's escalation and admins.
    await approvers.change("global", "add", ["U0KAI"], over=Decimal(1000), by_user="U0ANA")
    kept = (await approvers.scope("global")).at(Decimal(1000))
    assert kept is not None and kept.admins == ("U0CFO",) and kept.members == ("S0FINANCE", "U0KAI")


async def test_every_change_is_audited_with_before_and_after(
    approvers: Approvers, store: SqliteStore
) -> None:
    await approvers.change("C1", "set", ["U0ANA"], by_user="U0ANA")
    await approvers.change("C1", "add", ["S0FINANCE"], over=Decimal(1000), by_user="U0BEN")
    await approvers.set_escalation("C1", Decimal(1000), None, off=True, by_user="U0BEN")
    await approvers.set_admins("C1", Decimal(1000), ["U0CFO"], by_user="U0BEN")
    entries = await store.read_audit()
    assert [(e.action, e.actor, e.details) for e in entries] == [
        (
            "approvers_changed",
            "slack:U0ANA",
            {"scope": "C1", "over": "0.00", "change": "set", "before": [], "after": ["U0ANA"]},
        ),
        (
            "approvers_changed",
            "slack:U0BEN",
            {
                "scope": "C1",
                "over": "1000.00",
                "change": "add",
                "before": [],
                "after": ["S0FINANCE"],
            },
        ),
        ("escalation_changed", "slack:U0BEN", {"scope": "C1", "over": "1000.00", "after": "off"}),
        (
            "tier_admins_changed",
            "slack:U0BEN",
            {"scope": "C1", "over": "1000.00", "before": [], "after": ["U0CFO"]},
        ),
    ]
    assert all(e.at == T0 for e in entries)


async def test_people_expand_groups_and_follow_escalations(approvers: Approvers) -> None:
    await approvers.change("C0HIRING", "set", ["U0LEI", "S0FINANCE", "S0OPS"], by_user="U0ANA")
    assert await approvers.people_of(approval("10")) == ["U0LEI", "U0ANA", "U0BEN", "U0KAI"]
    # Kai asked: four eyes keeps him out of the reminders.
    assert await approvers.to_remind(approval("10")) == ["U0LEI", "U0ANA", "U0BEN"]
    escalated = approval(
        "10",
        escalations=(
            Escalation(
                level=1, to=("U0CFO",), over=Decimal(1000), waited=timedelta(hours=24), at=T0
            ),
        ),
    )
    assert await approvers.people_of(escalated) == ["U0LEI", "U0ANA", "U0BEN", "U0KAI", "U0CFO"]


# --- the Slack directory ------------------------------------------------------------------


async def test_a_person_knows_their_zone_and_whether_they_can_get_a_dm(people: People) -> None:
    ana = await people.person("U0ANA")
    assert ana == Person("U0ANA", tz_name="Europe/Berlin")
    assert ana.tz == ZoneInfo("Europe/Berlin") and ana.unreachable is None
    assert (await people.person("U0GONE")).unreachable == "deactivated"
    assert (await people.person("U0BOT")).unreachable == "bot"
    assert (await people.person("U0NOBODY")).unreachable == "deactivated"


async def test_unknown_or_missing_zones_mean_utc(people: People) -> None:
    assert (await people.person("U0ODD")).tz is UTC
    assert (await people.person("U0BOT")).tz is UTC


async def test_people_are_cached_for_a_while(
    people: People, slack: FakeSlack, ticks: Ticks
) -> None:
    await people.person("U0ANA")
    await people.person("U0ANA")
    assert slack.calls == [("users.info", "U0ANA")]
    ticks.now += 601
    await people.person("U0ANA")
    assert slack.calls == [("users.info", "U0ANA")] * 2


async def test_a_slack_outage_is_not_mistaken_for_a_missing_user(
    people: People, slack: FakeSlack
) -> None:
    slack.fail_with = "ratelimited"
    with pytest.raises(SlackApiError):
        await people.person("U0ANA")


async def test_groups_expand_once_per_while_and_unknown_groups_are_empty(
    people: People, slack: FakeSlack
) -> None:
    assert await people.expand(["S0FINANCE", "U0ANA", "S0NOPE", "S0FINANCE"]) == [
        "U0ANA",
        "U0BEN",
    ]
    await people.members("S0FINANCE")
    assert slack.calls.count(("usergroups.users.list", "S0FINANCE")) == 1
