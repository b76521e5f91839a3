"""Running the bot: HTTP mode (`serve`) or Socket Mode (`socket`)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import create_app, create_services_and_bolt
from bot.config import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings) -> None:
    """HTTP mode on $PORT; Slack, agents and OpenTrain's webhooks all reach this one server."""
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise SystemExit("serve needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (see README).")
    web.run_app(create_app(settings), host="0.0.0.0", port=settings.port, print=None)


async def socket_mode(settings: Settings) -> None:
    """Slack over a WebSocket (no public URL needed); agent API and webhooks still on $PORT."""
    if settings.slack_app_token is None or settings.slack_bot_token is None:
        raise SystemExit("socket needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN.")
    app, bolt = await create_services_and_bolt(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", settings.port).start()
    handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("socket mode connected; HTTP routes on port %s", settings.port)
        await asyncio.Event().wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runner.cleanup()
