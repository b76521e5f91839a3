"""An agent's callback endpoint on loopback: a real aiohttp server that records every request
and answers as the test tells it (an error first, a redirect, …)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, token: str) -> bool:
        """Whether X-Cosign-Signature is right for `token`, computed here from scratch."""
        fields = dict(part.split("=", 1) for part in self.headers["X-Cosign-Signature"].split(","))
        signed = fields["t"].encode() + b"." + self.body
        expected = hmac.new(token.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields["v1"])


class Receiver:
    """Answers each request with the next of `answers` (then 200); a 3xx points at /elsewhere."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self.always: int = 200  # once `answers` is used up
        self.origin = ""

    def url(self, path: str = "/hook") -> str:
        return f"{self.origin}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.method, request.path, dict(request.headers), body))
        status = self.answers.pop(0) if self.answers else self.always
        if 300 <= status < 400:
            return web.Response(status=status, headers={"Location": self.url("/elsewhere")})
        return web.Response(status=status, text="ok" if status < 300 else "no")


@asynccontextmanager
async def callback_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver._handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.origin = f"http://{HOST}:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
