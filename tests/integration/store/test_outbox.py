"""The store contract: the outbox of Slack effects, on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.outbox import Effect, EffectKind
from bot.store import Store
from bot.tracked_approvals import TrackedStatus
from tests.integration.store.support import (
    LEASE,
    T0,
    Backend,
    outbox_item,
    tracked,
)

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


async def test_count_undone_effects_by_kind_is_the_outbox_depth(store: Store) -> None:
    assert await store.count_undone_effects_by_kind() == {}
    await store.enqueue_effects(
        [
            outbox_item("e1"),
            outbox_item("e2"),
            Effect(id="e3", subject="apr_1", kind=EffectKind.POST_CARD, due_at=T0),
            # Ids and payloads that spell another kind do not change what is counted.
            Effect(
                id='e4:"kind":"callback"',
                subject='paste:"kind":"unfurl"',
                kind=EffectKind.POST_MESSAGE,
                due_at=T0,
                payload={"kind": "callback"},
            ),
        ]
    )
    await store.complete_effect("e2", {"ts": "1.1"})
    await store.claim_effects(T0, "a", limit=1, lease=LEASE)  # claimed is still undone
    assert await store.count_undone_effects_by_kind() == {
        EffectKind.UPDATE_CARD: 1,
        EffectKind.POST_CARD: 1,
        EffectKind.POST_MESSAGE: 1,
    }


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
