"""One aiohttp request handed to an ASGI application (the MCP SDK's streamable HTTP transport
is ASGI; the bot's server is aiohttp, so the MCP server shares the bot's port this way).

The request body is read whole first (the caller has already bounded it); the ASGI app's
response is streamed back as it is sent, so server-sent events (progress while a tool
waits) reach the client at once. When the client goes away, the app is told
(`http.disconnect`) and the handler returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from aiohttp import web

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def serve(request: web.Request, app: AsgiApp, body: bytes) -> web.StreamResponse:
    """Run `app` for `request` (whose `body` was read) and return what it answered."""
    scope = _scope(request)
    finished = asyncio.Event()
    sent_body = False
    response: web.StreamResponse | None = None

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()  # nothing more comes from the client until it goes away
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            response = web.StreamResponse(status=int(message["status"]))
            for name, value in message.get("headers", []):
                response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
            await response.prepare(request)
        elif message["type"] == "http.response.body":
            if response is None:
                raise RuntimeError("the ASGI app sent a body before its status")
            chunk = message.get("body", b"")
            if chunk:
                await response.write(chunk)
            if not message.get("more_body", False):
                await response.write_eof()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    if response is None:
        return web.Response(status=500, text="The MCP server gave no answer.")
    return response


def _scope(request: web.Request) -> Scope:
    host, port = _address(
        request.transport.get_extra_info("sockname") if request.transport else None
    )
    client = _address(request.transport.get_extra_info("peername") if request.transport else None)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode(),
        "query_string": request.query_string.encode(),
        "root_path": "",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in request.headers.items()
        ],
        "client": client,
        "server": (host, port),
        "state": {},
    }


def _address(info: Any) -> tuple[str, int]:
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return "", 0
