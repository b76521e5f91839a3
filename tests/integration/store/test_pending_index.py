"""The store contract: the pending index (who a pending approval concerns, and when each
watch looks at it next), on both backends."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from bot.store import RedisStore, SqliteStore, Store
from bot.store.pending_index import ADMINS, Concern, Watch
from bot.tracked_approvals import Escalation, Requester, TrackedApproval, TrackedStatus
from tests.integration.store.support import T0, Backend, tracked

HOUR = timedelta(hours=1)


def escalated(approval: TrackedApproval, *to: str) -> TrackedApproval:
    level = len(approval.escalations) + 1
    told = Escalation(level=level, to=to, waited=HOUR * level, at=T0 + HOUR * level)
    return approval.evolve(escalations=(*approval.escalations, told))


async def current_of(store: Store, approval_id: str) -> TrackedApproval:
    current = await store.get_approval(approval_id)
    assert current is not None
    return current


async def ids(store: Store, concern: Concern) -> list[str]:
    return [a.approval_id for a in await store.pending_concerning(concern)]


async def seed(store: Store) -> None:
    """apr_1 (#hiring, Ana), apr_2 (#general, Ben), apr_3 (no channel, an agent),
    apr_4 (#finance, Ben) — adopted in that order, a minute apart."""
    records = [
        ("apr_1", "C_HIRING", Requester(kind="slack", id="U_ANA")),
        ("apr_2", "C_GENERAL", Requester(kind="slack", id="U_BEN")),
        ("apr_3", None, Requester(kind="agent", id="U_ANA")),
        ("apr_4", "C_FINANCE", Requester(kind="slack", id="U_BEN")),
    ]
    for index, (approval_id, channel, requester) in enumerate(records):
        record = tracked(approval_id, adopted_at=T0 + timedelta(minutes=index), channel_id=channel)
        assert await store.add_approval(record.evolve(requester=requester))


async def test_pending_approvals_by_channel_requester_and_neither(store: Store) -> None:
    await seed(store)
    assert await ids(store, Concern()) == []
    assert await ids(store, Concern(channels=frozenset({"C_HIRING", "C_FINANCE"}))) == [
        "apr_4",
        "apr_1",
    ]
    assert await ids(store, Concern(channels=frozenset({None}))) == ["apr_3"]
    # An agent's request is nobody's "requested by you".
    assert await ids(store, Concern(requester="U_ANA")) == ["apr_1"]
    assert await ids(store, Concern(requester="U_BEN")) == ["apr_4", "apr_2"]
    # A global approver: every channel without tiers of its own, and no channel.
    everywhere_but = Concern(all_channels_but=frozenset({"C_FINANCE"}))
    assert await ids(store, everywhere_but) == ["apr_3", "apr_2", "apr_1"]
    both = Concern(channels=frozenset({"C_FINANCE"}), requester="U_ANA")
    assert await ids(store, both) == ["apr_4", "apr_1"]


async def test_an_approval_leaves_the_index_when_it_ends_and_moves_with_its_channel(
    store: Store,
) -> None:
    await seed(store)
    current = await store.get_approval("apr_1")
    assert current is not None
    moved = await store.update_approval(current.evolve(channel_id="C_OTHER"))
    assert moved is not None
    assert await ids(store, Concern(channels=frozenset({"C_HIRING"}))) == []
    assert await ids(store, Concern(channels=frozenset({"C_OTHER"}))) == ["apr_1"]

    ended = moved.evolve(status=TrackedStatus.CONFIRMED, resolved_at=T0 + HOUR)
    assert await store.transition("apr_1", TrackedStatus.PENDING, ended)
    assert await ids(store, Concern(channels=frozenset({"C_OTHER"}), requester="U_ANA")) == []
    watched = await store.watched(Watch.REMINDERS, T0 + HOUR * 100, limit=10)
    assert "apr_1" not in [a.approval_id for a in watched]


async def test_escalations_are_indexed_by_who_was_told(store: Store) -> None:
    await seed(store)
    assert await store.escalation_recipients() == set()
    for approval_id, to in (("apr_1", ("S_FINANCE", "U_CFO")), ("apr_2", ())):
        current = await store.get_approval(approval_id)
        assert current is not None
        assert await store.transition(approval_id, TrackedStatus.PENDING, escalated(current, *to))
    assert await store.escalation_recipients() == {"S_FINANCE", "U_CFO", ADMINS}
    assert await ids(store, Concern(recipients=frozenset({"U_CFO"}))) == ["apr_1"]
    assert await ids(store, Concern(recipients=frozenset({ADMINS, "S_FINANCE"}))) == [
        "apr_2",
        "apr_1",
    ]
    # A second level adds to the first.
    current = await store.get_approval("apr_1")
    assert current is not None
    assert await store.transition("apr_1", TrackedStatus.PENDING, escalated(current, "U_CEO"))
    assert await ids(store, Concern(recipients=frozenset({"U_CEO"}))) == ["apr_1"]
    assert await ids(store, Concern(recipients=frozenset({"U_CFO"}))) == ["apr_1"]

    ended = (await current_of(store, "apr_1")).evolve(status=TrackedStatus.DECLINED)
    assert await store.transition("apr_1", TrackedStatus.PENDING, ended)
    assert await ids(store, Concern(recipients=frozenset({"U_CFO", "U_CEO"}))) == []
    assert await store.escalation_recipients() == {ADMINS}


async def test_watches_start_at_adoption_and_move_as_the_tick_says(store: Store) -> None:
    await seed(store)
    later = T0 + HOUR

    async def watched(watch: Watch, until: datetime = later, limit: int = 10) -> list[str]:
        found = await store.watched(watch, until, limit=limit)
        return [a.approval_id for a in found]

    # Added: on every watch from adoption, earliest first.
    assert await watched(Watch.REMINDERS) == ["apr_1", "apr_2", "apr_3", "apr_4"]
    assert await watched(Watch.REMINDERS, until=T0 + timedelta(minutes=1)) == ["apr_1", "apr_2"]
    assert await watched(Watch.ESCALATIONS, limit=2) == ["apr_1", "apr_2"]

    await store.set_watches(Watch.REMINDERS, {"apr_1": T0 + 2 * HOUR, "apr_2": None})
    assert await watched(Watch.REMINDERS) == ["apr_3", "apr_4"]
    assert await watched(Watch.REMINDERS, until=T0 + 3 * HOUR) == ["apr_3", "apr_4", "apr_1"]
    assert await watched(Watch.ESCALATIONS) == ["apr_1", "apr_2", "apr_3", "apr_4"]  # its own

    # Later writes of the approval keep its watch (off it stays off).
    current = await store.get_approval("apr_2")
    assert current is not None
    assert await store.update_approval(current.evolve(card_ts="1.2")) is not None
    assert "apr_2" not in await watched(Watch.REMINDERS, until=T0 + 100 * HOUR)

    # An approval that ended is never put back on a watch.
    ended = (await current_of(store, "apr_3")).evolve(status=TrackedStatus.EXPIRED)
    assert await store.transition("apr_3", TrackedStatus.PENDING, ended)
    await store.set_watches(Watch.REMINDERS, {"apr_3": T0, "apr_unknown": T0})
    assert await watched(Watch.REMINDERS, until=T0 + 100 * HOUR) == ["apr_4", "apr_1"]

    # Everything pending back on the watch from adoption.
    await store.watch_all(Watch.REMINDERS)
    assert await watched(Watch.REMINDERS) == ["apr_1", "apr_2", "apr_4"]


async def test_a_store_from_before_the_index_indexes_its_pending_approvals_when_opened(
    backend: Backend, store: Store
) -> None:
    await seed(store)
    current = await store.get_approval("apr_2")
    assert current is not None
    assert await store.transition("apr_2", TrackedStatus.PENDING, escalated(current))
    await forget_index(store)

    reopened = await backend.open()
    concern = Concern(channels=frozenset({"C_HIRING"}), requester="U_BEN")
    assert await ids(reopened, concern) == ["apr_4", "apr_2", "apr_1"]
    assert await ids(reopened, Concern(recipients=frozenset({ADMINS}))) == ["apr_2"]
    assert await ids(reopened, Concern(channels=frozenset({None}))) == ["apr_3"]
    watched = await reopened.watched(Watch.ESCALATIONS, T0 + HOUR, limit=10)
    assert [a.approval_id for a in watched] == ["apr_1", "apr_2", "apr_3", "apr_4"]


async def forget_index(store: Store) -> None:
    """Make `store`'s data look as it did before the index existed."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store._location) as raw:
            raw.execute("DROP TABLE pending_index")
            raw.execute("DROP TABLE escalated_to")
        raw.close()
        return
    assert isinstance(store, RedisStore)
    redis, prefix = store._redis, store._prefix
    for pattern in ("pi:*", "watch:*"):
        keys = [key async for key in redis.scan_iter(match=prefix + pattern)]
        if keys:
            await redis.delete(*keys)
    async for key in redis.scan_iter(match=prefix + "approval:*"):
        await redis.hdel(key, "pi")
