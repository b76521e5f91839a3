"""Routing: precedence of explicit channel → job route → type route → DEFAULT_CHANNEL, keys,
audited changes, and the channel check's words for each reason a card cannot be posted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.opentrain import ApprovalType
from bot.routing import Router, describe_key, route_key
from bot.store import SqliteStore

AT = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(str(tmp_path / "routes.db"))
    yield opened
    await opened.close()


@pytest.mark.parametrize(
    ("target", "key"),
    [
        ("hire", "type:proposal_hire"),
        ("fund", "type:milestone_fund"),
        ("payout", "type:milestone_approve"),
        ("end", "type:contract_end"),
        ("milestone_approve", "type:milestone_approve"),
        ("job_dashcam", "job:job_dashcam"),
        ("unknown", "job:unknown"),  # OpenTrain's UNKNOWN type is never a route key
    ],
)
def test_route_keys(target: str, key: str) -> None:
    assert route_key(target) == key


def test_keys_described_in_words() -> None:
    assert describe_key("type:milestone_approve") == "payout requests"
    assert describe_key("type:contract_end") == "end requests"
    assert describe_key("job:job_1") == "job job_1"


async def test_precedence_explicit_then_job_then_type_then_default(store: SqliteStore) -> None:
    router = Router(store, "C0DEFAULT")
    fund = ApprovalType.MILESTONE_FUND

    async def where(explicit: str | None = None, job: str | None = "job_1") -> str | None:
        return await router.resolve(explicit=explicit, job_id=job, approval_type=fund)

    assert await where() == "C0DEFAULT"
    await router.set_route("type:milestone_fund", "C0TYPE", actor="slack:U1", at=AT)
    assert await where() == "C0TYPE"
    await router.set_route("job:job_1", "C0JOB", actor="slack:U1", at=AT)
    assert await where() == "C0JOB"
    assert await where(job="job_2") == "C0TYPE"  # another job's route does not apply
    assert await where(job=None) == "C0TYPE"
    assert await where(explicit="C0ASKED") == "C0ASKED"
    hire = await router.resolve(
        explicit=None, job_id="job_2", approval_type=ApprovalType.PROPOSAL_HIRE
    )
    assert hire == "C0DEFAULT"  # the fund route is not a hire route


async def test_no_default_means_no_channel(store: SqliteStore) -> None:
    router = Router(store, None)
    assert (
        await router.resolve(explicit=None, job_id=None, approval_type=ApprovalType.CONTRACT_END)
        is None
    )


async def test_changes_are_stored_and_audited(store: SqliteStore) -> None:
    router = Router(store, None)
    await router.set_route("job:job_1", "C0JOB", actor="slack:U0ANA", at=AT)
    assert await router.routes() == {"job:job_1": "C0JOB"}
    assert await router.remove_route("job:job_1", actor="slack:U0BEN", at=AT) is True
    assert await router.remove_route("job:job_1", actor="slack:U0BEN", at=AT) is False
    assert await router.routes() == {}
    audit = [(e.action, e.actor, e.details) for e in await store.read_audit()]
    assert audit == [
        ("route_set", "slack:U0ANA", {"key": "job:job_1", "channel": "C0JOB"}),
        ("route_removed", "slack:U0BEN", {"key": "job:job_1"}),
    ]
