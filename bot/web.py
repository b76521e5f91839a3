"""The bot's HTTP surface: bolt's `/slack/events` beside our own aiohttp routes.

Routes: `POST /slack/events` (commands, interactions, events — bolt verifies
Slack's signature), `GET /healthz`. The agent API and the OpenTrain webhook
are added by `bot/agent_api.py` and `bot/webhook.py`.
"""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import agent_api, webhook
from bot.services import Services

SLACK_BODY_LIMIT = 1024 * 1024  # Slack's own payloads stay far below this


def build_web_app(services: Services, bolt: AsyncApp) -> web.Application:
    app = web.Application(client_max_size=SLACK_BODY_LIMIT)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "store": await services.store.ping()})

    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    agent_api.install(app, services)
    webhook.install(app, services)
    return app
