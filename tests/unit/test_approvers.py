"""Approvers per channel and globally (stored, audited), and the Slack directory behind them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approver_lists import Approvers
from bot.clock import FixedClock
from bot.people import People, Person
from bot.store import SqliteStore

T0 = datetime(2031, 11, 10, 9, 0, tzinfo=UTC)


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


async def test_nothing_configured_means_nobody(approvers: Approvers) -> None:
    assert await approvers.for_channel("C0HIRING") == []
    assert await approvers.for_channel(None) == []
    assert await approvers.all() == {}


async def test_a_channel_list_replaces_the_global_one(approvers: Approvers) -> None:
    await approvers.change("global", "set", ["U0BEN"], by_user="U0ANA")
    await approvers.change("C0HIRING", "set", ["U0ANA", "S0FINANCE"], by_user="U0ANA")
    assert await approvers.for_channel("C0HIRING") == ["U0ANA", "S0FINANCE"]
    assert await approvers.for_channel("C0GENERAL") == ["U0BEN"]
    assert await approvers.for_channel(None) == ["U0BEN"]
    assert await approvers.all() == {"C0HIRING": ["U0ANA", "S0FINANCE"], "global": ["U0BEN"]}


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
    await approvers.change("C1", "set", ["U0ANA"], by_user="U0ANA")
    await approvers.change("C1", "set", [], by_user="U0ANA")
    assert await approvers.for_channel("C1") == ["U0BEN"]
    assert "C1" not in await approvers.all()


async def test_every_change_is_audited_with_before_and_after(
    approvers: Approvers, store: SqliteStore
) -> None:
    await approvers.change("C1", "set", ["U0ANA"], by_user="U0ANA")
    await approvers.change("C1", "add", ["S0FINANCE"], by_user="U0BEN")
    entries = await store.read_audit()
    assert [(e.action, e.actor, e.details) for e in entries] == [
        (
            "approvers_changed",
            "slack:U0ANA",
            {"scope": "C1", "change": "set", "before": [], "after": ["U0ANA"]},
        ),
        (
            "approvers_changed",
            "slack:U0BEN",
            {"scope": "C1", "change": "add", "before": ["U0ANA"], "after": ["U0ANA", "S0FINANCE"]},
        ),
    ]
    assert all(e.at == T0 for e in entries)


async def test_people_for_a_channel_expand_groups(approvers: Approvers) -> None:
    await approvers.change("C1", "set", ["U0LEI", "S0FINANCE", "S0OPS"], by_user="U0ANA")
    assert await approvers.people_for_channel("C1") == ["U0LEI", "U0ANA", "U0BEN", "U0KAI"]


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
