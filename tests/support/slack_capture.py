"""Genuine Slack deliveries, captured on their way to the bot, to forge and replay by hand.

`SlackCapture` sits between the Slack simulator and the bot's `/slack/events`: it
records each signed delivery (raw body, content type, timestamp) and, while
`forward` is on, passes it to the bot and relays the answer. With `forward` off
it answers 200 itself, so a test holds a real command, click, submission or event
that the bot has never seen — and can then send it, or a forged, tampered, stale
or foreign-workspace version of it, with `deliver`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from bot.sandbox.slack.transport import sign


@dataclass(frozen=True)
class Captured:
    body: bytes
    content_type: str
    timestamp: int


@dataclass
class SlackCapture:
    bot_url: str  # the bot's /slack/events
    forward: bool = True
    captured: list[Captured] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on 127.0.0.1:<free port>; returns the URL to give the Slack simulator."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/slack/events", self._relay)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}/slack/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _relay(self, request: web.Request) -> web.Response:
        body = await request.read()
        captured = Captured(
            body=body,
            content_type=request.headers.get("Content-Type", ""),
            timestamp=int(request.headers.get("X-Slack-Request-Timestamp", "0")),
        )
        self.captured.append(captured)
        if not self.forward:
            return web.Response(status=200)
        headers = {
            name: request.headers[name]
            for name in ("Content-Type", "X-Slack-Request-Timestamp", "X-Slack-Signature")
            if name in request.headers
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.bot_url, data=body, headers=headers) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )


async def deliver(
    bot_url: str,
    captured: Captured,
    *,
    secret: str | None,
    body: bytes | None = None,
    signed: bytes | None = None,
    timestamp: int | None = None,
) -> tuple[int, str]:
    """POST `body` (default: the captured one) to the bot as Slack would; its status and body.

    It is signed with `secret` over `signed` (default: what is sent) at `timestamp`
    (default: now); `secret=None` sends no signature at all.
    """
    sent = captured.body if body is None else body
    headers = {"Content-Type": captured.content_type}
    if secret is not None:
        at = str(int(time.time()) if timestamp is None else timestamp)
        headers["X-Slack-Request-Timestamp"] = at
        headers["X-Slack-Signature"] = sign(secret, at, sent if signed is None else signed)
    async with (
        aiohttp.ClientSession() as http,
        http.post(bot_url, data=sent, headers=headers) as answer,
    ):
        return answer.status, await answer.text()
