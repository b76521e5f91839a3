"""Exactly one DM per reminder with two bots sharing Redis, and after a restart (Redis, SQLite)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from aiohttp import web

from bot.app import SERVICES
from bot.config import Settings
from bot.sandbox.runner import Sandbox, bind, start_bot
from bot.services import Services
from tests.e2e.test_reminders import (
    CHANNEL,
    START,
    UNPACED,
    hire,
    move_to,
    reminders_sent,
    run_reminders,
    set_approvers,
)
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for


class Replicas:
    """More bot processes (in this process) beside a sandbox's, all sharing its store."""

    def __init__(self) -> None:
        self._runners: dict[int, web.AppRunner] = {}

    async def start(self, settings: Settings) -> Services:
        runner = await start_bot(settings, bind("127.0.0.1", 0))
        services = runner.app[SERVICES]
        self._runners[id(services)] = runner
        return services

    async def stop(self, services: Services) -> None:
        await self._runners.pop(id(services)).cleanup()

    async def stop_all(self) -> None:
        for runner in reversed(self._runners.values()):
            await runner.cleanup()
        self._runners.clear()


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    started = Replicas()
    yield started
    await started.stop_all()


def tally(sandbox: Sandbox) -> Counter[tuple[str, bool]]:
    return Counter((sent.user, sent.final) for sent in reminders_sent(sandbox))


async def reach(sandbox: Sandbox, instant: datetime, *bots: Services) -> None:
    """Every bot ticks (twice, concurrently) once the clock has passed `instant`."""
    await move_to(sandbox, instant + timedelta(seconds=1))
    for _ in range(2):
        await asyncio.gather(*(run_reminders(bot) for bot in bots))


async def test_two_bots_on_redis_send_each_reminder_once_also_across_a_restart(
    make_sandbox: SandboxFactory, redis_url: str, replicas: Replicas
) -> None:
    sandbox = await make_sandbox(redis_url=redis_url, **UNPACED)
    first = sandbox.services
    second = await replicas.start(first.settings)
    await set_approvers(sandbox, CHANNEL, "U0ANA", "U0BEN", "U0KAI", "U0GONE")
    await move_to(sandbox, START)
    approval = await hire(sandbox, requester="U0LEI")  # not an approver: all three are reminded
    expires = approval.expires_at

    # Ana's 24 h reminder (10:00 in Berlin) — both bots tick, one DM.
    await reach(sandbox, expires - timedelta(hours=24), first, second)
    await wait_for(lambda: tally(sandbox) == Counter({("U0ANA", False): 1}), message="Ana's")

    # Ben's (08:00 in New York): then the second bot is restarted.
    await reach(sandbox, datetime.fromisoformat("2031-11-12T13:00:00+00:00"), first, second)
    await wait_for(lambda: tally(sandbox)[("U0BEN", False)] == 1, message="Ben's")
    await replicas.stop(second)
    restarted = await replicas.start(first.settings)
    assert await run_reminders(restarted) == 0

    # Kai's (08:00 in Auckland), then everyone's last one, with the restarted bot.
    await reach(sandbox, datetime.fromisoformat("2031-11-12T19:00:00+00:00"), first, restarted)
    await reach(sandbox, expires - timedelta(hours=2), first, restarted)
    expected = Counter(
        {(user, final): 1 for user in ("U0ANA", "U0BEN", "U0KAI") for final in (False, True)}
    )
    await wait_for(lambda: tally(sandbox) == expected, message="the last reminders")
    await asyncio.gather(run_reminders(first), run_reminders(restarted))
    assert tally(sandbox) == expected

    audit = await first.store.read_audit(approval_id=approval.approval_id)
    assert sum(1 for entry in audit if entry.action == "reminder") == 6
    assert sum(1 for entry in audit if entry.action == "reminder_skipped") == 2


async def test_a_restarted_bot_on_sqlite_does_not_remind_again(
    make_sandbox: SandboxFactory, replicas: Replicas
) -> None:
    sandbox = await make_sandbox(**UNPACED)
    await set_approvers(sandbox, CHANNEL, "U0LEI")
    await move_to(sandbox, START)
    approval = await hire(sandbox)
    await reach(sandbox, datetime.fromisoformat("2031-11-12T18:00:00+00:00"), sandbox.services)
    await wait_for(lambda: tally(sandbox) == Counter({("U0LEI", False): 1}), message="Lei's")

    # A new process on the same database file knows nothing in memory.
    restarted = await replicas.start(sandbox.services.settings)
    assert await run_reminders(restarted) == 0
    await reach(sandbox, approval.expires_at - timedelta(hours=2), restarted)
    await wait_for(
        lambda: tally(sandbox) == Counter({("U0LEI", False): 1, ("U0LEI", True): 1}),
        message="Lei's last reminder",
    )
