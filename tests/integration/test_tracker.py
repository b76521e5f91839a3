"""The tracker against the OpenTrain simulator and a real store: leases, fallback, holds, 404s."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.feed_lease import FeedLease
from bot.opentrain import Approval, OpenTrainClient, UpdateEvent
from bot.opentrain.models import HireTerms
from bot.outbox import EffectKind, effect
from bot.sandbox.opentrain.vocabulary import EventType
from bot.store import SqliteStore, Store
from bot.tracked_approvals import EXPIRY_GRACE, Requester, TrackedStatus
from bot.tracker import (
    DUE_BATCH,
    FALLBACK_SPREAD,
    FEED_ERRORS_BEFORE_FALLBACK,
    FEED_PAGE,
    SUPERSEDE_GRACE,
    Tracker,
)
from tests.integration.store.support import tracked
from tests.support.opentrain_sim import OpenTrainSimHandle

REQUESTER = Requester(kind="slack", id="U0ANA")


class SimTime:
    """The simulator's clock, read in-process (what FollowingClock follows over HTTP)."""

    def __init__(self, sim: OpenTrainSimHandle) -> None:
        self._sim = sim

    def now(self) -> datetime:
        return self._sim.state.now()

    async def sync(self) -> None:
        return None


class Harness:
    def __init__(self, sim: OpenTrainSimHandle, path: Path) -> None:
        self.sim = sim
        self.path = path
        self.stores: list[Store] = []
        self.clients: list[OpenTrainClient] = []
        self.wakeups = 0
        self.more_due = 0
        self.news: list[UpdateEvent] = []
        self.after_news: Callable[[], None] = lambda: None

    async def tracker(
        self, owner: str = "a", *, monotonic: Callable[[], float] = time.monotonic
    ) -> Tracker:
        store = await SqliteStore.open(self.path)
        client = OpenTrainClient(self.sim.origin, self.sim.full_token, max_attempts=1)
        self.stores.append(store)
        self.clients.append(client)
        return Tracker(
            store=store,
            opentrain=client,
            clock=SimTime(self.sim),
            owner=owner,
            lease=FeedLease(store, owner, monotonic=monotonic),
            on_effects=self._wake,
            on_activity=self._news,
            on_more_due=self._more_due,
        )

    def _more_due(self) -> None:
        self.more_due += 1

    def _wake(self) -> None:
        self.wakeups += 1

    async def _news(self, event: UpdateEvent) -> None:
        self.news.append(event)
        self.after_news()

    @property
    def store(self) -> Store:
        return self.stores[0]

    async def hire(self, proposal_id: str, amount: str = "100.00") -> Approval:
        terms = HireTerms(name="Batch", description="1k boxes", amount=Decimal(amount))
        return (await self.clients[0].hire(proposal_id, terms)).approval

    def updates_polls(self) -> int:
        return sum(1 for r in self.sim.sim.requests.since(0) if r["path"] == "/updates")

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        for store in self.stores:
            await store.close()


@pytest.fixture
async def harness(opentrain_sim: OpenTrainSimHandle, tmp_path: Path) -> AsyncIterator[Harness]:
    running = Harness(opentrain_sim, tmp_path / "bot.db")
    yield running
    await running.close()


async def test_adopt_queues_the_card_with_the_record_and_is_idempotent(harness: Harness) -> None:
    tracker = await harness.tracker()
    approval = await harness.hire("prop_ada")

    first = await tracker.adopt(approval, requester=REQUESTER, channel_id="C1")
    again = await tracker.adopt(approval, requester=REQUESTER, channel_id="C2")

    assert first.created and not again.created and again.approval.channel_id == "C1"
    card = await harness.store.get_effect(effect(approval.id, EffectKind.POST_CARD, _t()).id)
    assert card is not None and not card.done
    assert await harness.store.count_effects() == 1
    # Feed healthy: the only read planned is the one just after expiry.
    assert await harness.store.next_due_at() == approval.expires_at + EXPIRY_GRACE


