"""RedisStore beyond the shared contract: outages, secrets, key prefix, restarts."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.audit_log import AuditEntry
from bot.opentrain.models import ApprovalType
from bot.outbox import Effect, EffectKind
from bot.store import RedisStore, Store, StoreUnavailable
from bot.store.kinds import APPROVERS
from bot.tracked_approvals import Requester, TrackedApproval
from tests.support.redis_server import RedisServer

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
PASSWORD = "s3cr3t-Pa55word"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def approval(approval_id: str = "apr_1") -> TrackedApproval:
    return TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.MILESTONE_FUND,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=T0 + timedelta(days=3),
        requester=Requester(kind="agent", id="planner"),
        next_check_at=T0,
        adopted_at=T0,
        proposal_id="prop_1",
    )


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    store = await RedisStore.connect(redis_url, prefix="t1:")
    yield store
    await store.close()


@pytest.fixture
def acl_user(redis_server: RedisServer) -> Iterator[str]:
    """A password-protected user; the URL to reach the server as that user."""
    with redis_server.client() as client:
        client.acl_setuser(
            "cosign-test",
            enabled=True,
            passwords=[f"+{PASSWORD}"],
            keys=["*"],
            channels=["*"],
            commands=["+@all"],
        )
        yield f"redis://cosign-test:{PASSWORD}@127.0.0.1:{redis_server.port}/0"
        client.acl_deluser("cosign-test")


async def test_connect_to_a_closed_port_raises_store_unavailable() -> None:
    port = closed_port()
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        await RedisStore.connect(f"redis://127.0.0.1:{port}/0")


OPERATIONS: list[tuple[str, Callable[[Store], Awaitable[object]]]] = [
    ("get_approval", lambda s: s.get_approval("apr_1")),
    ("add_approval", lambda s: s.add_approval(approval())),
    ("claim_due", lambda s: s.claim_due(T0, "a", limit=5, lease=timedelta(seconds=5))),
    ("count_effects", lambda s: s.count_effects(done=True)),
    ("count_approvals", lambda s: s.count_approvals()),
    ("count_pending_by_type", lambda s: s.count_pending_by_type()),
    ("count_undone_effects_by_kind", lambda s: s.count_undone_effects_by_kind()),
    ("get_effect", lambda s: s.get_effect("e1")),
    ("list_records", lambda s: s.list_records(APPROVERS)),
    ("read_audit", lambda s: s.read_audit()),
    ("append_audit", lambda s: s.append_audit(AuditEntry(at=T0, action="a", actor="bot"))),
    ("iter_audit", lambda s: anext(s.iter_audit())),
    ("prune", lambda s: s.prune(T0, dry_run=True)),
    ("acquire_lease", lambda s: s.acquire_lease("feed", "one", timedelta(seconds=5))),
    ("ping", lambda s: s.ping()),
]


@pytest.mark.parametrize("operation", [op for _, op in OPERATIONS], ids=[n for n, _ in OPERATIONS])
async def test_every_operation_maps_outages_to_store_unavailable(
    operation: Callable[[Store], Awaitable[object]],
) -> None:
    port = closed_port()
    client = Redis(host="127.0.0.1", port=port, decode_responses=True, retry=Retry(NoBackoff(), 0))
    store = RedisStore(client)
    try:
        with pytest.raises(StoreUnavailable, match=f"redis at 127.0.0.1:{port}"):
            await operation(store)
    finally:
        await store.close()


async def test_the_password_never_shows(acl_user: str, redis_server: RedisServer) -> None:
    store = await RedisStore.connect(acl_user)
    try:
        description = await store.ping()
        assert re.fullmatch(
            rf"redis \d+\.\d+\.\d+ at 127\.0\.0\.1:{redis_server.port}", description
        )
        assert PASSWORD not in description
    finally:
        await store.close()

    wrong = acl_user.replace(PASSWORD, f"{PASSWORD}-wrong")
    with pytest.raises(StoreUnavailable) as caught:
        await RedisStore.connect(wrong)
    assert PASSWORD not in str(caught.value)


async def test_keys_live_under_the_prefix_and_prefixes_isolate(
    store: RedisStore, redis_url: str, redis_server: RedisServer
) -> None:
    other = await RedisStore.connect(redis_url, prefix="t2:")
    try:
        await store.add_approval(approval())
        await store.enqueue_effects(
            [Effect(id="e1", approval_id="apr_1", kind=EffectKind.POST_CARD, due_at=T0)]
        )
        await store.append_audit(
            AuditEntry(at=T0, action="request", actor="bot", approval_id="apr_1")
        )
        await store.set_cursor("c1")
        await store.set_route("job:1", "C1")
        await store.put_record(APPROVERS, "global", ["U1"])
        await store.acquire_lease("feed", "one", timedelta(seconds=30))
        await store.claim_key("delivery:1", timedelta(seconds=30))

        assert await other.get_approval("apr_1") is None
        assert await other.count_effects() == 0
        assert await other.read_audit() == []
        assert await other.get_cursor() is None
        assert await other.list_routes() == {}
        assert await other.list_records(APPROVERS) == {}
        assert await other.claim_key("delivery:1", timedelta(seconds=30)) is True
        with redis_server.client() as client:
            keys = {key.decode() for key in client.scan_iter()}
        assert keys and all(key.startswith(("t1:", "t2:")) for key in keys)
        assert "t1:approval:apr_1" in keys
    finally:
        await other.close()


async def test_a_restarted_server_is_reconnected_to(
    store: RedisStore, redis_server: RedisServer
) -> None:
    await store.set_cursor("c1")
    redis_server.restart()
    # Nothing persists (--save ""), but the store reconnects without the caller noticing.
    assert await store.get_cursor() is None
    await store.set_cursor("c2")
    assert await store.get_cursor() == "c2"


async def test_counts_by_type_and_kind_read_records_written_in_another_layout(
    store: RedisStore, redis_server: RedisServer
) -> None:
    await store.add_approval(approval())
    await store.enqueue_effects(
        [Effect(id="e1", subject="apr_1", kind=EffectKind.UNFURL, due_at=T0)]
    )
    # Spaced JSON (as another writer might store it) is not matched by the scripts' pattern:
    # it is decoded in full instead.
    with redis_server.client() as client:
        stored = client.hget("t1:approval:apr_1", "json")
        client.hset("t1:approval:apr_1", "json", json.dumps(json.loads(stored or b"{}")))
        effect = client.hget("t1:outbox", "e1")
        client.hset("t1:outbox", "e1", json.dumps(json.loads(effect or b"{}")))
    assert await store.count_pending_by_type() == {ApprovalType.MILESTONE_FUND: 1}
    assert await store.count_undone_effects_by_kind() == {EffectKind.UNFURL: 1}
