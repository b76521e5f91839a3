"""The bot beside both simulators: in this event loop, or as real `python -m bot serve` processes.

`Deployment` starts the OpenTrain and Slack simulators on free loopback ports;
bots then come and go against them while the simulators (and the store) stay:

* `start_bot()` runs one in this event loop — fast, and its services are at hand;
* `spawn_bot()` runs `python -m bot serve` as a subprocess configured through
  environment variables, so it can be SIGKILLed and several can share one Redis.

The helpers below drive and read the deployment the way a person would: ask
OpenTrain for an approval elsewhere, `/opentrain track` it in Slack, look at the
card and its thread in the Slack simulator.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from bot.app import SERVICES
from bot.cards.ids import APPROVAL_EVENT_TYPE, OUTCOME_EVENT_TYPE, ActionId, BlockId
from bot.config import Settings
from bot.earlier_posts import EFFECT_METADATA_KEY
from bot.opentrain import OpenTrainClient
from bot.opentrain.models import HireTerms
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.opentrain.vocabulary import ProposalStatus
from bot.sandbox.runner import DEFAULT_CHANNEL, SIGNING_SECRET, bind, start_bot, url_of
from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.model import Message
from bot.scheduler import DUE_JOB, FEED_JOB, OUTBOX_JOB
from bot.services import Services
from tests.support.redis_server import free_port
from tests.support.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
CHANNEL = DEFAULT_CHANNEL
USER = "U0ANA"
HOST = "127.0.0.1"
# Fast ticks: tests wait on conditions, so shorter intervals only make them quicker. The
# Slack simulator enforces no rate limits unless asked to, so pacing need not wait either.
FAST: dict[str, Any] = {
    "ot_poll_interval_seconds": 0.2,
    "due_check_interval_seconds": 0.2,
    "outbox_interval_seconds": 0.2,
    "slack_rate_limit_scale": 100,
}
READY_TIMEOUT = 20.0
PORT_ATTEMPTS = 3


# --- bots ----------------------------------------------------------------------------------


@dataclass
class InProcessBot:
    runner: web.AppRunner
    url: str
    services: Services
    stopped: bool = False

    async def stop(self) -> None:
        """Shut down like a deploy does: the scheduler lets running ticks finish, then cleanup."""
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()

    async def settle(self, runs: int = 3) -> None:
        """Let the feed poll, due checks and outbox drain each run `runs` more times.

        After an outcome has landed, this is how a test gives a duplicate every
        chance to appear before asserting there is none.
        """
        scheduler = self.services.scheduler
        jobs = [job for name in (FEED_JOB, DUE_JOB, OUTBOX_JOB) if (job := scheduler.job(name))]
        targets = [(job, job.runs + runs) for job in jobs]
        await wait_for(
            lambda: all(job.runs >= target for job, target in targets), message="jobs ran"
        )


@dataclass
class BotProcess:
    """`python -m bot serve` with its settings in the environment; output goes to `log`."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def owns(self, lease_holder: str | None) -> bool:
        """Whether a lease owner (`host:pid:nonce`, see bot.app.process_owner) is this process."""
        return lease_holder is not None and lease_holder.split(":")[1] == str(self.pid)

    def kill(self) -> None:
        """Die like a crash: no shutdown hooks run."""
        if self.alive:
            self.process.kill()
        self.process.wait()

    async def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM (a deploy's stop) and wait for a clean exit; returns the exit code.

        Waits in a thread: the simulators the bot may still be talking to run in
        this event loop.
        """
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def ready() -> bool:
                if not self.alive:
                    raise AssertionError(f"bot exited at start:\n{self.output()[-3000:]}")
                try:
                    return (await http.get(f"{self.url}/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(ready, timeout=READY_TIMEOUT, interval=0.05, message="bot /healthz")


# --- the deployment --------------------------------------------------------------------------


@dataclass
class Deployment:
    opentrain: OpenTrainSim
    slack: SlackSim
    data_dir: Path
    bots: list[InProcessBot] = field(default_factory=list)
    processes: list[BotProcess] = field(default_factory=list)

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings values for a bot of this deployment (SQLite in `data_dir` unless overridden)."""
        return {
            "slack_bot_token": self.slack.bot_token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": self.slack.api_url,
            "ot_api_token": FULL_TOKEN,
            "ot_api_base_url": self.opentrain.origin,
            "database_url": f"sqlite:///{self.data_dir / 'bot.db'}",
            "sandbox_clock_url": f"{self.opentrain.origin}/_sim/clock",
            "default_channel": CHANNEL,
            **FAST,
            **overrides,
        }

    async def start_bot(self, **overrides: Any) -> InProcessBot:
        """A bot in this event loop; Slack's commands and clicks go to it from now on."""
        settings = Settings.model_validate(self.settings(**overrides))
        sock = bind(HOST, 0)
        url = url_of(sock)
        runner = await start_bot(settings, sock)
        bot = InProcessBot(runner, url, runner.app[SERVICES])
        self.bots.append(bot)
        self.slack.bot_url = f"{url}/slack/events"
        return bot

    def process_env(self, **overrides: Any) -> dict[str, str]:
        """Environment for `python -m bot` on a free port; a None value leaves a setting out."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "PORT": str(free_port()),
            "LOG_LEVEL": "INFO",
            **{
                name.upper(): str(value)
                for name, value in self.settings(**overrides).items()
                if value is not None
            },
        }

    async def spawn_bot(
        self, *, command: str = "serve", entry: bool = True, **overrides: Any
    ) -> BotProcess:
        """`python -m bot <command>` on a free port, ready to serve; `entry`: Slack talks to it
        over HTTP.

        A port found free may be taken by another process (another test worker) before the
        bot binds it: then the bot is started again on another port, a few times at most.
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            env = self.process_env(**overrides)
            log = self.data_dir / f"bot-{len(self.processes) + 1}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "bot", command],
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            bot = BotProcess(process, f"http://{HOST}:{env['PORT']}", log)
            self.processes.append(bot)
            try:
                await bot.wait_ready()
                break
            except AssertionError:
                port_taken = not bot.alive and "address already in use" in bot.output()
                if not port_taken or attempt == PORT_ATTEMPTS:
                    raise
        if entry:
            self.slack.bot_url = f"{bot.url}/slack/events"
        return bot

    async def close(self) -> None:
        for process in self.processes:
            process.kill()
        for bot in reversed(self.bots):
            await bot.stop()
        await self.slack.stop()
        await self.opentrain.stop()


@asynccontextmanager
async def deployment(
    data_dir: Path, *, slack_options: dict[str, Any] | None = None
) -> AsyncIterator[Deployment]:
    """Both simulators on free ports (stopped, with every bot, on exit)."""
    opentrain = OpenTrainSim(seed="demo")
    origin = await opentrain.start(HOST, 0)
    slack = SlackSim(
        signing_secret=SIGNING_SECRET,
        unfurl_domains=(origin.split("://", 1)[1],),
        **(slack_options or {}),
    )
    await slack.start(HOST, 0)
    running = Deployment(opentrain, slack, data_dir)
    try:
        yield running
    finally:
        await running.close()


# --- asking for approvals ------------------------------------------------------------------


def add_proposals(opentrain: OpenTrainSim, count: int) -> list[str]:
    """`count` fresh applicants on the demo job, each hireable."""
    return [
        opentrain.state.add_demo_proposal(
            "Test", f"Labeler{index}", status=ProposalStatus.UNREVIEWED, bid_amount_usd=Decimal(100)
        ).id
        for index in range(count)
    ]


async def request_hire(
    opentrain: OpenTrainSim, proposal_id: str, amount: str = "100.00", name: str = "Batch 1"
) -> str:
    """Ask OpenTrain for a hire elsewhere (an agent, the web app); returns the approval id."""
    terms = HireTerms(name=name, description=f"{name}: 1k boxes", amount=Decimal(amount))
    async with OpenTrainClient(opentrain.origin, FULL_TOKEN) as client:
        return (await client.hire(proposal_id, terms)).approval.id


async def track(slack: SlackSim, approval_id: str, channel: str = CHANNEL) -> None:
    """`/opentrain track <id>` in `channel`, and wait until its card is there."""
    result = await slack.send_command(
        command="/opentrain", text=f"track {approval_id}", user_id=USER, channel_id=channel
    )
    assert result.ok, result.to_dict()
    await wait_for(lambda: card(slack, approval_id, channel), message=f"card of {approval_id}")


async def hire_via_modal(slack: SlackSim, proposal_id: str, amount: str) -> None:
    """`/opentrain hire` in Slack, then submit its modal with `amount` (a person's hire)."""
    result = await slack.send_command(
        command="/opentrain", text=f"hire {proposal_id}", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()
    views = await wait_for(lambda: slack.state.open_views(USER), message="hire modal")
    submitted = await slack.submit_view(
        user_id=USER,
        view_id=views[-1].id,
        values={
            BlockId.HIRE_NAME.value: {ActionId.HIRE_NAME.value: "Batch 1"},
            BlockId.HIRE_DESCRIPTION.value: {ActionId.HIRE_DESCRIPTION.value: "10k boxes"},
            BlockId.HIRE_AMOUNT.value: {ActionId.HIRE_AMOUNT.value: amount},
        },
    )
    assert submitted.ok, submitted.to_dict()


# --- reading Slack -------------------------------------------------------------------------------


def _payload(message: Message) -> dict[str, Any]:
    return dict((message.metadata or {}).get("event_payload") or {})


def card(slack: SlackSim, approval_id: str, channel: str = CHANNEL) -> Message | None:
    """The card of `approval_id` in `channel` (None until it is posted)."""
    for message in slack.messages(channel):
        metadata = message.metadata or {}
        if (
            metadata.get("event_type") == APPROVAL_EVENT_TYPE
            and _payload(message).get("approvalId") == approval_id
        ):
            return message
    return None


def outcome_replies(slack: SlackSim, approval_id: str, channel: str = CHANNEL) -> list[Message]:
    """The outcome replies in the card's thread."""
    found = card(slack, approval_id, channel)
    if found is None:
        return []
    return [
        reply
        for reply in slack.replies(channel, found.ts)
        if (reply.metadata or {}).get("event_type") == OUTCOME_EVENT_TYPE
    ]


def card_text(slack: SlackSim, approval_id: str, channel: str = CHANNEL) -> str:
    """Everything the card shows now (fallback text and blocks), for `in` checks."""
    found = card(slack, approval_id, channel)
    return "" if found is None else f"{found.text} {found.blocks}"


def resolved(slack: SlackSim, approval_id: str, channel: str = CHANNEL) -> bool:
    """The card lost its buttons and its thread has an outcome reply."""
    found = card(slack, approval_id, channel)
    if found is None or not outcome_replies(slack, approval_id, channel):
        return False
    return "Review & confirm" not in str(found.blocks)


def effect_posts(slack: SlackSim, *channels: str) -> dict[str, int]:
    """How many messages each effect id posted, over `channels` and their threads."""
    counts: dict[str, int] = {}
    for channel in channels:
        for message in slack.messages(channel):
            for posted in (message, *slack.replies(channel, message.ts)):
                effect_id = _payload(posted).get(EFFECT_METADATA_KEY)
                if effect_id:
                    counts[effect_id] = counts.get(effect_id, 0) + 1
    return counts


def updates_requests(opentrain: OpenTrainSim, since: int = 0) -> list[dict[str, Any]]:
    """The `/updates` requests OpenTrain received (request log index `since` on)."""
    return [r for r in opentrain.requests.since(since) if r["path"] == "/updates"]


def approval_reads(opentrain: OpenTrainSim, since: int = 0) -> list[dict[str, Any]]:
    """`GET /approvals/{id}` requests OpenTrain received (request log index `since` on)."""
    return [
        r
        for r in opentrain.requests.since(since)
        if r["method"] == "GET" and r["path"].startswith("/approvals/")
    ]
