"""Fault injection shared by both simulators (`POST /_sim/faults`, `DELETE /_sim/faults`).

A fault matches requests by path glob (and optionally method) and then, for
`count` requests or for `forSeconds`, does one or more of: wait `latencyMs`
before handling, answer `status` (with `Retry-After` when `retryAfter` is
set), drop the connection without answering, or handle the request normally
and answer only after `lateMs` — the "response arrives after the client gave
up" case, where the server did the work.

`afterActing` runs the handler first — the server did the work — and only then
answers `status` or drops the connection: "OpenTrain created the approval, then
the gateway answered 502". `rawBody` answers that text verbatim as
`text/html` (a proxy's error page) instead of the simulator's error body.

The simulator turns a fault's `status` into its own error body (OpenTrain's
envelope, Slack's `{ok:false}`) through the `respond` callback.
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


class FaultSpec(BaseModel):
    """The JSON body of `POST /_sim/faults`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    path: str = "*"  # glob over the path the simulator reports (see `match_path`)
    method: str | None = None
    status: int | None = Field(default=None, ge=200, le=599)  # 200 + `error`: Slack-style failure
    count: int | None = Field(default=None, ge=1)  # how many matching requests; None = unlimited
    for_seconds: float | None = Field(default=None, gt=0)  # or a time window
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    late_ms: int = Field(default=0, ge=0, le=120_000)
    retry_after: int | None = Field(default=None, ge=0)  # seconds, as a header
    retry_after_body: bool = False  # also put retryAfterSeconds in the body (OpenTrain)
    drop: bool = False  # close the connection without an answer
    error: str | None = (
        None  # simulator-specific error string (Slack's `error`, OpenTrain's reason)
    )
    after_acting: bool = False  # handle the request first, then fail as above
    raw_body: str | None = Field(default=None, max_length=100_000)  # answered as text/html

    @model_validator(mode="after")
    def _raw_body_needs_a_status(self) -> FaultSpec:
        if self.raw_body is not None and self.status is None:
            raise ValueError("rawBody needs a status to answer it with")
        return self


@dataclass
class _ActiveFault:
    spec: FaultSpec
    remaining: int | None
    until: float | None

    def live(self, now: float) -> bool:
        if self.until is not None and now > self.until:
            return False
        return self.remaining is None or self.remaining > 0


class FaultSet:
    """The active faults of one simulator; the first live match wins and is consumed."""

    def __init__(self) -> None:
        self._faults: list[_ActiveFault] = []

    def add(self, spec: FaultSpec) -> None:
        until = time.monotonic() + spec.for_seconds if spec.for_seconds else None
        self._faults.append(_ActiveFault(spec, spec.count, until))

    def clear(self) -> None:
        self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [
            {**f.spec.model_dump(by_alias=True, exclude_none=True), "remaining": f.remaining}
            for f in self._faults
            if f.live(now)
        ]

    def take(self, path: str, method: str) -> FaultSpec | None:
        now = time.monotonic()
        self._faults = [f for f in self._faults if f.live(now)]
        for fault in self._faults:
            spec = fault.spec
            if spec.method and spec.method.upper() != method.upper():
                continue
            if not fnmatch.fnmatchcase(path, spec.path):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
            return spec
        return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Responder = Callable[[web.Request, FaultSpec], web.StreamResponse]
PathOf = Callable[[web.Request], str | None]


def fault_middleware(faults: FaultSet, path_of: PathOf, respond: Responder) -> Any:
    """aiohttp middleware applying `faults` to requests for which `path_of` gives a path."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = path_of(request)
        spec = faults.take(path, request.method) if path is not None else None
        if spec is None:
            return await handler(request)
        if spec.latency_ms:
            await asyncio.sleep(spec.latency_ms / 1000)
        acted = await handler(request) if spec.after_acting else None
        if spec.late_ms and acted is not None:
            await asyncio.sleep(spec.late_ms / 1000)
        if spec.drop:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # aiohttp closes the connection without answering
        if spec.raw_body is not None:
            headers = {} if spec.retry_after is None else {"Retry-After": str(spec.retry_after)}
            return web.Response(
                text=spec.raw_body,
                status=spec.status or 502,
                content_type="text/html",
                headers=headers,
            )
        if spec.status is not None:
            return respond(request, spec)
        response = acted or await handler(request)
        if spec.late_ms and acted is None:
            await asyncio.sleep(spec.late_ms / 1000)
        return response

    return middleware


async def handle_faults_control(request: web.Request, faults: FaultSet) -> web.Response:
    """`POST /_sim/faults` adds one fault (or a list); `DELETE` clears them all."""
    if request.method == "DELETE":
        faults.clear()
        return web.json_response({"ok": True, "faults": []})
    body = await request.json()
    specs = body if isinstance(body, list) else [body]
    try:
        parsed = [FaultSpec.model_validate(item) for item in specs]
    except ValueError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    for spec in parsed:
        faults.add(spec)
    return web.json_response({"ok": True, "faults": faults.describe()})
