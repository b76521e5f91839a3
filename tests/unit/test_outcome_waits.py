"""OutcomeWaits over a real SQLite store: woken by this process's notify, or by its one watcher
when another process (another store connection) applied the outcome; a timeout answers with
what is stored; the watcher reads only what is waited on and stops when nobody waits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.opentrain import ApprovalType
from bot.outcome_waits import OutcomeWaits
from bot.store import SqliteStore
from bot.tracked_approvals import Requester, TrackedApproval, TrackedStatus
from tests.support.wait import wait_for

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NEVER = 3600.0  # a watcher interval no test waits out: only notify can wake its waiters
LONG = 60.0  # a wait no test waits out


class CountingStore(SqliteStore):
    """A real SQLite store that counts the approval reads made through it."""

    reads: Counter[str]

    async def get_approval(self, approval_id: str) -> TrackedApproval | None:
        self.reads[approval_id] += 1
        return await super().get_approval(approval_id)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CountingStore]:
    opened = await CountingStore.open(tmp_path / "bot.db")
    opened.reads = Counter()
    yield opened
    await opened.close()


@pytest.fixture
async def elsewhere(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """The same database through another connection: another replica's writes."""
    opened = await SqliteStore.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


def pending(approval_id: str) -> TrackedApproval:
    return TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.MILESTONE_FUND,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=T0 + timedelta(hours=72),
        requester=Requester(kind="agent", id="planner"),
        next_check_at=T0,
        adopted_at=T0,
    )


async def track(store: SqliteStore, *approval_ids: str) -> None:
    for approval_id in approval_ids:
        assert await store.add_approval(pending(approval_id))


async def confirm(store: SqliteStore, approval_id: str) -> TrackedApproval:
    """The tracker's compare-and-set transition, as whichever process wins it does it."""
    current = await store.get_approval(approval_id)
    assert current is not None
    confirmed = current.evolve(status=TrackedStatus.CONFIRMED, resolved_at=T0)
    assert await store.transition(approval_id, TrackedStatus.PENDING, confirmed)
    return confirmed


async def waiting(waits: OutcomeWaits, count: int) -> None:
    await wait_for(lambda: waits.waiting == count, message=f"{count} waiters registered")


async def test_notify_wakes_every_waiter_with_one_read(store: CountingStore) -> None:
    await track(store, "apr_1")
    waits = OutcomeWaits(store, interval=NEVER)
    waiters = [asyncio.create_task(waits.wait("apr_1", LONG)) for _ in range(50)]
    await waiting(waits, 50)
    await wait_for(lambda: store.reads["apr_1"] == 50, message="each waiter's first read")

    await confirm(store, "apr_1")
    waits.notify("apr_1")
    answers = await asyncio.wait_for(asyncio.gather(*waiters), LONG / 2)

    assert {a.status for a in answers if a is not None} == {TrackedStatus.CONFIRMED}
    assert len(answers) == 50
    assert waits.looks == 1  # the watcher's one read for all 50, no sweep
    assert store.reads["apr_1"] == 51 + 1  # + the transition's own read in `confirm`
    await wait_for(lambda: not waits.watching, message="watcher stopped")


async def test_an_outcome_applied_elsewhere_wakes_the_waiter(
    store: CountingStore, elsewhere: SqliteStore
) -> None:
    await track(store, "apr_1")
    waits = OutcomeWaits(store, interval=0.05)
    waiter = asyncio.create_task(waits.wait("apr_1", LONG))
    await waiting(waits, 1)

    await confirm(elsewhere, "apr_1")  # another replica won; no notify here
    answer = await asyncio.wait_for(waiter, LONG / 2)

    assert answer is not None and answer.status is TrackedStatus.CONFIRMED
    await wait_for(lambda: not waits.watching, message="watcher stopped")


async def test_a_timeout_answers_with_what_is_stored_now(
    store: CountingStore, elsewhere: SqliteStore
) -> None:
    await track(store, "apr_1")
    waits = OutcomeWaits(store, interval=NEVER)
    waiter = asyncio.create_task(waits.wait("apr_1", 0.5))
    await waiting(waits, 1)
    current = await elsewhere.get_approval("apr_1")
    assert current is not None
    # A change that is not an outcome (the card was posted) wakes nobody but is answered.
    assert await elsewhere.update_approval(current.evolve(card_ts="1.000001"))

    answer = await waiter

    assert answer is not None and answer.status is TrackedStatus.PENDING
    assert answer.card_ts == "1.000001"
    assert waits.waiting == 0


async def test_untracked_and_ended_approvals_are_answered_at_once(store: CountingStore) -> None:
    await track(store, "apr_done")
    await confirm(store, "apr_done")
    waits = OutcomeWaits(store, interval=NEVER)

    assert await waits.wait("apr_unknown", LONG) is None
    ended = await waits.wait("apr_done", LONG)
    assert ended is not None and ended.status is TrackedStatus.CONFIRMED
    assert not waits.watching and waits.waiting == 0


async def test_the_watcher_reads_each_waited_on_approval_once_per_sweep_then_stops(
    store: CountingStore, elsewhere: SqliteStore
) -> None:
    await track(store, "apr_1", "apr_2", "apr_other")
    waits = OutcomeWaits(store, interval=0.05)
    waiters = [asyncio.create_task(waits.wait(a, LONG)) for a in ["apr_1"] * 5 + ["apr_2"] * 3]
    await waiting(waits, 8)
    store.reads.clear()
    await wait_for(lambda: store.reads["apr_1"] >= 3, message="a few sweeps")

    # One read per distinct approval per sweep, whatever the number of waiters.
    assert abs(store.reads["apr_1"] - store.reads["apr_2"]) <= 1
    assert store.reads["apr_other"] == 0
    await confirm(elsewhere, "apr_1")
    await confirm(elsewhere, "apr_2")
    await asyncio.wait_for(asyncio.gather(*waiters), LONG / 2)

    # Its task ended: nothing reads the store while nobody waits.
    await wait_for(lambda: not waits.watching, message="watcher stopped")


async def test_close_answers_every_waiter_at_once(store: CountingStore) -> None:
    await track(store, "apr_1")
    waits = OutcomeWaits(store, interval=0.05)
    waiters = [asyncio.create_task(waits.wait("apr_1", LONG)) for _ in range(3)]
    await waiting(waits, 3)

    await waits.close()
    answers = await asyncio.wait_for(asyncio.gather(*waiters), LONG / 2)

    assert [a.status for a in answers if a is not None] == [TrackedStatus.PENDING] * 3
    assert not waits.watching
    later = await waits.wait("apr_1", LONG)  # after close: answered at once
    assert later is not None and later.status is TrackedStatus.PENDING
