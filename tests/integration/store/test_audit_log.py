"""The store contract: the append-only audit log, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.audit_log import AuditEntry
from bot.store import Store
from tests.integration.store.support import (
    T0,
)


def entry(at: datetime, approval_id: str | None = None, action: str = "outcome") -> AuditEntry:
    return AuditEntry(at=at, action=action, actor="bot", approval_id=approval_id)


async def test_audit_is_read_oldest_first_with_filters(store: Store) -> None:
    def at_minute(minute: int, approval_id: str | None, action: str) -> AuditEntry:
        at = T0 + timedelta(minutes=minute)
        return AuditEntry(
            at=at, action=action, actor="bot", approval_id=approval_id, details={"m": minute}
        )

    # Appended out of time order: replicas' clocks and writes interleave.
    for item in [
        at_minute(2, "apr_1", "card_posted"),
        at_minute(1, "apr_1", "request"),
        at_minute(3, None, "refused"),
        at_minute(4, "apr_2", "request"),
        at_minute(5, "apr_1", "outcome"),
    ]:
        await store.append_audit(item)

    everything = await store.read_audit()
    assert [e.details["m"] for e in everything] == [1, 2, 3, 4, 5]
    assert everything[0] == at_minute(1, "apr_1", "request")
    mine = await store.read_audit(approval_id="apr_1")
    assert [e.action for e in mine] == ["request", "card_posted", "outcome"]
    since = await store.read_audit(since=T0 + timedelta(minutes=3))
    assert [e.details["m"] for e in since] == [3, 4, 5]
    both = await store.read_audit(approval_id="apr_1", since=T0 + timedelta(minutes=2), limit=1)
    assert [e.action for e in both] == ["card_posted"]
    assert [e.details["m"] for e in await store.read_audit(limit=2)] == [1, 2]
    assert await store.read_audit(approval_id="apr_unknown") == []


async def test_iter_audit_reads_every_entry_in_order_a_page_at_a_time(store: Store) -> None:
    entries = [
        entry(T0 + timedelta(seconds=n), f"apr_{n % 3}" if n % 5 else None, f"a{n}")
        for n in range(1234)
    ]
    for item in entries:
        await store.append_audit(item)

    assert [e async for e in store.iter_audit()] == entries
    assert [e async for e in store.iter_audit(page=100)] == entries
    assert [e async for e in store.iter_audit(page=1234)] == entries
    since = T0 + timedelta(seconds=1000)
    assert [e async for e in store.iter_audit(since=since, page=7)] == entries[1000:]
    assert [e async for e in store.iter_audit(since=T0 + timedelta(days=1))] == []

    # Entries appended while the export reads are read too when they come after its page.
    read: list[AuditEntry] = []
    async for item in store.iter_audit(page=500):
        read.append(item)
        if len(read) == 1:
            await store.append_audit(entry(T0 + timedelta(hours=1), None, "late"))
    assert read == [*entries, entry(T0 + timedelta(hours=1), None, "late")]


async def test_small_reads_are_bounded(store: Store) -> None:
    for n in range(30):
        await store.append_audit(entry(T0 + timedelta(minutes=n), "apr_1", f"a{n}"))

    assert [e.action for e in await store.read_audit(limit=3)] == ["a0", "a1", "a2"]
    assert [e.action for e in await store.read_audit(approval_id="apr_1", limit=2)] == [
        "a0",
        "a1",
    ]
    since = T0 + timedelta(minutes=28)
    assert [e.action for e in await store.read_audit(since=since)] == ["a28", "a29"]
    assert await store.read_audit(limit=0) == []
