"""The sandbox: both simulators and the bot, wired together on localhost.

`python -m bot sandbox` (and `make run` without Slack credentials) runs it for
people; the end-to-end tests start the same thing on free ports. The bot
follows the OpenTrain simulator's clock, so advancing that clock moves expiry
and reminders for everyone. The sandbox people run also subscribes the bot to the
simulator's webhooks (as `python -m bot webhooks register` would), so an outcome
reaches the card within a second rather than at the next feed poll, and has the demo
job followed in the default channel (every topic), so what a person does on the
simulator's "Play the other side" page (`/trainer`) shows up in Slack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.app import SERVICES, create_services_and_bolt
from bot.config import Settings
from bot.doctor.opentrain import WEBHOOK_PATH
from bot.opentrain import OpenTrainClient
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.opentrain.seed import DEMO_JOB_ID, FULL_TOKEN
from bot.sandbox.slack import SlackSim
from bot.services import Services
from bot.store.kinds import Topic
from bot.webhook_cli import EVENT_TYPES

log = logging.getLogger(__name__)

SIGNING_SECRET = "sandbox-signing-secret"
DEFAULT_CHANNEL = "C0HIRING"
TRY_THIS = "/opentrain hire prop_ada 450 Batch 1"
# The Slack simulator's seeded @finance-team (Ana and Ben).
DEMO_APPROVERS = ("S0FINANCE",)
DEMO_ADMIN = "U0ANA"  # the Slack simulator's seeded admin: who followed the demo job

# Settings the sandbox decides itself: they point the bot at the simulators and a
# throwaway store. Anything else a person exported (AGENT_TOKENS, REMINDER_OFFSETS,
# DEFAULT_CHANNEL, …) applies to the sandboxed bot too.
_SANDBOX_OWNED = frozenset(
    {
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_api_url",
        "slack_team_id",
        "ot_api_token",
        "ot_api_base_url",
        "ot_webhook_secret",
        "database_url",
        "redis_url",
        "sandbox_clock_url",
        "port",
    }
)


@dataclass
class Sandbox:
    opentrain: OpenTrainSim
    slack: SlackSim
    bot_url: str
    services: Services
    _bot_runner: web.AppRunner

    @property
    def viewer_url(self) -> str:
        """The Slack simulator's web client, opened on the channel cards go to by default."""
        channel = self.services.settings.default_channel
        query = f"?{urlencode({'channel': channel})}" if channel else ""
        return f"{self.slack.origin}/{query}"

    async def stop(self) -> None:
        await self._bot_runner.cleanup()
        await self.slack.stop()
        await self.opentrain.stop()


