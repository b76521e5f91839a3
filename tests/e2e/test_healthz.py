"""`GET /healthz`: each dependency `ok` or `failing`, nothing about paths, hosts or versions.

Anyone may ask, so asking costs no OpenTrain or Slack call: the bot reports what it last
saw of them (its feed polls, its Slack deliveries). Only a failing store answers 503 —
with OpenTrain or Slack down the bot still queues its work, so a load balancer keeps it.
Faults are injected over the simulators' `/_sim/faults`, or Redis is stopped; time moves
on the OpenTrain simulator's clock, never by sleeping.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from bot.feed_lease import FEED_LEASE
from bot.notifier import MAX_BACKOFF_SECONDS
from bot.tracked_approvals import Requester
from tests.support.bot_harness import SandboxFactory
from tests.support.processes import Deployment
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_for

ALL_OK = {"ok": True, "store": "ok", "opentrain": "ok", "slack": "ok"}
VERSION = re.compile(r"\d+\.\d+")


async def health(bot_url: str) -> tuple[int, dict[str, Any], str]:
    async with httpx.AsyncClient(base_url=bot_url, timeout=10) as http:
        answer = await http.get("/healthz")
    return answer.status_code, answer.json(), answer.text


async def answers(bot_url: str, expected: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
    """Wait until /healthz says `expected`; returns the whole answer."""

    async def matches() -> tuple[int, dict[str, Any], str] | None:
        status, body, text = await health(bot_url)
        return (status, body, text) if body == expected else None

    return await wait_for(matches, message=f"/healthz to say {expected}")


async def sim_faults(origin: str, method: str, spec: dict[str, Any] | None = None) -> None:
    """`POST` (add) or `DELETE` (clear) a simulator's `/_sim/faults`."""
    async with httpx.AsyncClient(base_url=origin, timeout=10) as http:
        answer = await http.request(method, "/_sim/faults", json=spec)
    assert answer.is_success, answer.text


def assert_tells_no_internals(text: str, *internals: str) -> None:
    for internal in ("sqlite", "redis", "127.0.0.1", "localhost", "/", *internals):
        assert internal not in text.lower(), (internal, text)
    assert not VERSION.search(text), text


async def test_a_healthy_bot_says_ok_and_nothing_else(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = await make_sandbox()
    status, _, text = await answers(sandbox.bot_url, ALL_OK)
    assert status == 200
    port = sandbox.bot_url.rsplit(":", 1)[1]
    assert_tells_no_internals(text, str(tmp_path), "sandbox.db", port)


async def test_a_store_outage_is_a_503_naming_only_the_store(
    make_sandbox: SandboxFactory, redis_server: RedisServer, redis_url: str
) -> None:
    sandbox = await make_sandbox(redis_url=redis_url)
    status, _, text = await answers(sandbox.bot_url, ALL_OK)
    assert status == 200
    assert_tells_no_internals(text, str(redis_server.port))
    redis_server.stop()
    try:
        down = {"ok": False, "store": "failing", "opentrain": "ok", "slack": "ok"}
        status, _, text = await answers(sandbox.bot_url, down)
        assert status == 503
        assert_tells_no_internals(text, str(redis_server.port))
    finally:
        redis_server.start()
    status, _, _ = await answers(sandbox.bot_url, ALL_OK)
    assert status == 200


async def test_an_opentrain_outage_is_failing_then_ok_and_never_a_503(
    make_sandbox: SandboxFactory,
) -> None:
    sandbox = await make_sandbox()
    await answers(sandbox.bot_url, ALL_OK)
    origin = sandbox.opentrain.origin
    await sim_faults(origin, "POST", {"path": "/updates", "status": 500})
    status, _, _ = await answers(
        sandbox.bot_url, {"ok": False, "store": "ok", "opentrain": "failing", "slack": "ok"}
    )
    assert status == 200  # the bot still serves; cards catch up once OpenTrain is back

    await sim_faults(origin, "DELETE")
    status, _, _ = await answers(sandbox.bot_url, ALL_OK)
    assert status == 200


async def test_a_slack_outage_is_failing_until_slack_answers_again(
    make_sandbox: SandboxFactory,
) -> None:
    sandbox = await make_sandbox()
    await answers(sandbox.bot_url, ALL_OK)
    slack = sandbox.slack.origin
    await sim_faults(slack, "POST", {"path": "chat.postMessage", "status": 500})
    # A card to post: its delivery meets the fault.
    await sandbox.services.cosign.fund(
        "ms_batch2", requester=Requester(kind="slack", id="U0ANA"), channel_id="C0HIRING"
    )
    status, _, _ = await answers(
        sandbox.bot_url, {"ok": False, "store": "ok", "opentrain": "ok", "slack": "failing"}
    )
    assert status == 200

    await sim_faults(slack, "DELETE")

    async def recovered() -> bool:
        # The card's retry waits out its backoff on the simulator's clock.
        sandbox.opentrain.state.advance(MAX_BACKOFF_SECONDS)
        await sandbox.services.clock.sync()
        await sandbox.services.notifier.drain()
        return (await health(sandbox.bot_url))[1] == ALL_OK

    await wait_for(recovered, interval=0.1, message="Slack answering again")


# --- replicas: only the leader polls ----------------------------------------------------------


async def test_a_follower_reports_the_outage_its_leader_recorded(env: Deployment) -> None:
    bots = [await env.start_bot(), await env.start_bot()]  # one SQLite file: one leader
    holder = await wait_for(
        lambda: bots[0].services.store.lease_holder(FEED_LEASE), message="a feed leader"
    )
    [follower] = [bot for bot in bots if bot.services.owner != holder]
    for bot in bots:
        await answers(bot.url, ALL_OK)

    await sim_faults(env.opentrain.origin, "POST", {"path": "/updates", "status": 500})
    failing = {"ok": False, "store": "ok", "opentrain": "failing", "slack": "ok"}
    for bot in bots:
        await answers(bot.url, failing)
    assert not follower.services.tracker.last_feed_poll_failed  # it polled nothing itself

    await sim_faults(env.opentrain.origin, "DELETE")
    for bot in bots:
        await answers(bot.url, ALL_OK)
