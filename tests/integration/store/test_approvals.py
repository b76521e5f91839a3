"""The store contract: tracked approvals and their due index, on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.opentrain.models import ApprovalType, HireTerms
from bot.outbox import EffectKind, effect
from bot.store import Store
from bot.tracked_approvals import ApprovalDetails, TrackedApproval, TrackedStatus
from tests.integration.store.support import (
    LEASE,
    T0,
    TINY,
    Backend,
    tracked,
)
from tests.support.wait import wait_for

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


async def test_count_pending_by_type_counts_only_pending_approvals(store: Store) -> None:
    assert await store.count_pending_by_type() == {}
    fund = ApprovalType.MILESTONE_FUND
    await store.add_approval(tracked("apr_1"))
    await store.add_approval(tracked("apr_2", adopted_at=T0 + TINY))
    await store.add_approval(tracked("apr_3").evolve(type=fund, result={"type": "contract_end"}))
    # An id that spells another type inside its own (escaped) JSON string counts by its type.
    await store.add_approval(tracked('apr_"type":"contract_end"').evolve(type=fund))
    await store.add_approval(tracked("apr_4").evolve(type=ApprovalType.UNKNOWN))
    await store.add_approval(tracked("apr_5", status=TrackedStatus.CONFIRMED))
    assert await store.count_pending_by_type() == {
        ApprovalType.PROPOSAL_HIRE: 2,
        fund: 2,
        ApprovalType.UNKNOWN: 1,
    }

    ended = tracked("apr_1", status=TrackedStatus.DECLINED)
    assert await store.transition("apr_1", TrackedStatus.PENDING, ended) is True
    assert (await store.count_pending_by_type())[ApprovalType.PROPOSAL_HIRE] == 1


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
