"""The store contract: what `prune` removes after RETENTION_DAYS, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.audit_log import AuditEntry
from bot.outbox import Effect, EffectKind, effect
from bot.store import Store
from bot.store.kinds import REMIND_PRESSES, SNOOZES, Press, SnoozeRecord
from bot.store.pruning import PRUNE_BATCH
from bot.store.retention import prune_when_due
from bot.tracked_approvals import TrackedStatus
from tests.integration.store.support import T0, Backend, tracked

DAY = timedelta(days=1)
CUTOFF = T0 - 400 * DAY
NOTHING = {"approvals": 0, "effects": 0, "audit": 0, "snooze": 0, "remind-now": 0}


def done(subject: str, kind: EffectKind, due_at: datetime, key: str = "") -> Effect:
    return effect(subject, kind, due_at, key=key).model_copy(update={"done": True})


def entry(at: datetime, approval_id: str | None = None, action: str = "outcome") -> AuditEntry:
    return AuditEntry(at=at, action=action, actor="bot", approval_id=approval_id)


async def fill(store: Store) -> None:
    """A store a year and a half old: what ended long ago, what is still going on."""
    old, recent = T0 - 500 * DAY, T0 - 10 * DAY
    await store.add_approval(
        tracked(
            "apr_old",
            status=TrackedStatus.CONFIRMED,
            adopted_at=old,
            resolved_at=old,
            proposal_id="prop_old",
        ),
        [
            done("apr_old", EffectKind.POST_CARD, old),
            # Done lately, long after its approval ended: it goes with its approval.
            done("apr_old", EffectKind.REFRESH_HOME, recent),
            # Never delivered: kept, whatever became of its approval.
            effect("apr_old", EffectKind.REQUESTER_DM, old),
        ],
    )
    # Ended without a resolvedAt: counted from its adoption.
    await store.add_approval(tracked("apr_expired", status=TrackedStatus.EXPIRED, adopted_at=old))
    # Adopted long ago, resolved lately: kept, with its old card.
    await store.add_approval(
        tracked("apr_slow", status=TrackedStatus.DECLINED, adopted_at=old, resolved_at=recent),
        [done("apr_slow", EffectKind.POST_CARD, old)],
    )
    # Tracked lately although OpenTrain resolved it long ago: kept from its adoption.
    await store.add_approval(
        tracked("apr_late", status=TrackedStatus.CONFIRMED, adopted_at=recent, resolved_at=old)
    )
    # Pending, however old: never pruned.
    await store.add_approval(
        tracked("apr_waiting", adopted_at=old), [done("apr_waiting", EffectKind.POST_CARD, old)]
    )
    await store.enqueue_effects(
        [
            done("policy:req_1", EffectKind.POST_MESSAGE, old, key="card"),
            done("policy:req_2", EffectKind.POST_MESSAGE, recent, key="card"),
            done("digest:2028-08-19", EffectKind.POST_MESSAGE, CUTOFF - timedelta(seconds=1)),
            done("digest:2028-08-20", EffectKind.POST_MESSAGE, CUTOFF),
            effect("paste:C1:1.1:apr_x", EffectKind.UNFURL, old),  # not done
            done("apr_never_stored", EffectKind.POST_CARD, old),
        ]
    )
    snooze = SnoozeRecord(at=old, until=old + timedelta(hours=4))
    await store.put_record(SNOOZES, "apr_old:U1", snooze)
    await store.put_record(SNOOZES, "apr_waiting:U1", snooze)
    await store.put_record(REMIND_PRESSES, "apr_old", Press(at=old, by="U2"))
    for item in [
        entry(old, "apr_old", "request"),
        entry(CUTOFF - timedelta(seconds=1), None, "refused"),
        entry(CUTOFF, "apr_old", "outcome"),
        entry(recent, "apr_slow", "outcome"),
    ]:
        await store.append_audit(item)


EXPECTED = {
    "approvals": 2,  # apr_old, apr_expired
    # apr_old's card and Home refresh; policy:req_1, the older digest, apr_never_stored's card
    "effects": 5,
    "audit": 2,
    "snooze": 1,
    "remind-now": 1,
}


async def test_a_dry_run_counts_what_would_go_and_removes_nothing(store: Store) -> None:
    await fill(store)
    approvals, effects = await store.count_approvals(), await store.count_effects()

    assert await store.prune(CUTOFF, dry_run=True) == EXPECTED

    assert await store.count_approvals() == approvals
    assert await store.count_effects() == effects
    assert len(await store.read_audit()) == 4
    assert await store.get_record(SNOOZES, "apr_old:U1") is not None


async def test_prune_removes_what_ended_before_the_cutoff_and_nothing_else(store: Store) -> None:
    await fill(store)

    assert await store.prune(CUTOFF) == EXPECTED

    assert await store.get_approval("apr_old") is None
    assert await store.get_approval("apr_expired") is None
    for kept in ("apr_slow", "apr_late", "apr_waiting"):
        assert await store.get_approval(kept) is not None
    assert {a.approval_id for a in await store.list_approvals()} == {
        "apr_slow",
        "apr_late",
        "apr_waiting",
    }
    assert await store.count_approvals(status=TrackedStatus.CONFIRMED) == 1
    assert await store.approvals_for_proposal("prop_old") == []
    remaining = {
        "apr_old:requester_dm",
        "apr_slow:post_card",
        "apr_waiting:post_card",
        "policy:req_2:post_message:card",
        "digest:2028-08-20:post_message",
        "paste:C1:1.1:apr_x:unfurl",
    }
    for effect_id in remaining:
        assert await store.get_effect(effect_id) is not None, effect_id
    assert await store.count_effects() == len(remaining)
    assert await store.count_effects(done=False) == 2
    assert [e.action for e in await store.read_audit()] == ["outcome", "outcome"]
    # The history of one approval is trimmed with the log.
    assert [e.at for e in await store.read_audit(approval_id="apr_old")] == [CUTOFF]
    assert list(await store.list_records(SNOOZES)) == ["apr_waiting:U1"]
    assert await store.list_records(REMIND_PRESSES) == {}

    assert await store.prune(CUTOFF) == NOTHING


async def test_an_approval_changed_since_it_was_tracked_still_goes(store: Store) -> None:
    old = T0 - 500 * DAY
    await store.add_approval(tracked("apr_1", adopted_at=old, proposal_id="prop_1"))
    current = await store.get_approval("apr_1")
    assert current is not None
    resolved = current.evolve(status=TrackedStatus.CONFIRMED, resolved_at=old + DAY)
    assert await store.transition("apr_1", TrackedStatus.PENDING, resolved)
    stored = await store.get_approval("apr_1")
    assert stored is not None
    assert await store.update_approval(stored.evolve(card_ts="1.1")) is not None

    assert (await store.prune(CUTOFF))["approvals"] == 1

    assert await store.approvals_for_proposal("prop_1") == []
    assert await store.count_approvals() == 0
    # Adopting it again (tracked anew) works: nothing of it is left behind.
    assert await store.add_approval(tracked("apr_1", adopted_at=T0, proposal_id="prop_1"))
    assert [a.approval_id for a in await store.approvals_for_proposal("prop_1")] == ["apr_1"]


async def test_an_approval_tracked_again_after_it_went_reads_as_new(store: Store) -> None:
    old = T0 - 500 * DAY
    first = tracked("apr_1", status=TrackedStatus.EXPIRED, adopted_at=old, channel_id="C_OLD")
    await store.add_approval(first)
    assert (await store.get_approval("apr_1")) == first  # read, so remembered parsed
    assert (await store.prune(CUTOFF))["approvals"] == 1

    again = tracked("apr_1", status=TrackedStatus.EXPIRED, adopted_at=T0, channel_id="C_NEW")
    assert await store.add_approval(again)
    assert await store.get_approval("apr_1") == again


async def test_prune_goes_in_batches_past_what_it_keeps(store: Store) -> None:
    old, recent = T0 - 500 * DAY, T0 - 10 * DAY
    total = 2 * PRUNE_BATCH + 100
    for n in range(total):
        # Every fourth was resolved lately: kept, between the ones that go.
        resolved = recent if n % 4 == 0 else old
        approval = tracked(
            f"apr_{n:04}",
            status=TrackedStatus.CONFIRMED,
            adopted_at=old + timedelta(seconds=n % 7),  # ties on adoption time too
            resolved_at=resolved,
        )
        await store.add_approval(approval, [done(approval.approval_id, EffectKind.POST_CARD, old)])
    digests = [
        done(f"digest:{n:04}", EffectKind.POST_MESSAGE, old + timedelta(minutes=n))
        for n in range(PRUNE_BATCH + 50)
    ]
    await store.enqueue_effects(digests)
    for n in range(PRUNE_BATCH + 20):
        await store.append_audit(entry(old + timedelta(minutes=n), f"apr_{n % 9:04}"))
    kept = len(range(0, total, 4))
    gone = total - kept
    expected = NOTHING | {"approvals": gone, "effects": gone + len(digests)}
    expected["audit"] = PRUNE_BATCH + 20

    assert await store.prune(CUTOFF, dry_run=True) == expected
    assert await store.prune(CUTOFF) == expected

    assert await store.count_approvals() == kept
    assert await store.count_effects() == kept
    assert await store.read_audit() == []
    assert await store.read_audit(approval_id="apr_0001") == []
    assert await store.prune(CUTOFF) == NOTHING


async def test_the_retention_job_prunes_once_an_hour_across_replicas(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    await one.add_approval(
        tracked("apr_old", status=TrackedStatus.EXPIRED, adopted_at=T0 - 500 * DAY)
    )
    await one.add_approval(tracked("apr_new", status=TrackedStatus.EXPIRED, adopted_at=T0))

    assert await prune_when_due(one, T0, 400 * DAY) == NOTHING | {"approvals": 1}
    assert await prune_when_due(two, T0, 400 * DAY) is None
    assert await prune_when_due(one, T0 + 500 * DAY, 400 * DAY) is None
    assert await two.get_approval("apr_new") is not None
