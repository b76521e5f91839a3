"""The `Store` contract, run against SqliteStore (a tmp file) and RedisStore (a real server).

Several instances opened on one backend model several bot processes: two
SqliteStores on one file (two connections, two worker threads) or two Redis
clients on one server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.approvals import (
    ApprovalDetails,
    AuditEntry,
    Effect,
    EffectKind,
    HireTerms,
    Requester,
    TrackedApproval,
    TrackedStatus,
    effect,
)
from bot.opentrain.models import ApprovalType
from bot.store import RedisStore, SqliteStore, Store
from tests.support.wait import wait_for

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
TINY = timedelta(milliseconds=50)


def tracked(
    approval_id: str = "apr_1",
    *,
    status: TrackedStatus = TrackedStatus.PENDING,
    adopted_at: datetime = T0,
    next_check_at: datetime = T0 + timedelta(hours=1),
    proposal_id: str | None = None,
    **changes: Any,
) -> TrackedApproval:
    return TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.PROPOSAL_HIRE,
        status=status,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=T0 + timedelta(days=3),
        requester=Requester(kind="slack", id="U123"),
        proposal_id=proposal_id,
        next_check_at=next_check_at,
        adopted_at=adopted_at,
        **changes,
    )


async def _is_none(value: Awaitable[object]) -> bool:
    return await value is None


def outbox_item(effect_id: str, due_at: datetime = T0, subject: str = "apr_1") -> Effect:
    return Effect(id=effect_id, subject=subject, kind=EffectKind.UPDATE_CARD, due_at=due_at)


class Backend:
    """Opens store instances on one backend; each instance stands for one bot process."""

    def __init__(self, kind: str, opener: Callable[[], Awaitable[Store]]) -> None:
        self.kind = kind
        self._opener = opener
        self._opened: list[Store] = []

    async def open(self) -> Store:
        store = await self._opener()
        self._opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._opened:
            await store.close()


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "cosign.db"

        async def opener() -> Store:
            return await SqliteStore.open(path)
    else:
        url = request.getfixturevalue("redis_url")

        async def opener() -> Store:
            return await RedisStore.connect(url, prefix="contract:")

    backend = Backend(request.param, opener)
    yield backend
    await backend.close_all()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()


# --- tracked approvals ------------------------------------------------------------------


async def test_add_is_idempotent_and_keeps_the_first_record(store: Store) -> None:
    first = tracked(channel_id="C1")
    assert await store.add_approval(first) is True
    assert await store.add_approval(first.evolve(channel_id="C2")) is False
    assert await store.get_approval("apr_1") == first
    assert await store.get_approval("apr_unknown") is None


async def test_add_enqueues_its_effects_only_when_it_inserts(store: Store) -> None:
    card = effect("apr_1", EffectKind.POST_CARD, T0)
    assert await store.add_approval(tracked(), [card]) is True
    assert await store.get_effect(card.id) == card
    claimed = await store.claim_effects(T0, "a", limit=10, lease=LEASE)
    assert [e.id for e in claimed] == [card.id]

    again = effect("apr_1", EffectKind.POST_CARD, T0, key="again")
    assert await store.add_approval(tracked(), [again]) is False
    assert await store.get_effect(again.id) is None
    assert await store.count_effects() == 1


async def test_records_round_trip_every_field(store: Store) -> None:
    full = tracked(
        proposal_id="prop_1",
        job_id="job_1",
        created_at=T0 - timedelta(minutes=1),
        details=ApprovalDetails(freelancer_name="Ada L.", amount_usd=Decimal("1250.50")),
        terms=HireTerms(name="M1", description="Build it", amount=Decimal("1250.50")),
        result={"hired": True, "contractId": "ctr_1"},
        channel_id="C1",
        card_ts="1700000000.000100",
    )
    await store.add_approval(full)
    stored = await store.get_approval("apr_1")
    assert stored == full
    assert stored is not None and stored.terms is not None
    assert stored.terms.amount == Decimal("1250.50")
    assert isinstance(stored.terms.amount, Decimal)


async def test_update_is_optimistic_on_version_and_status(store: Store) -> None:
    await store.add_approval(tracked())
    current = await store.get_approval("apr_1")
    assert current is not None and current.version == 0

    updated = await store.update_approval(current.evolve(card_ts="1.1", channel_id="C1"))
    assert updated is not None
    assert (updated.version, updated.card_ts, updated.channel_id) == (1, "1.1", "C1")
    assert await store.get_approval("apr_1") == updated

    assert await store.update_approval(current.evolve(card_ts="stale")) is None
    wrong_status = updated.evolve(status=TrackedStatus.CONFIRMED)
    assert await store.update_approval(wrong_status) is None
    assert await store.update_approval(tracked("apr_unknown")) is None
    assert await store.get_approval("apr_1") == updated


async def test_update_does_not_undo_a_claim_or_reschedule(store: Store) -> None:
    await store.add_approval(tracked(next_check_at=T0))
    later = T0 + timedelta(hours=5)
    await store.reschedule("apr_1", later)
    stale = tracked(next_check_at=T0)  # read before the reschedule
    updated = await store.update_approval(stale.evolve(card_ts="1.1"))
    assert updated is not None and updated.next_check_at == later
    assert await store.next_due_at() == later
    assert await store.claim_due(T0, "a", limit=10, lease=LEASE) == []


async def test_transition_is_compare_and_set_with_effects(store: Store) -> None:
    await store.add_approval(tracked(next_check_at=T0))
    confirmed = tracked(status=TrackedStatus.CONFIRMED, resolved_at=T0, result={"hired": True})
    effects = [effect("apr_1", EffectKind.UPDATE_CARD, T0, key="confirmed")]

    assert await store.transition("apr_1", TrackedStatus.PENDING, confirmed, effects) is True
    stored = await store.get_approval("apr_1")
    assert stored is not None
    assert (stored.status, stored.version, stored.result) == (
        TrackedStatus.CONFIRMED,
        1,
        {"hired": True},
    )
    # Terminal: out of the due index.
    assert await store.next_due_at() is None
    assert await store.claim_due(T0 + timedelta(days=9), "a", limit=10, lease=LEASE) == []
    assert await store.count_effects() == 1

    declined = confirmed.evolve(status=TrackedStatus.DECLINED)
    other = [effect("apr_1", EffectKind.UPDATE_CARD, T0, key="declined")]
    assert await store.transition("apr_1", TrackedStatus.PENDING, declined, other) is False
    assert await store.get_approval("apr_1") == stored
    assert await store.get_effect(other[0].id) is None
    unknown = tracked("apr_unknown", status=TrackedStatus.CONFIRMED)
    assert await store.transition("apr_unknown", TrackedStatus.PENDING, unknown) is False


async def test_transition_refuses_a_stale_copy(store: Store) -> None:
    """A card ts recorded after the tracker read the record must not be overwritten."""
    await store.add_approval(tracked(next_check_at=T0))
    stale = await store.get_approval("apr_1")
    assert stale is not None
    located = await store.update_approval(stale.evolve(card_ts="1.1", channel_id="C1"))
    assert located is not None
    confirmed = stale.evolve(status=TrackedStatus.CONFIRMED)
    assert await store.transition("apr_1", TrackedStatus.PENDING, confirmed) is False
    fresh = located.evolve(status=TrackedStatus.CONFIRMED)
    assert await store.transition("apr_1", TrackedStatus.PENDING, fresh) is True
    stored = await store.get_approval("apr_1")
    assert stored is not None and stored.card_ts == "1.1"


async def test_transition_rejects_a_record_of_another_approval(store: Store) -> None:
    await store.add_approval(tracked())
    with pytest.raises(ValueError, match="apr_2"):
        await store.transition("apr_1", TrackedStatus.PENDING, tracked("apr_2"))


async def test_transition_back_to_pending_rejoins_the_due_index(store: Store) -> None:
    await store.add_approval(tracked(status=TrackedStatus.NOT_FOUND))
    revived = tracked(next_check_at=T0)
    assert await store.transition("apr_1", TrackedStatus.NOT_FOUND, revived) is True
    assert await store.next_due_at() == T0
    assert await store.count_approvals(status=TrackedStatus.NOT_FOUND) == 0
    assert await store.count_approvals(status=TrackedStatus.PENDING) == 1


async def test_one_winner_among_concurrent_transitions(backend: Backend) -> None:
    contenders = [await backend.open() for _ in range(20)]
    await contenders[0].add_approval(tracked(next_check_at=T0))

    async def attempt(i: int, store: Store) -> bool:
        outcome = tracked(status=TrackedStatus.CONFIRMED, result={"by": i})
        effects = [
            effect("apr_1", EffectKind.OUTCOME_REPLY, T0, key="confirmed"),
            effect("apr_1", EffectKind.UPDATE_CARD, T0, key=f"by-{i}"),
        ]
        return await store.transition("apr_1", TrackedStatus.PENDING, outcome, effects)

    results = await asyncio.gather(*(attempt(i, s) for i, s in enumerate(contenders)))

    assert results.count(True) == 1
    winner = results.index(True)
    stored = await contenders[0].get_approval("apr_1")
    assert stored is not None
    assert (stored.result, stored.version) == ({"by": winner}, 1)
    assert await contenders[0].count_effects() == 2
    assert await contenders[0].get_effect(f"apr_1:update_card:by-{winner}") is not None
    losers = [i for i in range(20) if i != winner]
    for i in losers:
        assert await contenders[0].get_effect(f"apr_1:update_card:by-{i}") is None


async def test_list_and_count_newest_adopted_first(store: Store) -> None:
    for i in range(5):
        status = TrackedStatus.CONFIRMED if i % 2 else TrackedStatus.PENDING
        await store.add_approval(
            tracked(f"apr_{i}", status=status, adopted_at=T0 + timedelta(minutes=i))
        )

    listed = await store.list_approvals()
    assert [a.approval_id for a in listed] == ["apr_4", "apr_3", "apr_2", "apr_1", "apr_0"]
    pending = await store.list_approvals(status=TrackedStatus.PENDING, limit=2)
    assert [a.approval_id for a in pending] == ["apr_4", "apr_2"]
    assert await store.list_approvals(status=TrackedStatus.EXPIRED) == []
    assert await store.count_approvals() == 5
    assert await store.count_approvals(status=TrackedStatus.PENDING) == 3
    assert await store.count_approvals(status=TrackedStatus.CONFIRMED) == 2


async def test_list_since_keeps_those_adopted_at_or_after_it(store: Store) -> None:
    for i in range(5):
        status = TrackedStatus.CONFIRMED if i % 2 else TrackedStatus.PENDING
        await store.add_approval(
            tracked(f"apr_{i}", status=status, adopted_at=T0 + timedelta(hours=i))
        )

    since = T0 + timedelta(hours=2)
    assert [a.approval_id for a in await store.list_approvals(since=since)] == [
        "apr_4",
        "apr_3",
        "apr_2",
    ]
    confirmed = await store.list_approvals(status=TrackedStatus.CONFIRMED, since=since)
    assert [a.approval_id for a in confirmed] == ["apr_3"]
    assert await store.list_approvals(since=T0 + timedelta(days=1)) == []
    newest = await store.list_approvals(since=T0, limit=2)
    assert [a.approval_id for a in newest] == ["apr_4", "apr_3"]


async def test_list_follows_transitions(store: Store) -> None:
    await store.add_approval(tracked())
    await store.transition("apr_1", TrackedStatus.PENDING, tracked(status=TrackedStatus.EXPIRED))
    assert await store.list_approvals(status=TrackedStatus.PENDING) == []
    expired = await store.list_approvals(status=TrackedStatus.EXPIRED)
    assert [(a.approval_id, a.version) for a in expired] == [("apr_1", 1)]


async def test_approvals_for_proposal(store: Store) -> None:
    await store.add_approval(tracked("apr_old", proposal_id="prop_1", adopted_at=T0))
    await store.add_approval(
        tracked("apr_new", proposal_id="prop_1", adopted_at=T0 + timedelta(minutes=1))
    )
    await store.add_approval(tracked("apr_other", proposal_id="prop_2"))
    await store.add_approval(tracked("apr_none"))

    found = await store.approvals_for_proposal("prop_1")
    assert [a.approval_id for a in found] == ["apr_new", "apr_old"]
    assert await store.approvals_for_proposal("prop_unknown") == []


# --- due index ------------------------------------------------------------------------------


async def test_claim_due_leases_due_pending_items_in_due_order(store: Store) -> None:
    await store.add_approval(tracked("apr_late", next_check_at=T0 - timedelta(seconds=1)))
    await store.add_approval(tracked("apr_early", next_check_at=T0 - timedelta(minutes=5)))
    await store.add_approval(tracked("apr_future", next_check_at=T0 + timedelta(seconds=1)))
    await store.add_approval(
        tracked("apr_done", status=TrackedStatus.CONFIRMED, next_check_at=T0 - timedelta(days=1))
    )

    claimed = await store.claim_due(T0, "a", limit=10, lease=LEASE)
    assert [a.approval_id for a in claimed] == ["apr_early", "apr_late"]
    assert all(a.next_check_at == T0 + LEASE for a in claimed)
    stored = await store.get_approval("apr_early")
    assert stored is not None and stored.next_check_at == T0 + LEASE

    assert await store.claim_due(T0, "b", limit=10, lease=LEASE) == []
    # Once the lease lapses (by the caller's clock) the items are due again.
    again = await store.claim_due(T0 + LEASE, "b", limit=10, lease=LEASE)
    # The two leased together share one due time; ties go by id.
    assert [a.approval_id for a in again] == ["apr_future", "apr_early", "apr_late"]


async def test_claim_due_respects_the_limit(store: Store) -> None:
    for i in range(5):
        await store.add_approval(tracked(f"apr_{i}", next_check_at=T0 - timedelta(minutes=i)))
    first = await store.claim_due(T0, "a", limit=2, lease=LEASE)
    assert [a.approval_id for a in first] == ["apr_4", "apr_3"]
    rest = await store.claim_due(T0, "a", limit=10, lease=LEASE)
    assert [a.approval_id for a in rest] == ["apr_2", "apr_1", "apr_0"]


async def test_claim_due_is_exclusive_between_processes(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    ids = {f"apr_{i:02}" for i in range(40)}
    for approval_id in ids:
        await one.add_approval(tracked(approval_id, next_check_at=T0))

    async def drain(store: Store, owner: str) -> list[str]:
        got: list[str] = []
        while batch := await store.claim_due(T0, owner, limit=3, lease=LEASE):
            got += [a.approval_id for a in batch]
        return got

    got_one, got_two = await asyncio.gather(drain(one, "one"), drain(two, "two"))
    assert not set(got_one) & set(got_two)
    assert sorted(got_one + got_two) == sorted(ids)


async def test_a_lapsed_claim_can_be_claimed_again(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    # Real time here: T0 lies in the future.
    await one.add_approval(tracked(next_check_at=datetime.now(UTC) - timedelta(minutes=1)))
    claimed = await one.claim_due(datetime.now(UTC), "one", limit=5, lease=TINY)
    assert [a.approval_id for a in claimed] == ["apr_1"]
    assert await two.claim_due(datetime.now(UTC), "two", limit=5, lease=LEASE) == []

    async def claim_by_two() -> list[TrackedApproval]:
        return await two.claim_due(datetime.now(UTC), "two", limit=5, lease=LEASE)

    again = await wait_for(claim_by_two, timeout=5, message="the lapsed claim")
    assert [a.approval_id for a in again] == ["apr_1"]


async def test_reschedule_and_next_due_at(store: Store) -> None:
    assert await store.next_due_at() is None
    await store.add_approval(tracked("apr_1", next_check_at=T0 + timedelta(hours=2)))
    await store.add_approval(tracked("apr_2", next_check_at=T0 + timedelta(hours=1)))
    assert await store.next_due_at() == T0 + timedelta(hours=1)

    await store.claim_due(T0 + timedelta(hours=1), "a", limit=10, lease=LEASE)
    # Rescheduling ends the claim: the item is due at the new time.
    await store.reschedule("apr_2", T0)
    assert await store.next_due_at() == T0
    claimed = await store.claim_due(T0, "b", limit=10, lease=LEASE)
    assert [a.approval_id for a in claimed] == ["apr_2"]

    await store.transition("apr_1", TrackedStatus.PENDING, tracked(status=TrackedStatus.EXPIRED))
    await store.reschedule("apr_1", T0 - timedelta(days=1))  # terminal: ignored
    await store.reschedule("apr_unknown", T0)
    assert await store.next_due_at() == T0 + LEASE
    assert await store.count_approvals() == 2


# --- cursor, leases, once-keys -------------------------------------------------------------


async def test_cursor(store: Store) -> None:
    assert await store.get_cursor() is None
    await store.set_cursor("c1")
    await store.set_cursor("c2")
    assert await store.get_cursor() == "c2"


async def test_lease_acquire_renew_release(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    assert await one.acquire_lease("feed", "one", LEASE) is True
    assert await two.acquire_lease("feed", "two", LEASE) is False
    assert await one.acquire_lease("feed", "one", LEASE) is True  # renewal
    assert await two.lease_holder("feed") == "one"
    assert await two.lease_holder("other") is None

    assert await two.release_lease("feed", "two") is False  # token-checked
    assert await two.lease_holder("feed") == "one"
    assert await one.release_lease("feed", "one") is True
    assert await one.release_lease("feed", "one") is False
    assert await one.lease_holder("feed") is None
    assert await two.acquire_lease("feed", "two", LEASE) is True


async def test_lease_expires_in_real_time(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    assert await one.acquire_lease("feed", "one", TINY) is True
    assert await two.acquire_lease("feed", "two", LEASE) is False
    await wait_for(lambda: two.acquire_lease("feed", "two", LEASE), timeout=5, message="expiry")
    assert await one.lease_holder("feed") == "two"
    assert await one.release_lease("feed", "one") is False


async def test_lease_renewal_extends_it(store: Store) -> None:
    assert await store.acquire_lease("feed", "one", TINY)
    assert await store.acquire_lease("feed", "one", LEASE)
    # A marker taken after the renewal, with twice the first TTL, times the wait.
    assert await store.acquire_lease("marker", "one", TINY * 2)
    await wait_for(
        lambda: _is_none(store.lease_holder("marker")), timeout=5, message="marker expiry"
    )
    assert await store.lease_holder("feed") == "one"


async def test_claim_key_once_until_it_expires(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    assert await one.claim_key("delivery:1", TINY) is True
    assert await two.claim_key("delivery:1", TINY) is False
    assert await two.claim_key("delivery:2", LEASE) is True
    await wait_for(lambda: two.claim_key("delivery:1", LEASE), timeout=5, message="expiry")
    assert await one.claim_key("delivery:1", LEASE) is False


async def test_concurrent_claim_key_has_one_winner(backend: Backend) -> None:
    stores = [await backend.open() for _ in range(5)]
    results = await asyncio.gather(*(s.claim_key("k", LEASE) for s in stores for _ in range(4)))
    assert results.count(True) == 1


# --- outbox -----------------------------------------------------------------------------------


async def test_enqueue_is_idempotent_on_effect_id(store: Store) -> None:
    assert await store.enqueue_effects([outbox_item("e1"), outbox_item("e2")]) == 2
    assert await store.enqueue_effects([outbox_item("e2"), outbox_item("e3")]) == 1
    assert await store.enqueue_effects([outbox_item("e4"), outbox_item("e4")]) == 1
    assert await store.enqueue_effects([]) == 0
    assert await store.count_effects() == 4
    assert await store.count_effects(done=False) == 4
    assert await store.get_effect("e1") == outbox_item("e1")
    assert await store.get_effect("unknown") is None


async def test_claim_effects_oldest_due_first_with_lease(store: Store) -> None:
    await store.enqueue_effects(
        [
            outbox_item("e_mid", T0 - timedelta(seconds=2)),
            outbox_item("e_old", T0 - timedelta(seconds=3)),
            outbox_item("e_new", T0 - timedelta(seconds=1)),
            outbox_item("e_future", T0 + timedelta(seconds=1)),
        ]
    )
    first = await store.claim_effects(T0, "a", limit=2, lease=LEASE)
    assert [e.id for e in first] == ["e_old", "e_mid"]
    assert all(e.due_at == T0 + LEASE for e in first)
    second = await store.claim_effects(T0, "b", limit=10, lease=LEASE)
    assert [e.id for e in second] == ["e_new"]
    assert await store.claim_effects(T0, "b", limit=10, lease=LEASE) == []
    lapsed = await store.claim_effects(T0 + LEASE, "b", limit=10, lease=LEASE)
    # The three leased together share one due time; ties go by id.
    assert [e.id for e in lapsed] == ["e_future", "e_mid", "e_new", "e_old"]


async def test_complete_and_retry_effects(store: Store) -> None:
    await store.enqueue_effects([outbox_item("e1"), outbox_item("e2")])
    await store.claim_effects(T0, "a", limit=10, lease=LEASE)

    await store.complete_effect("e1", {"ts": "1.1", "channel": "C1"})
    done = await store.get_effect("e1")
    assert done is not None and done.done and done.result == {"ts": "1.1", "channel": "C1"}

    retry_at = T0 + timedelta(seconds=30)
    await store.retry_effect("e2", retry_at, "ratelimited")
    await store.retry_effect("e2", retry_at, "ratelimited again")
    retried = await store.get_effect("e2")
    assert retried is not None
    assert (retried.attempts, retried.last_error, retried.due_at, retried.done) == (
        2,
        "ratelimited again",
        retry_at,
        False,
    )
    assert (
        await store.claim_effects(retry_at - timedelta(seconds=1), "a", limit=9, lease=LEASE) == []
    )
    assert [e.id for e in await store.claim_effects(retry_at, "a", limit=9, lease=LEASE)] == ["e2"]

    # A retry that arrives after another worker completed the effect changes nothing.
    await store.retry_effect("e1", T0, "late")
    assert await store.get_effect("e1") == done
    await store.complete_effect("unknown", None)
    await store.retry_effect("unknown", T0, "x")
    assert (
        await store.count_effects(),
        await store.count_effects(done=True),
        await store.count_effects(done=False),
    ) == (2, 1, 1)


async def test_postponing_an_effect_does_not_count_an_attempt(store: Store) -> None:
    await store.enqueue_effects([outbox_item("e1")])
    later = T0 + timedelta(seconds=5)
    await store.retry_effect("e1", T0, "http_500")
    await store.retry_effect("e1", later, "waiting for the card", count_attempt=False)
    postponed = await store.get_effect("e1")
    assert postponed is not None
    assert (postponed.attempts, postponed.last_error, postponed.due_at) == (
        1,
        "waiting for the card",
        later,
    )
    assert await store.claim_effects(T0, "a", limit=9, lease=LEASE) == []


async def test_marking_an_attempt_started_keeps_the_claim(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    await one.enqueue_effects([outbox_item("e1")])
    [claimed] = await one.claim_effects(T0, "a", limit=9, lease=LEASE)
    first, second = T0 + timedelta(seconds=1), T0 + timedelta(seconds=9)

    await one.mark_started("e1", first)
    assert (stored := await two.get_effect("e1")) is not None and stored.started_at == first
    await one.mark_started("e1", second)  # the latest attempt is the one to look for
    stored = await two.get_effect("e1")
    assert stored is not None and stored.started_at == second
    assert stored.due_at == claimed.due_at  # still claimed: nobody else may take it
    assert await two.claim_effects(T0 + timedelta(seconds=2), "b", limit=9, lease=LEASE) == []
    await one.complete_effect("e1", {"ts": "1.0"})
    await one.mark_started("e1", T0)
    assert (done := await two.get_effect("e1")) is not None and done.started_at == second
    await one.mark_started("unknown", first)  # nothing to mark
    assert await two.get_effect("unknown") is None


async def test_claim_effects_is_exclusive_between_processes(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    ids = {f"e{i:02}" for i in range(40)}
    await one.enqueue_effects([outbox_item(i, T0 - timedelta(seconds=1)) for i in ids])

    async def drain(store: Store, owner: str) -> list[str]:
        got: list[str] = []
        while batch := await store.claim_effects(T0, owner, limit=3, lease=LEASE):
            got += [e.id for e in batch]
        return got

    got_one, got_two = await asyncio.gather(drain(one, "one"), drain(two, "two"))
    assert not set(got_one) & set(got_two)
    assert sorted(got_one + got_two) == sorted(ids)


async def test_transition_does_not_duplicate_known_effects(store: Store) -> None:
    await store.add_approval(tracked())
    known = outbox_item("apr_1:update_card:confirmed")
    await store.enqueue_effects([known])
    await store.complete_effect(known.id, {"ts": "1.1"})
    outcome = tracked(status=TrackedStatus.CONFIRMED)
    assert await store.transition("apr_1", TrackedStatus.PENDING, outcome, [known]) is True
    stored = await store.get_effect(known.id)
    assert stored is not None and stored.done and stored.result == {"ts": "1.1"}
    assert await store.count_effects() == 1


# --- routes, config, audit -----------------------------------------------------------------


async def test_routes(store: Store) -> None:
    assert await store.get_route("job:1") is None
    await store.set_route("job:1", "C1")
    await store.set_route("job:1", "C2")
    await store.set_route("type:proposal_hire", "C3")
    assert await store.get_route("job:1") == "C2"
    assert await store.list_routes() == {"job:1": "C2", "type:proposal_hire": "C3"}
    assert await store.delete_route("job:1") is True
    assert await store.delete_route("job:1") is False
    assert await store.list_routes() == {"type:proposal_hire": "C3"}


async def test_config_holds_json_values(store: Store) -> None:
    assert await store.get_config("approvers:C1") is None
    value = {"users": ["U1", "U2"], "groups": [], "min": 1, "on": True, "note": None}
    await store.set_config("approvers:C1", value)
    await store.set_config("approvers:C2", ["U3"])
    await store.set_config("approvers*:odd", "glob characters are literal")
    await store.set_config("feed-health", {"healthy": False})
    await store.set_config("feed-health", {"healthy": True})

    assert await store.get_config("approvers:C1") == value
    assert await store.get_config("feed-health") == {"healthy": True}
    assert await store.list_config("approvers:") == {"approvers:C1": value, "approvers:C2": ["U3"]}
    assert await store.list_config("approvers*") == {
        "approvers*:odd": "glob characters are literal"
    }
    assert await store.list_config("nothing") == {}


async def test_a_deleted_config_key_is_gone_and_deleting_it_again_says_so(store: Store) -> None:
    await store.set_config("snooze:apr_1:U1", {"until": "later"})
    await store.set_config("snooze:apr_2:U1", {"until": "later"})

    assert await store.delete_config("snooze:apr_1:U1") is True
    assert await store.delete_config("snooze:apr_1:U1") is False

    assert await store.get_config("snooze:apr_1:U1") is None
    assert await store.list_config("snooze:") == {"snooze:apr_2:U1": {"until": "later"}}


async def test_audit_is_read_oldest_first_with_filters(store: Store) -> None:
    def entry(minute: int, approval_id: str | None, action: str) -> AuditEntry:
        at = T0 + timedelta(minutes=minute)
        return AuditEntry(
            at=at, action=action, actor="bot", approval_id=approval_id, details={"m": minute}
        )

    # Appended out of time order: replicas' clocks and writes interleave.
    for item in [
        entry(2, "apr_1", "card_posted"),
        entry(1, "apr_1", "request"),
        entry(3, None, "refused"),
        entry(4, "apr_2", "request"),
        entry(5, "apr_1", "outcome"),
    ]:
        await store.append_audit(item)

    everything = await store.read_audit()
    assert [e.details["m"] for e in everything] == [1, 2, 3, 4, 5]
    assert everything[0] == entry(1, "apr_1", "request")
    mine = await store.read_audit(approval_id="apr_1")
    assert [e.action for e in mine] == ["request", "card_posted", "outcome"]
    since = await store.read_audit(since=T0 + timedelta(minutes=3))
    assert [e.details["m"] for e in since] == [3, 4, 5]
    both = await store.read_audit(approval_id="apr_1", since=T0 + timedelta(minutes=2), limit=1)
    assert [e.action for e in both] == ["card_posted"]
    assert [e.details["m"] for e in await store.read_audit(limit=2)] == [1, 2]
    assert await store.read_audit(approval_id="apr_unknown") == []


# --- lifecycle -------------------------------------------------------------------------------


async def test_everything_persists_across_reopen(backend: Backend) -> None:
    first = await backend.open()
    await first.add_approval(tracked(next_check_at=T0))
    await first.enqueue_effects([outbox_item("e1")])
    await first.set_cursor("c9")
    await first.set_route("job:1", "C1")
    await first.set_config("k", {"v": 1})
    await first.append_audit(AuditEntry(at=T0, action="request", actor="bot", approval_id="apr_1"))
    await first.acquire_lease("feed", "one", LEASE)
    await first.claim_key("delivery:1", LEASE)
    await first.close()

    second = await backend.open()
    assert await second.get_approval("apr_1") == tracked(next_check_at=T0)
    assert await second.next_due_at() == T0
    assert await second.get_effect("e1") == outbox_item("e1")
    assert await second.get_cursor() == "c9"
    assert await second.get_route("job:1") == "C1"
    assert await second.get_config("k") == {"v": 1}
    assert [e.action for e in await second.read_audit(approval_id="apr_1")] == ["request"]
    assert await second.lease_holder("feed") == "one"
    assert await second.claim_key("delivery:1", LEASE) is False


async def test_ping_names_the_backend(backend: Backend, store: Store) -> None:
    description = await store.ping()
    assert description.startswith(f"{backend.kind} ")
    assert " at " in description


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await store.claim_due(datetime(2030, 1, 1), "a", limit=1, lease=LEASE)
