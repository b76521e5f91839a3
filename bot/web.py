"""The bot's HTTP surface: bolt's `/slack/events` beside our own aiohttp routes.

Routes: `POST /slack/events` (commands, interactions, events — bolt verifies
Slack's signature), `GET /healthz`, `GET /metrics` (Prometheus; aggregate numbers only,
so, like `/healthz`, no credentials). The agent API and the OpenTrain webhook
are added by `bot/agent_api.py`, `bot/agent_mcp.py` (`/mcp`) and `bot/webhook.py`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import agent_api, webhook
from bot.logs import log_kv
from bot.services import Services
from bot.store import StoreUnavailable

if TYPE_CHECKING:
    from bot.agent_mcp import McpEndpoint

log = logging.getLogger(__name__)

SLACK_BODY_LIMIT = 1024 * 1024  # Slack's own payloads stay far below this


def build_web_app(services: Services, bolt: AsyncApp) -> web.Application:
    app = web.Application(client_max_size=SLACK_BODY_LIMIT)

    async def slack_events(request: web.Request) -> web.StreamResponse:
        try:
            bolt_request = await to_bolt_request(request)
        except RecursionError:
            # bolt parses the body before it checks the signature, so anyone can send JSON
            # nested past the parser's stack; that is a bad request, not a crash.
            return web.Response(status=400, text="The body is not valid JSON.")
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        # Anyone may ask, so the answer names no path, host or version, and asking costs
        # no OpenTrain or Slack call: both are judged from what the bot last saw of them.
        opentrain_ok = not services.tracker.last_feed_poll_failed
        try:
            await services.store.ping()
            # A follower polls nothing itself; the leader records the feed's health.
            opentrain_ok = opentrain_ok and await services.tracker.feed_healthy()
            store_ok = True
        except StoreUnavailable as exc:
            log.warning("health check failed %s", log_kv(store=exc))  # the cause, for operators
            store_ok = False
        health = {
            "store": store_ok,
            "opentrain": opentrain_ok,
            "slack": not services.notifier.slack_failing,
        }
        body: dict[str, object] = {"ok": all(health.values())}
        body |= {name: "ok" if ok else "failing" for name, ok in health.items()}
        # 503 only for the store: with OpenTrain or Slack down the bot still queues work
        # and catches up, so a load balancer should keep sending it traffic.
        return web.json_response(body, status=200 if store_ok else 503)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = await services.metrics.scrape(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    install_mcp(app, services, agent_api.install(app, services))
    webhook.install(app, services)
    return app


def install_mcp(app: web.Application, services: Services, api: agent_api.AgentApi) -> None:
    """`/mcp`, started on first use: the MCP SDK takes a second to import, which every bot
    process would otherwise pay at start whether or not an agent ever speaks MCP."""
    lock = asyncio.Lock()
    started: list[McpEndpoint] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        async with lock:
            if not started:
                from bot.agent_mcp import McpEndpoint

                endpoint = McpEndpoint(services, api)
                await endpoint.start()
                started.append(endpoint)
        return await started[0].handle(request)

    async def stop(_: web.Application) -> None:
        for endpoint in started:
            await endpoint.stop()

    app.on_cleanup.append(stop)
    app.router.add_route("*", "/mcp", handle)
