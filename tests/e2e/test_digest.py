"""The daily digest: once a day across replicas, pending approvals with the most money first."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, time, timedelta

from bot.digest import Digest
from bot.sandbox.runner import Sandbox
from bot.tracked_approvals import Requester
from tests.e2e.test_reminders import START, UNPACED, current, hire, move_to
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

DIGEST_CHANNEL = "C0GENERAL"


def digests(sandbox: Sandbox) -> list[str]:
    return [m.text for m in sandbox.slack.messages(DIGEST_CHANNEL) if "pending" in m.text]


async def test_one_digest_a_day_across_replicas_most_money_first(
    make_sandbox: SandboxFactory, redis_url: str
) -> None:
    sandbox = await make_sandbox(redis_url=redis_url, **UNPACED)
    services = sandbox.services
    await move_to(sandbox, START)
    grace = await hire(sandbox, "prop_grace", "520")  # $581.95 with fees
    ada = await hire(sandbox, "prop_ada", "450")  # $504.95 with fees
    lidar = await services.cosign.fund(
        "ms_lidar1", requester=Requester(kind="slack", id="U0ANA"), channel_id="C0HIRING"
    )  # $300.00

    # Two replicas, each with its own Digest, sharing the Redis store.
    replicas = [
        Digest(
            store=services.store,
            clock=services.clock,
            notifier=services.notifier,
            channel_id=DIGEST_CHANNEL,
            at=time(9, 0),
        )
        for _ in range(2)
    ]

    async def tick_all() -> list[bool]:
        await services.clock.sync()
        return list(await asyncio.gather(*(replica.tick() for replica in replicas)))

    await move_to(sandbox, datetime(2031, 11, 11, 8, 59, tzinfo=UTC))
    assert await tick_all() == [False, False]
    assert digests(sandbox) == []

    await move_to(sandbox, datetime(2031, 11, 11, 9, 0, 30, tzinfo=UTC))
    assert sorted(await tick_all()) == [False, True]
    assert await tick_all() == [False, False]
    await wait_for(lambda: digests(sandbox), message="the digest posted")
    assert digests(sandbox) == ["3 approvals pending, $1,386.90 at risk"]
    message = sandbox.slack.messages(DIGEST_CHANNEL)[-1]
    rendered = json.dumps(message.blocks)
    most_first = (grace, ada, await current(sandbox, lidar.approval.approval_id))
    order = [rendered.index(str(approval.card_permalink)) for approval in most_first]
    assert order == sorted(order)

    # The next day, one more; late in the day still counts (a replica was down at 09:00).
    await move_to(sandbox, datetime(2031, 11, 12, 17, 0, tzinfo=UTC))
    assert sorted(await tick_all()) == [False, True]
    await wait_for(lambda: len(digests(sandbox)) == 2, message="the second digest posted")

    posted = [e for e in await services.store.read_audit() if e.action == "digest_posted"]
    assert [(e.details["channel"], e.details["pending"]) for e in posted] == [
        (DIGEST_CHANNEL, 3),
        (DIGEST_CHANNEL, 3),
    ]


async def test_the_digest_job_runs_when_configured(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(digest_channel=DIGEST_CHANNEL, digest_time="09:00", **UNPACED)
    await move_to(sandbox, START - timedelta(days=1))
    await hire(sandbox, "prop_ada", "450")
    await move_to(sandbox, START + timedelta(minutes=5))
    sandbox.services.scheduler.kick("digest")
    await wait_for(
        lambda: "1 approval pending, $504.95 at risk" in digests(sandbox),
        message="the scheduled digest",
    )
