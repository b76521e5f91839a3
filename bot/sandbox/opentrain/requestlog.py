"""The log of API calls the simulator received (`GET /_sim/requests`), so tests can
assert what a client actually sent: retries, idempotent re-requests, request bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.sandbox.opentrain.wire import iso

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PathOf = Callable[[web.Request], str | None]


class RequestLog:
    def __init__(self, now: Callable[[], datetime], path_of: PathOf) -> None:
        self._now = now
        self._path_of = path_of
        self._entries: list[dict[str, Any]] = []

    def since(self, index: int) -> list[dict[str, Any]]:
        return self._entries[index:]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.text() if request.body_exists else None
        # Logged on arrival, completed on answer: the order is the order requests came in,
        # and a dropped or still-running request shows up with `status: null`.
        entry: dict[str, Any] = {
            "index": len(self._entries),
            "method": request.method,
            "path": self._path_of(request) or request.path,
            "query": dict(request.query),
            "body": body,
            "status": None,
            "time": iso(self._now()),
            "dropped": False,
        }
        self._entries.append(entry)
        try:
            response = await handler(request)
        except asyncio.CancelledError:
            entry["dropped"] = True
            raise
        entry["status"] = response.status
        if "Retry-After" in response.headers:
            entry["retryAfter"] = response.headers["Retry-After"]
        return response
