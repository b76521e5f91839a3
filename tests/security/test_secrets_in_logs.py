"""No configured secret ever reaches a log line — in success, in failure, at DEBUG.

Every secret the bot knows is set to a recognisable value: the Slack bot token, the
signing secret, the OpenTrain token, the webhook secret, two agent tokens and the Redis
password. Then a representative set of requests runs through every door, including
forged ones, OpenTrain and Slack failures, and the bot's own token being revoked.

In this process every log record is captured raw at DEBUG (caplog), before the
redaction `bot.logs` puts on the production handler — so the bot and its libraries must
not log a secret at all. A real `python -m bot serve` process at LOG_LEVEL=DEBUG is
checked the same way on its stderr, as an operator would read it.

Proven elsewhere, not repeated here: tests/integration/test_client_transport.py (the
OpenTrain token is sent but never shown in retries or errors), tests/integration/
test_store_redis.py (the Redis password never shows in store errors), tests/e2e/
test_webhooks.py (refused deliveries are logged without the webhook secret).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.opentrain.webhooks import sign
from bot.sandbox.faults import FaultSpec
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.opentrain.vocabulary import ALL_SCOPES
from bot.sandbox.runner import bind, start_bot, url_of
from bot.sandbox.slack import SlackSim
from tests.support.processes import REPO, BotProcess
from tests.support.redis_server import RedisServer, free_port
from tests.support.wait import wait_for

CHANNEL = "C0HIRING"
USER = "U0ANA"
BOT_TOKEN = "xoxb-1111-2222-LeakCheckBotToken"
SIGNING_SECRET = "LeakCheckSigningSecret0123456789"
OT_TOKEN = "ot_pat_LeakCheckOpenTrainToken"
WEBHOOK_SECRET = "whsec_LeakCheckWebhookSecret"
PLANNER_TOKEN = "LeakCheckPlannerAgentToken"
AUDITOR_TOKEN = "LeakCheckAuditorAgentToken"
REDIS_USER = "leakcheck"
REDIS_PASSWORD = "LeakCheckRedisPassword"
SECRETS = {
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    "OT_API_TOKEN": OT_TOKEN,
    "OT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "agent token planner": PLANNER_TOKEN,
    "agent token auditor": AUDITOR_TOKEN,
    "REDIS_URL password": REDIS_PASSWORD,
}
# Loggers of the simulators: not part of the bot, and they may print what they were sent.
SIMULATORS = ("bot.sandbox",)


@dataclass
class World:
    """Both simulators, knowing the bot's secrets, and the settings a bot needs to use them."""

    opentrain: OpenTrainSim
    slack: SlackSim
    settings: dict[str, str]


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """The session Redis, as a password-protected user."""
    if not redis_server.running:
        redis_server.start()
    with redis_server.client() as client:
        client.flushdb()
        client.acl_setuser(
            REDIS_USER,
            enabled=True,
            passwords=[f"+{REDIS_PASSWORD}"],
            keys=["*"],
            channels=["*"],
            commands=["+@all"],
        )
        yield f"redis://{REDIS_USER}:{REDIS_PASSWORD}@127.0.0.1:{redis_server.port}/0"
        client.acl_deluser(REDIS_USER)


@pytest.fixture
async def world(redis_url: str) -> AsyncIterator[World]:
    opentrain = OpenTrainSim(seed="demo", webhook_time_scale=0.001)
    origin = await opentrain.start("127.0.0.1", 0)
    state = opentrain.state
    state.add_token(state.account(), secret=OT_TOKEN, label="leak check", scopes=ALL_SCOPES)
    slack = SlackSim(
        signing_secret=SIGNING_SECRET,
        bot_token=BOT_TOKEN,
        unfurl_domains=(origin.split("://", 1)[1],),
    )
    await slack.start("127.0.0.1", 0)
    settings = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "ot_api_token": OT_TOKEN,
        "ot_api_base_url": origin,
        "ot_webhook_secret": WEBHOOK_SECRET,
        "ot_poll_interval_seconds": "0.2",
        "ot_timeout_seconds": "0.5",
        "agent_tokens": f"planner:{PLANNER_TOKEN},auditor:{AUDITOR_TOKEN}",
        "redis_url": redis_url,
        "sandbox_clock_url": f"{origin}/_sim/clock",
        "default_channel": CHANNEL,
        "slack_rate_limit_scale": "100",
    }
    try:
        yield World(opentrain, slack, settings)
    finally:
        await slack.stop()
        await opentrain.stop()


