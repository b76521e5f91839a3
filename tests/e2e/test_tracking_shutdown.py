"""Stopping the bot while its jobs run is clean: no traceback, no task left behind, exit 0.

A deploy sends SIGTERM; the scheduler lets a running tick finish within its
grace, cancels one that outlives it, and the process exits normally — the work
it did not finish is in the store for the next process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.outbox import EffectKind, effect
from bot.sandbox.faults import FaultSpec
from bot.scheduler import SHUTDOWN_GRACE_SECONDS
from bot.store import SqliteStore
from bot.store.factory import sqlite_path
from tests.support.processes import (
    add_proposals,
    card,
    deployment,
    outcome_replies,
    request_hire,
    resolved,
    track,
)
from tests.support.wait import wait_for

UNCLEAN = ("Traceback", "Task was destroyed", "was never awaited", "Unclosed", "Error running job")


async def test_sigterm_during_a_slow_slack_call_exits_cleanly_and_the_successor_finishes(
    tmp_path: Path,
) -> None:
    async with deployment(tmp_path) as env:
        bot = await env.spawn_bot()
        [approval_id] = [
            await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, 1)
        ]
        await track(env.slack, approval_id)
        # The card update hangs in Slack longer than the shutdown grace.
        late = int((SHUTDOWN_GRACE_SECONDS + 1) * 1000)
        env.slack.faults.add(FaultSpec(path="chat.update", latency_ms=late, count=1))
        env.opentrain.state.confirm(approval_id)
        await wait_for(lambda: "approval resolved" in bot.output(), message="outcome learned")
        await wait_for(lambda: env.slack.faults.describe() == [], message="update in flight")

        exit_code = await bot.terminate(timeout=SHUTDOWN_GRACE_SECONDS + 10)

        output = bot.output()
        assert exit_code == 0, output[-3000:]
        assert not [marker for marker in UNCLEAN if marker in output], output[-3000:]
        assert "scheduled job cancelled at shutdown" in output
        assert card(env.slack, approval_id) is not None
        assert not outcome_replies(env.slack, approval_id)

        store = await SqliteStore.open(sqlite_path(env.settings()["database_url"]))
        try:
            update_id = effect(
                approval_id, EffectKind.UPDATE_CARD, datetime.now(UTC), key="confirmed"
            ).id
            update = await store.get_effect(update_id)
        finally:
            await store.close()
        assert update is not None and not update.done  # left for the next process

        successor = await env.start_bot()
        env.opentrain.state.advance(600)  # the dead process's claim lapses
        await wait_for(lambda: resolved(env.slack, approval_id), message="successor finished")
        await successor.settle()
        assert len(outcome_replies(env.slack, approval_id)) == 1
