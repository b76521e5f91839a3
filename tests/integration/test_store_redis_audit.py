"""RedisStore's audit log beyond the shared contract: stream ids are the entries' times, so
reads from a time and pruning are id ranges, and each approval's history is trimmed with the
stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.audit_log import AuditEntry
from bot.store import RedisStore
from tests.support.redis_server import RedisServer

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MS = int(T0.timestamp() * 1000)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    store = await RedisStore.connect(redis_url, prefix="t1:")
    yield store
    await store.close()


def entry(at: datetime, approval_id: str | None = None, action: str = "a") -> AuditEntry:
    return AuditEntry(at=at, action=action, actor="bot", approval_id=approval_id)


def stream_ids(redis_server: RedisServer) -> list[str]:
    with redis_server.client() as client:
        return [entry_id.decode() for entry_id, _ in client.xrange("t1:audit")]


def history(redis_server: RedisServer, approval_id: str) -> list[str]:
    with redis_server.client() as client:
        records = client.lrange(f"t1:audit:approval:{approval_id}", 0, -1)
    return [AuditEntry.model_validate_json(record).action for record in records]


async def test_an_entrys_id_is_its_time_or_just_after_the_last(
    store: RedisStore, redis_server: RedisServer
) -> None:
    await store.append_audit(entry(T0, action="first"))
    await store.append_audit(entry(T0, action="same ms"))
    # A replica whose clock is behind: after the last id, never before it.
    await store.append_audit(entry(T0 - timedelta(minutes=1), action="late"))
    await store.append_audit(entry(T0 + timedelta(seconds=1, microseconds=999), action="next"))

    assert stream_ids(redis_server) == [f"{MS}-0", f"{MS}-1", f"{MS}-2", f"{MS + 1000}-0"]
    # Small reads are sorted by time; the export follows the stream.
    assert [e.action for e in await store.read_audit()] == ["late", "first", "same ms", "next"]
    assert [e.action async for e in store.iter_audit()] == ["first", "same ms", "late", "next"]
    since = [e.action for e in await store.read_audit(since=T0 + timedelta(seconds=1))]
    assert since == ["next"]


async def test_pruning_trims_the_stream_and_each_approvals_history_alike(
    store: RedisStore, redis_server: RedisServer
) -> None:
    for minute in range(10):
        approval_id = ("apr_1", "apr_2", None)[minute % 3]
        await store.append_audit(entry(T0 + timedelta(minutes=minute), approval_id, f"m{minute}"))
    cutoff = T0 + timedelta(minutes=4)

    assert (await store.prune(cutoff, dry_run=True))["audit"] == 4
    assert len(stream_ids(redis_server)) == 10
    assert (await store.prune(cutoff))["audit"] == 4

    assert stream_ids(redis_server)[0] == f"{MS + 4 * 60_000}-0"
    assert history(redis_server, "apr_1") == ["m6", "m9"]
    assert history(redis_server, "apr_2") == ["m4", "m7"]
    assert [e.action for e in await store.read_audit(approval_id="apr_1")] == ["m6", "m9"]
    # A history trimmed to nothing leaves no key behind.
    assert (await store.prune(T0 + timedelta(minutes=8)))["audit"] == 4
    assert history(redis_server, "apr_2") == []
    with redis_server.client() as client:
        assert client.exists("t1:audit:approval:apr_2") == 0
    # Ids keep growing after a trim, whatever the entries' times.
    await store.append_audit(entry(T0, "apr_2", "again"))
    assert stream_ids(redis_server)[-1] == f"{MS + 9 * 60_000}-1"


async def test_entries_appended_with_redis_own_ids_still_read_and_prune(
    store: RedisStore, redis_server: RedisServer
) -> None:
    now = datetime.now(UTC)
    legacy = entry(now, "apr_1", "legacy")
    with redis_server.client() as client:  # as the store appended entries before ids were times
        client.xadd("t1:audit", {"json": legacy.model_dump_json()})
        client.rpush("t1:audit:approval:apr_1", legacy.model_dump_json())
    await store.append_audit(entry(now - timedelta(seconds=5), "apr_1", "new"))

    assert [e.action async for e in store.iter_audit()] == ["legacy", "new"]
    assert [e.action for e in await store.read_audit(approval_id="apr_1")] == ["new", "legacy"]
    assert (await store.prune(now - timedelta(days=1)))["audit"] == 0
    assert (await store.prune(now + timedelta(days=1)))["audit"] == 2
    assert await store.read_audit() == []
    assert history(redis_server, "apr_1") == []