async def test_only_the_leader_polls_and_a_resigning_leader_hands_over_at_once(
    harness: Harness,
) -> None:
    leader, standby = await harness.tracker("a"), await harness.tracker("b")
    await leader.poll_feed()
    await standby.poll_feed()
    await leader.poll_feed()
    assert harness.updates_polls() == 2

    await leader.lease.resign()
    await standby.poll_feed()
    await leader.poll_feed()
    assert harness.updates_polls() == 3
    assert await harness.store.lease_holder("feed-leader") == "b"


async def test_a_leader_that_lost_its_lease_mid_poll_leaves_the_cursor_alone(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = harness.sim.state
    for index in range(FEED_PAGE + 50):  # two pages
        state.emit(state.account().id, EventType.PROPOSAL_RECEIVED, f"prop_{index}", None, {})
    tracker = await harness.tracker()
    store = harness.store
    renewals: list[bool] = []
    acquire = store.acquire_lease

    async def taken_over_after_the_first_page(name: str, owner: str, ttl: timedelta) -> bool:
        renewals.append(not renewals and await acquire(name, owner, ttl))
        return renewals[-1]

    monkeypatch.setattr(store, "acquire_lease", taken_over_after_the_first_page)
    await tracker.poll_feed()

    assert renewals == [True, False]
    assert harness.updates_polls() == 1
    assert await store.get_cursor() is None


async def test_a_leader_whose_renewals_stopped_stops_before_the_next_event(
    harness: Harness,
) -> None:
    state = harness.sim.state
    for index in range(3):
        state.emit(state.account().id, EventType.PROPOSAL_RECEIVED, f"prop_{index}", None, {})
    now = [0.0]
    tracker = await harness.tracker(monotonic=lambda: now[0])

    def stalled_past_the_lease() -> None:
        now[0] += tracker.lease.ttl.total_seconds()  # no heartbeat renewed it meanwhile

    harness.after_news = stalled_past_the_lease
    assert await tracker.poll_feed() == 0

    assert len(harness.news) == 1  # the other two wait for whoever leads now
    assert not tracker.lease.leading
    assert await harness.store.get_cursor() is None


async def test_feed_errors_switch_to_polling_and_recovery_switches_back(
    harness: Harness,
) -> None:
    tracker = await harness.tracker()
    approval = await harness.hire("prop_ada")
    await tracker.adopt(approval, requester=REQUESTER, channel_id="C1")
    await harness.sim.fault(path="/updates", status=500)

    for _ in range(FEED_ERRORS_BEFORE_FALLBACK - 1):
        await tracker.poll_feed()
    assert await tracker.feed_healthy()
    await tracker.poll_feed()
    assert not await tracker.feed_healthy()
    polled_at = await harness.store.next_due_at()
    now = harness.sim.state.now()
    assert polled_at is not None and now - timedelta(seconds=1) <= polled_at
    assert polled_at <= now + FALLBACK_SPREAD

    await harness.sim.clear_faults()
    await tracker.poll_feed()
    assert await tracker.feed_healthy()
    assert await harness.store.next_due_at() == approval.expires_at + EXPIRY_GRACE


async def test_fallback_polls_a_fresh_approval_every_15_to_22_seconds(harness: Harness) -> None:
    tracker = await harness.tracker()
    approval = await harness.hire("prop_ada")
    await tracker.adopt(approval, requester=REQUESTER, channel_id="C1")
    await harness.sim.fault(path="/updates", status=403)
    await tracker.poll_feed()
    harness.sim.state.advance(FALLBACK_SPREAD.total_seconds())

    assert await tracker.check_due() == 1

    due, now = await harness.store.next_due_at(), harness.sim.state.now()
    assert due is not None
    assert now + timedelta(seconds=14) <= due <= now + timedelta(seconds=22.5)
    assert await tracker.check_due() == 0


async def test_no_access_to_the_feed_falls_back_at_once(harness: Harness) -> None:
    tracker = await harness.tracker()
    await harness.sim.fault(path="/updates", status=403, count=1)
    await tracker.poll_feed()
    assert not await tracker.feed_healthy()


async def test_a_hire_decline_is_held_once_before_it_is_applied(harness: Harness) -> None:
    tracker = await harness.tracker()
    approval = await harness.hire("prop_ada")
    await tracker.adopt(approval, requester=REQUESTER, channel_id="C1")
    harness.sim.state.decline(approval.id)
    await tracker.poll_feed()

    held = await harness.store.get_approval(approval.id)
    assert held is not None and held.status is TrackedStatus.PENDING
    due, now = await harness.store.next_due_at(), harness.sim.state.now()
    assert due is not None and now < due <= now + SUPERSEDE_GRACE

    harness.sim.state.advance(SUPERSEDE_GRACE.total_seconds())
    assert await tracker.check_due() == 1
    declined = await harness.store.get_approval(approval.id)
    assert declined is not None and declined.status is TrackedStatus.DECLINED
    reply = effect(approval.id, EffectKind.OUTCOME_REPLY, _t(), key="declined")
    assert await harness.store.get_effect(reply.id) is not None


async def test_a_newer_hire_turns_a_held_decline_into_a_supersede(harness: Harness) -> None:
    tracker = await harness.tracker()
    older = await harness.hire("prop_ada", "100.00")
    await tracker.adopt(older, requester=REQUESTER, channel_id="C1")
    newer = await harness.hire("prop_ada", "200.00")  # OpenTrain declines the older one
    await tracker.poll_feed()  # the feed saw the decline before the newer was adopted
    await tracker.adopt(newer, requester=REQUESTER, channel_id="C1")

    replaced = await harness.store.get_approval(older.id)
    assert replaced is not None
    assert (replaced.status, replaced.superseded_by) == (TrackedStatus.SUPERSEDED, newer.id)
    harness.sim.state.advance(SUPERSEDE_GRACE.total_seconds())
    assert await tracker.check_due() == 0
    assert await harness.store.get_effect(f"{older.id}:outcome_reply:declined") is None


async def test_a_404_is_shown_once_and_never_read_again(harness: Harness) -> None:
    tracker = await harness.tracker()
    approval = await harness.hire("prop_ada")
    tracked = (await tracker.adopt(approval, requester=REQUESTER, channel_id="C1")).approval
    del harness.sim.state.approvals[approval.id]
    wakeups = harness.wakeups

    assert await tracker.refresh(tracked) is True

    gone = await harness.store.get_approval(approval.id)
    assert gone is not None and gone.status is TrackedStatus.NOT_FOUND
    assert await harness.store.next_due_at() is None
    reply = effect(approval.id, EffectKind.OUTCOME_REPLY, _t(), key="not_found")
    assert await harness.store.get_effect(reply.id) is not None
    assert harness.wakeups == wakeups + 1
    assert await tracker.refresh(tracked) is False  # already terminal: nothing enqueued again


async def test_a_full_batch_of_due_checks_runs_again_at_once(harness: Harness) -> None:
    # A mass expiry: more approvals due than one batch (OpenTrain no longer knows them, so
    # each read ends one; what matters is that the reads succeed).
    tracker = await harness.tracker()
    now = harness.sim.state.now()
    for index in range(DUE_BATCH + 30):
        due = tracked(f"apr_gone_{index:03d}", adopted_at=now, next_check_at=now)
        await harness.store.add_approval(due.evolve(expires_at=now))

    assert await tracker.check_due() == DUE_BATCH
    assert harness.more_due == 1  # full: the scheduler runs it again right away
    assert await tracker.check_due() == 30
    assert harness.more_due == 1  # the rest fitted: back to the interval
    assert await harness.store.count_approvals(status=TrackedStatus.PENDING) == 0


async def test_due_checks_wait_for_the_interval_while_reads_fail(harness: Harness) -> None:
    tracker = await harness.tracker()
    now = harness.sim.state.now()
    for index in range(DUE_BATCH):
        due = tracked(f"apr_due_{index:03d}", adopted_at=now, next_check_at=now)
        await harness.store.add_approval(due.evolve(expires_at=now))
    await harness.sim.fault(path="/approvals/apr_due_007", status=503)

    assert await tracker.check_due() == DUE_BATCH
    assert harness.more_due == 0  # an outage is not hammered at full speed


def _t() -> datetime:
    """Any time: effect ids do not depend on it."""
    return datetime.now(UTC)
