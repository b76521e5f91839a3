"""Socket Mode: the app dials in over a WebSocket and Slack delivers envelopes through it.

`apps.connections.open` (app-level token) hands out a one-time `ws://…/link/?ticket=…`
URL; on connect the app gets `hello`. Each delivery is an envelope
`{envelope_id, type, accepts_response_payload, payload}` carrying the same payload
Slack would POST over HTTP; the app acknowledges with `{envelope_id, payload?}`, whose
payload plays the part of the HTTP response body (a command's reply, a view
submission's `response_action`). `refresh()` sends `disconnect` like Slack does
before it recycles a connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import WSCloseCode, WSMsgType, web

from bot.sandbox.slack.config import SimConfig
from bot.sandbox.slack.errors import SimUsageError
from bot.sandbox.slack.model import JsonDict
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.transport import DeliveryResult

log = logging.getLogger(__name__)

EnvelopeType = Literal["slash_commands", "interactive", "events_api"]
LINK_PATH = "/link/"
# Payload types whose ack payload Slack uses (a command's reply, a submission's
# response_action); for clicks and events only the ack itself counts.
_ANSWERED_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


@dataclass(eq=False)
class _Connection:
    socket: web.WebSocketResponse
    # Envelopes sent on this connection and not yet acknowledged, by envelope_id.
    pending: dict[str, asyncio.Future[JsonDict]] = field(default_factory=dict)


class SocketMode:
    def __init__(self, state: SlackState, config: SimConfig, origin: Callable[[], str]) -> None:
        self._state = state
        self._config = config
        self._origin = origin
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.get(LINK_PATH, self._accept)]

    @property
    def connected(self) -> bool:
        return any(not connection.socket.closed for connection in self._connections)

    @property
    def connections(self) -> int:
        return sum(not connection.socket.closed for connection in self._connections)

    def open_connection(self) -> JsonDict:
        """`apps.connections.open`: a single-use WebSocket URL (the caller checked the token)."""
        ticket = secrets.token_urlsafe(24)
        self._tickets.add(ticket)
        ws_origin = "ws" + self._origin().removeprefix("http")
        return {"url": f"{ws_origin}{LINK_PATH}?ticket={ticket}&app_id={self._state.app_id}"}

    async def deliver(
        self,
        kind: EnvelopeType,
        payload: JsonDict,
        *,
        retry_attempt: int = 0,
        retry_reason: str | None = None,
    ) -> DeliveryResult:
        """Send one envelope on the newest connection and wait for its acknowledgement."""
        connection = self._current()
        envelope_id = str(uuid.uuid4())
        envelope: JsonDict = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": _accepts_response_payload(kind, payload),
            "payload": payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or ""
        ack: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        connection.pending[envelope_id] = ack
        started = time.perf_counter()
        error: str
        try:
            await connection.socket.send_json(envelope)
            answer = await asyncio.wait_for(ack, timeout=self._config.delivery_timeout_s)
            elapsed_ms = (time.perf_counter() - started) * 1000
            return DeliveryResult(
                status=200,
                body=answer.get("payload", ""),
                headers={},
                elapsed_ms=elapsed_ms,
                timed_out=elapsed_ms > self._config.ack_timeout_ms,
            )
        except TimeoutError:
            error = "timeout"
        except ConnectionError:
            error = "connection_error"
        finally:
            connection.pending.pop(envelope_id, None)
        elapsed_ms = (time.perf_counter() - started) * 1000
        return DeliveryResult.failed(error, elapsed_ms, ack_timeout_ms=self._config.ack_timeout_ms)

    async def refresh(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does every few hours."""
        for connection in self._open():
            await connection.socket.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": _debug_info()}
            )

    async def close(self) -> None:
        """Hang up on every app (the simulator is stopping)."""
        for connection in self._open():
            await connection.socket.close(code=WSCloseCode.GOING_AWAY)

    # ---- the WebSocket -----------------------------------------------------------------

    async def _accept(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            # A URL from apps.connections.open works once.
            raise web.HTTPUnauthorized(text="invalid or used ticket")
        self._tickets.discard(ticket)
        # autoping: answer the SDK's keep-alive pings, which it waits on before giving up.
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        connection = _Connection(socket)
        self._connections.append(connection)
        log.info("slack_sim.socket_mode.connected connections=%d", self.connections)
        try:
            await socket.send_json(
                {
                    "type": "hello",
                    "num_connections": self.connections,
                    "debug_info": _debug_info(),
                    "connection_info": {"app_id": self._state.app_id},
                }
            )
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    _acknowledge(connection, message.data)
        finally:
            self._connections.remove(connection)
            for waiting in connection.pending.values():
                if not waiting.done():
                    waiting.set_exception(ConnectionResetError("the app hung up"))
            log.info("slack_sim.socket_mode.disconnected connections=%d", self.connections)
        return socket

    def _open(self) -> list[_Connection]:
        return [connection for connection in self._connections if not connection.socket.closed]

    def _current(self) -> _Connection:
        # While an app refreshes it briefly holds two connections; the newest one is live.
        live = self._open()
        if not live:
            raise SimUsageError("no Socket Mode connection")
        return live[-1]


def _acknowledge(connection: _Connection, data: str) -> None:
    try:
        ack = json.loads(data)
    except ValueError:
        log.warning("slack_sim.socket_mode.bad_frame (not JSON)")
        return
    if not isinstance(ack, dict):
        return
    waiting = connection.pending.get(str(ack.get("envelope_id")))
    if waiting is not None and not waiting.done():
        waiting.set_result(ack)


def _accepts_response_payload(kind: EnvelopeType, payload: JsonDict) -> bool:
    if kind == "slash_commands":
        return True
    return kind == "interactive" and payload.get("type") in _ANSWERED_INTERACTIONS


def _debug_info() -> JsonDict:
    return {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060}
