"""The store failing under a running bot: Redis restarted or down, the SQLite file locked.

Redis restarts are crashes (SIGKILL) of a server that persists what it acknowledged
(tests/support/durable_redis.py); the SQLite lock is held by a real second process
(tests/support/sqlite_lock.py). In every case no outcome is lost, none is doubled, and
a person who asks for something meanwhile is told what happened.

Proven elsewhere, not repeated here:
* tests/integration/test_store_redis.py — a restarted server is reconnected to without
  the caller noticing; every operation maps an outage to StoreUnavailable;
* tests/integration/test_store_sqlite.py — a lock held elsewhere waits `busy_timeout`,
  then raises StoreUnavailable naming the file and the likely cause;
* tests/e2e/test_tracking_restart.py — a Slack post whose result the store never
  recorded is found by its metadata, not posted again.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.deliveries import CLAIM_LEASE
from bot.feed_lease import FEED_LEASE
from bot.opentrain.webhooks import sign
from bot.store import RedisStore
from tests.e2e.test_agent_api_docs import documents
from tests.support.durable_redis import DurableRedisServer
from tests.support.processes import (
    CHANNEL,
    USER,
    Deployment,
    InProcessBot,
    add_proposals,
    card,
    card_text,
    deployment,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
    track,
)
from tests.support.sqlite_lock import SqliteLock
from tests.support.wait import wait_for

WEBHOOK_SECRET = "whsec_store_faults_0123456789"
AGENT_TOKEN = "store-fault-token-0123456789"
STORE_DOWN = "could not reach its own database"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path) as running:
        yield running


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[DurableRedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not on PATH: run `make test`", pytrace=False)
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = DurableRedisServer(executable, workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def tracked_hires(env: Deployment, count: int) -> list[str]:
    approvals = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, count)]
    for approval_id in approvals:
        await track(env.slack, approval_id)
    return approvals


async def ask(env: Deployment, text: str) -> str:
    """`/opentrain <text>` as Ana; everything her answer shows (progress lines skipped)."""
    seen = len(env.slack.ephemerals(USER))
    result = await env.slack.send_command(
        command="/opentrain", text=text, user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()

    def answered() -> str | None:
        for ephemeral in env.slack.ephemerals(USER)[seen:]:
            if not ephemeral.text.startswith("⏳"):
                return json.dumps({"text": ephemeral.text, "blocks": ephemeral.blocks})
        return None

    # Under a held lock each store operation queued before the answer's own waits out the busy
    # timeout (5 s) on the store's one worker thread, so a loaded machine needs a while.
    return await wait_for(answered, timeout=30, message=f"the answer to /opentrain {text}")


def fund_approvals(env: Deployment) -> list[str]:
    return [a.id for a in env.opentrain.state.approvals.values() if a.milestone_id == "ms_batch2"]


async def assert_every_outcome_once(
    env: Deployment, bot: InProcessBot, outcomes: dict[str, str]
) -> None:
    for approval_id in outcomes:
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=approval_id)
    await bot.settle()
    for approval_id, status in outcomes.items():
        assert status in card_text(env.slack, approval_id), approval_id
        assert len(outcome_replies(env.slack, approval_id)) == 1, approval_id
    assert set(effect_posts(env.slack, CHANNEL).values()) == {1}


async def healthy(bot: InProcessBot) -> bool:
    async with httpx.AsyncClient(base_url=bot.url) as http:
        return (await http.get("/healthz")).status_code == 200


async def unhealthy(bot: InProcessBot) -> bool:
    return not await healthy(bot)


# --- Redis -----------------------------------------------------------------------------------


async def test_redis_restarted_mid_run_loses_no_outcome_and_doubles_none(
    env: Deployment, durable_redis: DurableRedisServer
) -> None:
    bot = await env.start_bot(redis_url=durable_redis.url, ot_webhook_secret=WEBHOOK_SECRET)
    approvals = await tracked_hires(env, 6)
    state = env.opentrain.state

    # While idle: the next writes go to a fresh server process.
    durable_redis.restart()
    state.confirm(approvals[0])
    await wait_for(lambda: resolved(env.slack, approvals[0]), message="after an idle restart")

    # In the middle of delivering outcomes: the card of one is updated, the rest is not.
    state.confirm(approvals[1])
    state.confirm(approvals[2])
    await wait_for(
        lambda: any("Confirmed" in card_text(env.slack, a) for a in approvals[1:3]),
        message="the drain under way",
    )
    durable_redis.restart()

    # Down for a while: outcomes happen, a webhook rings, a person asks for something.
    durable_redis.stop()
    await wait_for(lambda: unhealthy(bot), message="the bot notices its store is gone")
    state.confirm(approvals[3])
    state.decline(approvals[4])
    body = json.dumps({"id": "1", "type": "approval.confirmed"}).encode()
    delivery = {
        "X-OpenTrain-Signature": sign(
            WEBHOOK_SECRET, body, int(bot.services.clock.now().timestamp())
        ),
        "X-OpenTrain-Delivery": "dlv_during_outage",
    }
    async with httpx.AsyncClient(base_url=bot.url) as http:
        refused = await http.post("/opentrain/webhook", content=body, headers=delivery)
    assert refused.status_code == 503  # OpenTrain retries it later
    told = await ask(env, "fund ms_batch2")
    assert STORE_DOWN in told and "asking again" in told

    durable_redis.start()
    await wait_for(lambda: healthy(bot), message="the store is back")
    async with httpx.AsyncClient(base_url=bot.url) as http:
        redelivered = await http.post("/opentrain/webhook", content=body, headers=delivery)
    assert redelivered.json() == {"ok": True, "duplicate": False}  # the refused one never counted
    assert "Approval card posted" in await ask(env, "fund ms_batch2")
    # Effects claimed by a delivery that could not record its result wait out their lease.
    state.advance(CLAIM_LEASE.total_seconds() + 1)
    state.advance(10)  # past the hold on a declined hire

    outcomes = {a: "Confirmed" for a in approvals[:4]} | {approvals[4]: "Declined"}
    await assert_every_outcome_once(env, bot, outcomes)
    assert "Review & confirm" in card_text(env.slack, approvals[5])
    [fund] = fund_approvals(env)  # asked twice, requested once
    assert card(env.slack, fund) is not None


# --- SQLite ------------------------------------------------------------------------------------


def database(env: Deployment) -> Path:
    return env.data_dir / "bot.db"


async def test_a_sqlite_file_locked_for_a_moment_makes_the_bot_wait_and_lose_nothing(
    env: Deployment,
) -> None:
    bot = await env.start_bot()
    approvals = await tracked_hires(env, 2)
    lock = await SqliteLock.take(database(env))
    try:
        env.opentrain.state.confirm(approvals[0])
        env.opentrain.state.confirm(approvals[1])
        mark = len(env.opentrain.requests)
        await env.slack.send_command(
            command="/opentrain", text="fund ms_batch2", user_id=USER, channel_id=CHANNEL
        )
        # OpenTrain has the request; recording it waits for the lock.
        await wait_for(lambda: fund_approvals(env), message="the fund request reached OpenTrain")
        assert len(env.opentrain.requests) > mark
    finally:
        await lock.release()
    [fund] = fund_approvals(env)
    await wait_for(lambda: card(env.slack, fund), message="the fund card")
    await assert_every_outcome_once(env, bot, dict.fromkeys(approvals, "Confirmed"))
    answers = [e.text for e in env.slack.ephemerals(USER)]
    assert any("Approval card posted" in text for text in answers)
    assert not any(STORE_DOWN in text for text in answers)


async def test_a_sqlite_lock_that_lasts_is_a_clear_error_and_nothing_is_lost(
    env: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await env.start_bot()
    [approval_id] = await tracked_hires(env, 1)
    lock = await SqliteLock.take(database(env))
    try:
        env.opentrain.state.confirm(approval_id)
        told = await ask(env, "fund ms_batch2")
        assert STORE_DOWN in told
        assert "locked by another connection" in caplog.text  # the operator learns why
        assert "is a second bot running on the same file?" in caplog.text
    finally:
        await lock.release()

    assert "Approval card posted" in await ask(env, "fund ms_batch2")
    [fund] = fund_approvals(env)  # the repeat got the same request
    assert card(env.slack, fund) is not None
    await assert_every_outcome_once(env, bot, {approval_id: "Confirmed"})


async def test_a_bot_stopped_while_redis_is_down_still_shuts_down_cleanly(
    env: Deployment, durable_redis: DurableRedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await env.start_bot(redis_url=durable_redis.url)
    owner = bot.services.owner
    await wait_for(
        lambda: bot.services.store.lease_holder(FEED_LEASE), message="the bot leads the feed"
    )
    assert await bot.services.store.lease_holder(FEED_LEASE) == owner
    durable_redis.stop()
    await bot.stop()  # a deploy's stop during the outage: no exception, nothing left open
    assert "feed lease not released" in caplog.text
    durable_redis.start()
    # The lease it could not give back lapses on its own, in real time.
    store = await RedisStore.connect(durable_redis.url)
    try:
        await wait_for(
            lambda: is_none(store.lease_holder(FEED_LEASE)), timeout=5, message="lease lapsed"
        )
    finally:
        await store.close()


async def is_none(value: Awaitable[object]) -> bool:
    return await value is None


async def test_an_agent_asking_while_redis_is_down_is_told_to_retry(
    env: Deployment, durable_redis: DurableRedisServer
) -> None:
    bot = await env.start_bot(redis_url=durable_redis.url, agent_tokens=f"scout:{AGENT_TOKEN}")
    durable_redis.stop()
    try:
        async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
            response = await http.post(
                "/agent/v1/fund",
                json={"milestoneId": "ms_batch2"},
                headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
            )
            assert response.status_code == 503
            assert response.json()["code"] == "UNAVAILABLE"
            assert response.headers["Retry-After"] == "5"
            # Reads too, waiting or not: answered at once, as documented.
            for path in ("/agent/v1/approvals/apr_1?waitSeconds=60", "/agent/v1/requests/r_1"):
                read = await http.get(path, headers={"Authorization": f"Bearer {AGENT_TOKEN}"})
                assert read.status_code == 503, (path, read.text)
                assert read.json()["code"] == "UNAVAILABLE"
                assert documents("GET", path.partition("?")[0], 503)
    finally:
        durable_redis.start()