def bind(host: str, port: int) -> socket.socket:
    """A listening address for the bot, taken before it starts so its URL is known early."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


async def start_bot(settings: Settings, sock: socket.socket) -> web.AppRunner:
    app, _ = await create_services_and_bolt(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


async def subscribe_webhooks(ot_origin: str, bot_url: str) -> str:
    """Subscribe the bot to the simulator's webhooks through the API, as an operator does
    with `python -m bot webhooks register`; returns the signing secret (shown once)."""
    async with OpenTrainClient(ot_origin, FULL_TOKEN) as client:
        created = await client.create_webhook(f"{bot_url}{WEBHOOK_PATH}", EVENT_TYPES)
    return created.secret.get_secret_value()


async def start_sandbox(
    *,
    data_dir: Path,
    host: str = "127.0.0.1",
    ports: tuple[int, int, int] = (0, 0, 0),
    slack_options: dict[str, Any] | None = None,
    opentrain_options: dict[str, Any] | None = None,
    webhooks: bool = False,
    follow_demo_job: bool = False,
    **settings_overrides: Any,
) -> Sandbox:
    """Start OpenTrain sim, Slack sim and bot (ports in that order; 0 = any free port).

    `webhooks` subscribes the bot to the simulator's webhooks (the sandbox people run);
    without, outcomes arrive by the feed poll alone. `follow_demo_job` subscribes the
    default channel to the demo job's activity, every topic, as `/opentrain subscribe`
    would. If one of them cannot start (a port is taken), the ones already running are
    stopped.
    """
    async with contextlib.AsyncExitStack() as started:
        opentrain = OpenTrainSim(seed="demo", **(opentrain_options or {}))
        ot_origin = await opentrain.start(host, ports[0])
        started.push_async_callback(opentrain.stop)
        ot_host = ot_origin.split("://", 1)[1]
        slack = SlackSim(
            signing_secret=SIGNING_SECRET, unfurl_domains=(ot_host,), **(slack_options or {})
        )
        await slack.start(host, ports[1])
        started.push_async_callback(slack.stop)
        sock = bind(host, ports[2])
        started.callback(sock.close)
        bot_url = url_of(sock)
        values: dict[str, Any] = {
            "slack_bot_token": slack.bot_token,
            "slack_signing_secret": SIGNING_SECRET,
            "slack_api_url": slack.api_url,
            "ot_api_token": FULL_TOKEN,
            "ot_api_base_url": ot_origin,
            "database_url": f"sqlite:///{data_dir / 'sandbox.db'}",
            "sandbox_clock_url": f"{ot_origin}/_sim/clock",
            "default_channel": DEFAULT_CHANNEL,
            **settings_overrides,
        }
        if webhooks:
            values["ot_webhook_secret"] = await subscribe_webhooks(ot_origin, bot_url)
        settings = Settings.model_validate(values)
        runner = await start_bot(settings, sock)
        started.push_async_callback(runner.cleanup)
        slack.bot_url = f"{bot_url}/slack/events"
        if follow_demo_job:
            await subscribe_demo_job(runner.app[SERVICES])
        started.pop_all()  # all three run: the Sandbox owns them now
    return Sandbox(opentrain, slack, bot_url, runner.app[SERVICES], runner)


async def subscribe_demo_job(services: Services) -> None:
    """The demo job's activity (proposals, messages, budget, work) in the default channel."""
    channel = services.settings.default_channel
    if channel is None:
        log.warning("demo job not followed: no DEFAULT_CHANNEL")
        return
    await services.activity.subscribe(DEMO_JOB_ID, channel, frozenset(Topic), by=DEMO_ADMIN)


async def seed_demo(sandbox: Sandbox) -> None:
    """What a person trying the sandbox finds configured: approvers for the default channel,
    so the OpenTrain page's fast clock shows reminder DMs as well as expiry."""
    channel = sandbox.services.settings.default_channel
    if channel is not None:
        await sandbox.services.approvers.change(
            channel, "set", DEMO_APPROVERS, by_user="sandbox-seed"
        )


async def run_sandbox(settings: Settings, *, first_port: int) -> None:
    """Run the sandbox until Ctrl-C (or SIGTERM), printing the one URL to open.

    The three servers take `first_port` and the two after it; 0 picks free ports.
    """
    ports = (0, 0, 0) if first_port == 0 else (first_port, first_port + 1, first_port + 2)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    overrides = settings.model_dump(exclude_unset=True, exclude=set(_SANDBOX_OWNED))
    with tempfile.TemporaryDirectory(prefix="cosign-sandbox-") as tmp:
        try:
            sandbox = await start_sandbox(
                data_dir=Path(tmp), ports=ports, webhooks=True, follow_demo_job=True, **overrides
            )
        except OSError as exc:
            raise SystemExit(
                f"The sandbox could not start: {exc.strerror or exc}. Ports {ports[0]}–"
                f"{ports[2]} must be free; pick others with `python -m bot sandbox --port N`."
            ) from None
        try:
            await seed_demo(sandbox)
            print(banner(sandbox), flush=True)
            await stopping.wait()
        finally:
            await sandbox.stop()


def banner(sandbox: Sandbox) -> str:
    return (
        "\nOpenTrain co-sign bot — sandbox (simulated Slack and OpenTrain; nothing leaves "
        "this machine)\n\n"
        f"  Open {sandbox.viewer_url}\n\n"
        f"  and type   {TRY_THIS}\n\n"
        f"  Play the other side (applicants, trainers) at {sandbox.opentrain.origin}/trainer\n"
        f"  (the channel above follows the demo job {DEMO_JOB_ID}: new proposals, messages,\n"
        "  budgets, submitted work)\n\n"
        f"Also running: OpenTrain simulator {sandbox.opentrain.origin}, "
        f"bot {sandbox.bot_url}. Ctrl-C stops everything.\n"
    )
