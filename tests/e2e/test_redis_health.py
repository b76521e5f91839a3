"""`serve` and `socket` refuse a Redis that may evict keys, before anything starts, unless
REDIS_ALLOW_EVICTION=true; `/opentrain status` shows what the doctor checks of it.

Each test runs its own throwaway redis-server (set to `allkeys-lru` with CONFIG SET):
the session's server keeps Redis's default `noeviction`.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import pytest

from tests.support.bot_harness import SandboxFactory
from tests.support.commands import rendered, start_bot
from tests.support.processes import REPO, Deployment
from tests.support.redis_server import RedisServer

EXIT_TIMEOUT = 60.0


@pytest.fixture
def evicting_redis(throwaway_redis: RedisServer) -> RedisServer:
    with throwaway_redis.client() as client:
        client.config_set("maxmemory-policy", "allkeys-lru")
    return throwaway_redis


@pytest.mark.parametrize("command", ["serve", "socket"])
async def test_an_evicting_redis_stops_the_bot_before_anything_starts(
    env: Deployment, evicting_redis: RedisServer, command: str
) -> None:
    process_env = env.process_env(redis_url=evicting_redis.url, slack_app_token="xapp-1-test")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        command,
        cwd=REPO,
        env=process_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=EXIT_TIMEOUT)

    assert process.returncode != 0
    error = stderr.decode().strip()
    assert "\n" not in error, error  # one line, no traceback
    assert error.startswith(
        f"{command}: refusing to start: Redis maxmemory-policy is allkeys-lru: "
    ), error
    assert "set `maxmemory-policy noeviction` (redis.conf)" in error
    assert "`CONFIG SET maxmemory-policy noeviction`" in error
    assert "REDIS_ALLOW_EVICTION=true" in error
    assert stdout == b""
    # Nothing started: no key written (no lease, no record), nothing listening on its port.
    with evicting_redis.client() as client:
        assert client.dbsize() == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(process_env["PORT"]))) != 0


async def test_redis_allow_eviction_starts_the_bot_with_a_loud_warning(
    env: Deployment, evicting_redis: RedisServer
) -> None:
    bot = await env.spawn_bot(redis_url=evicting_redis.url, redis_allow_eviction=True)
    output = bot.output()
    assert "REDIS MAY EVICT KEYS; starting anyway (REDIS_ALLOW_EVICTION=true)" in output
    # The throwaway server keeps nothing across a restart either: a warning, not a refusal.
    assert "REDIS KEEPS NOTHING ACROSS A RESTART" in output and "appendonly yes" in output
    assert await bot.terminate() == 0


async def test_a_redis_that_keeps_its_data_starts_without_a_warning(
    env: Deployment, throwaway_redis: RedisServer
) -> None:
    with throwaway_redis.client() as client:
        client.config_set("appendonly", "yes")
    bot = await env.spawn_bot(redis_url=throwaway_redis.url)
    output = bot.output()
    for warning in (
        "REDIS MAY EVICT",
        "REDIS KEEPS NOTHING",
        "Redis eviction",
        "Redis persistence",
    ):
        assert warning not in output
    assert await bot.terminate() == 0


async def test_status_shows_the_redis_checks(
    make_sandbox: SandboxFactory, evicting_redis: RedisServer
) -> None:
    bot = await start_bot(make_sandbox, redis_url=evicting_redis.url)
    await bot.command("status")
    shown = rendered(await bot.answer())
    assert "❌ *Redis eviction policy* — maxmemory-policy is allkeys-lru" in shown
    assert "Set `maxmemory-policy noeviction` (redis.conf)" in shown
    assert "⚠️ *Redis persistence* — no persistence" in shown
