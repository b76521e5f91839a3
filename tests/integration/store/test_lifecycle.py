"""The store contract: what survives a reopen, and what the store refuses, on both backends."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.audit_log import AuditEntry
from bot.store import Store
from bot.store.kinds import APPROVERS
from tests.integration.store.support import (
    LEASE,
    T0,
    Backend,
    outbox_item,
    tracked,
)

# --- lifecycle -------------------------------------------------------------------------------


async def test_everything_persists_across_reopen(backend: Backend) -> None:
    first = await backend.open()
    await first.add_approval(tracked(next_check_at=T0))
    await first.enqueue_effects([outbox_item("e1")])
    await first.set_cursor("c9")
    await first.set_route("job:1", "C1")
    await first.put_record(APPROVERS, "C1", ["U1", "S1"])
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
    assert await second.get_record(APPROVERS, "C1") == ["U1", "S1"]
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
