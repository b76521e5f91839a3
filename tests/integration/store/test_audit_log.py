"""The store contract: the append-only audit log, on both backends."""

from __future__ import annotations

from datetime import timedelta

from bot.audit_log import AuditEntry
from bot.store import Store
from tests.integration.store.support import (
    T0,
)


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