async def exercise(world: World, bot_url: str) -> None:
    """Requests through every door, good and bad, with OpenTrain and Slack failing meanwhile."""
    slack, opentrain = world.slack, world.opentrain
    slack.bot_url = f"{bot_url}/slack/events"
    async with httpx.AsyncClient(base_url=bot_url, timeout=20) as http:
        # Slack: a good command, a forged one, an OpenTrain refusal, an OpenTrain outage.
        assert (
            await slack.send_command(
                command="/opentrain", text="fund ms_batch2", user_id=USER, channel_id=CHANNEL
            )
        ).ok
        forged = await http.post(
            "/slack/events",
            content=b"command=/opentrain&text=fund+ms_batch2",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": str(int(time.time())),
                "X-Slack-Signature": "v0=" + "0" * 64,
            },
        )
        assert forged.status_code == 401
        opentrain.faults.add(FaultSpec(path="/milestones/*/approve", status=500))
        for text in ("fund ms_nope", "payout ms_batch1", "status"):
            await slack.send_command(
                command="/opentrain", text=text, user_id=USER, channel_id=CHANNEL
            )
        # Agents: good, wrong token, invalid body, OpenTrain rate limiting.
        planner = {"Authorization": f"Bearer {PLANNER_TOKEN}"}
        # Short: after a 429 no request of the bot's token leaves before Retry-After.
        opentrain.faults.add(FaultSpec(path="/contracts/*/end", status=429, retry_after=2, count=1))
        for action, body, headers in [
            ("hire", hire_body(), planner),
            ("fund", {"milestoneId": "ms_batch2"}, {"Authorization": f"Bearer {PLANNER_TOKEN}x"}),
            ("fund", {"milestoneId": "ms_batch2", "agent": "auditor"}, planner),
            ("end", {"contractId": "ctr_linus"}, planner),
        ]:
            await http.post(f"/agent/v1/{action}", json=body, headers=headers)
        # Webhooks: a genuine delivery and a forged one.
        body = json.dumps({"id": "1", "type": "approval.confirmed"}).encode()
        for secret, delivery in ((WEBHOOK_SECRET, "dlv_1"), ("whsec_guess", "dlv_2")):
            signature = sign(secret, body, int(opentrain.state.now().timestamp()))
            await http.post(
                "/opentrain/webhook",
                content=body,
                headers={"X-OpenTrain-Signature": signature, "X-OpenTrain-Delivery": delivery},
            )
        # An outcome while Slack fails, then the bot's own OpenTrain token revoked.
        slack.faults.add(FaultSpec(path="chat.postMessage", status=500, count=1))
        slack.faults.add(FaultSpec(path="chat.update", status=200, error="invalid_auth", count=1))
        hire = next(a for a in opentrain.state.approvals.values() if a.proposal_id == "prop_ada")
        opentrain.state.confirm(hire.id)
        opentrain.state.advance(10)
        await wait_for(
            lambda: any("Confirmed" in str(m.blocks) for m in slack.messages(CHANNEL)),
            timeout=20,
            message="the outcome on the card",
        )
        del opentrain.state.tokens[OT_TOKEN]
        await slack.send_command(
            command="/opentrain", text="contracts", user_id=USER, channel_id=CHANNEL
        )
        polls = len(opentrain.requests)
        await wait_for(lambda: len(opentrain.requests) > polls + 3, message="rejected polls")


def hire_body() -> dict[str, object]:
    return {
        "proposalId": "prop_ada",
        "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450},
    }


def leaked(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


async def test_no_secret_in_any_log_record_in_process(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sock = bind("127.0.0.1", 0)
    url = url_of(sock)
    runner = await start_bot(Settings.model_validate(world.settings), sock)
    try:
        await exercise(world, url)
    finally:
        await runner.cleanup()
    records = [r for r in caplog.records if not r.name.startswith(SIMULATORS)]
    assert any(r.levelno == logging.DEBUG for r in records)
    logged = "\n".join(f"{r.name} {caplog_handler_text(r)}" for r in records)
    assert all(marker in logged for marker in FAILURES_LOGGED)
    assert leaked(logged) == []


def caplog_handler_text(record: logging.LogRecord) -> str:
    """The record as a handler renders it, traceback included."""
    return logging.Formatter("%(message)s").format(record)


# The failures `exercise` provokes, as the bot logs them: proof they ran and were logged.
FAILURES_LOGGED = (
    "agent request refused",
    "webhook delivery refused",
    "slack effect retry",
    "feed poll failed",
)


async def test_no_secret_in_a_real_bot_processes_output(world: World, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "LOG_LEVEL": "DEBUG",
        **{name.upper(): value for name, value in world.settings.items()},
    }
    log = tmp_path / "bot.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    bot = BotProcess(process, f"http://127.0.0.1:{port}", log)
    try:
        await bot.wait_ready()
        await exercise(world, bot.url)
        assert await bot.terminate() == 0
    finally:
        bot.kill()
    output = bot.output()
    assert " DEBUG " in output and all(marker in output for marker in FAILURES_LOGGED)
    assert leaked(output) == []
