"""What a real redis-server answers about eviction and persistence (bot/store/redis_health.py).

Each test changes its own throwaway server's configuration (CONFIG SET, ACL users),
never the session's.
"""

from __future__ import annotations

import pytest

from bot.store import StoreUnavailable
from bot.store.redis_health import RedisConfig, assess, read_config
from tests.support.redis_server import RedisServer, free_port


async def test_the_suites_redis_keeps_no_data_but_never_evicts(
    throwaway_redis: RedisServer,
) -> None:
    # Started like the session's server: --save "" --appendonly no, Redis's default policy.
    found = await read_config(throwaway_redis.url)
    assert found == RedisConfig(maxmemory_policy="noeviction", appendonly="no", save="")
    health = assess(found)
    assert (health.eviction.verdict, health.persistence.verdict) == ("ok", "bad")


async def test_what_config_set_changes_is_read_back(throwaway_redis: RedisServer) -> None:
    with throwaway_redis.client() as client:
        client.config_set("maxmemory-policy", "allkeys-lru")
        client.config_set("appendonly", "yes")
    found = await read_config(throwaway_redis.url)
    assert (found.maxmemory_policy, found.appendonly) == ("allkeys-lru", "yes")
    health = assess(found)
    assert health.eviction.verdict == "bad" and health.persistence.verdict == "ok"


async def test_a_user_refused_config_is_answered_from_info(throwaway_redis: RedisServer) -> None:
    # Managed Redis refuses CONFIG; an ACL user without it plays that here.
    with throwaway_redis.client() as client:
        client.config_set("maxmemory-policy", "volatile-lru")
        client.acl_setuser(
            "app",
            enabled=True,
            passwords=["+app-pass"],
            keys=["*"],
            channels=["*"],
            commands=["+@all", "-config"],
        )
    found = await read_config(f"redis://app:app-pass@127.0.0.1:{throwaway_redis.port}/0")
    assert found.config_refused is not None and "config" in found.config_refused
    assert found.maxmemory_policy == "volatile-lru" and found.appendonly is None
    health = assess(found)
    assert health.eviction.verdict == "bad" and health.persistence.verdict == "unknown"


async def test_a_user_refused_config_and_info_leaves_both_unchecked(
    throwaway_redis: RedisServer,
) -> None:
    with throwaway_redis.client() as client:
        client.acl_setuser(
            "app",
            enabled=True,
            passwords=["+app-pass"],
            keys=["*"],
            channels=["*"],
            commands=["+@all", "-config", "-info"],
        )
    found = await read_config(f"redis://app:app-pass@127.0.0.1:{throwaway_redis.port}/0")
    assert found.config_refused is not None and found.maxmemory_policy is None
    health = assess(found)
    assert (health.eviction.verdict, health.persistence.verdict) == ("unknown", "unknown")
    assert health.refusal(allow_eviction=False) is None


async def test_an_unreachable_redis_is_unavailable_without_its_password() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        await read_config(f"redis://:hunter2-pass@127.0.0.1:{free_port()}/0")
    assert "redis at 127.0.0.1:" in str(raised.value)
    assert "hunter2-pass" not in str(raised.value)
