"""Running the bot: HTTP mode (`serve`) or Socket Mode (`socket`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError

from bot.app import create_app, create_services_and_bolt
from bot.config import Settings
from bot.store import StoreUnavailable
from bot.store.redis_health import assess, read_config

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """HTTP mode on $PORT; Slack, agents and OpenTrain's webhooks all reach this one server."""
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise SystemExit("serve needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see README).")
    asyncio.run(check_redis(settings, "serve"))
    web.run_app(create_app(settings), host="0.0.0.0", port=settings.port, print=None)


async def socket_mode(settings: Settings) -> None:
    """Slack over a WebSocket (no public URL needed); agent API and webhooks still on $PORT.

    Runs until SIGTERM or SIGINT, then shuts down like `serve` does.
    """
    if settings.slack_app_token is None or settings.slack_bot_token is None:
        raise SystemExit("socket needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN.")
    await check_redis(settings, "socket")
    app, bolt = await create_services_and_bolt(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
    stop = _stop_on_signals()
    try:
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()
        if await _connect(handler, stop):
            log.info("socket mode connected; HTTP routes on port %s", settings.port)
            await stop.wait()
        log.info("socket mode stopping")
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()


async def check_redis(settings: Settings, command: str) -> None:
    """Refuse a Redis that may evict keys (unless REDIS_ALLOW_EVICTION), before anything starts;
    warn loudly about one that keeps nothing across a restart. No-op on SQLite."""
    if settings.redis_url is None:
        return
    try:
        health = assess(await read_config(settings.redis_url.get_secret_value()))
    except StoreUnavailable as exc:
        raise SystemExit(f"{command}: the store is unavailable: {exc}") from None
    refusal = health.refusal(allow_eviction=settings.redis_allow_eviction)
    if refusal is not None:
        raise SystemExit(f"{command}: refusing to start: Redis {refusal}")
    eviction, persistence = health.eviction, health.persistence
    if eviction.verdict == "bad":
        log.warning(
            "REDIS MAY EVICT KEYS; starting anyway (REDIS_ALLOW_EVICTION=true): %s — %s",
            eviction.detail,
            eviction.fix,
        )
    elif eviction.verdict == "unknown":
        log.warning("Redis eviction policy %s — %s", eviction.detail, eviction.fix)
    if persistence.verdict == "bad":
        log.warning(
            "REDIS KEEPS NOTHING ACROSS A RESTART: %s — %s", persistence.detail, persistence.fix
        )
    elif persistence.verdict == "unknown":
        log.warning("Redis persistence %s — %s", persistence.detail, persistence.fix)


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _connect(handler: AsyncSocketModeHandler, stop: asyncio.Event) -> bool:
    """Ask Slack for a WebSocket URL and dial in; False when told to stop first.

    slack_sdk's connect loop retries a failing WebSocket forever, so a stop must be
    able to interrupt it; a refused app token or an unreachable Web API ends the
    process here with a clear message instead.
    """
    connecting = asyncio.ensure_future(handler.client.connect_to_new_endpoint())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        return False
    try:
        connecting.result()
    except SlackApiError as exc:
        error = exc.response.get("error")
        raise SystemExit(
            f"socket: apps.connections.open failed ({error}); check SLACK_APP_TOKEN."
        ) from None
    except aiohttp.ClientError as exc:
        raise SystemExit(f"socket: cannot reach Slack's Web API ({type(exc).__name__}).") from None
    return True
