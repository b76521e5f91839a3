"""The agent HTTP API under /agent/v1 (DESIGN.md §2, §7), beside bolt on the same server.

Agents authenticate with a bearer token named in AGENT_TOKENS. Every co-sign
goes through `services.cosign`, like the Slack commands, so validation,
OpenTrain's refusals and card placement are the same whichever door was used.
Errors leave in one place (`AgentApi.endpoint`), shaped like OpenTrain's
envelope with this bot's `requestId`; every refused request of an agent is audited, while
a caller without a valid token is only logged, sampled, and limited per address (bot/abuse.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.abuse import FailureLimiter, SampledLog
from bot.agent_desk import AgentDesk, Answer
from bot.agent_http import (
    Refused,
    authenticate,
    client_address,
    invalid_body,
    read_json,
    wait_seconds,
)
from bot.agent_models import (
    EndRequest,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    ValidationContext,
    error_body,
)
from bot.agent_openapi import openapi_document
from bot.logs import log_kv
from bot.metrics import ACCEPTED, agent_result
from bot.services import Services

log = logging.getLogger(__name__)

PREFIX = "/agent/v1"
UNAUTHENTICATED = "unauthenticated"
# Strangers: failed authentications one client address may make per minute before
# it is turned away unheard, and log lines per minute about its refusals (the rest are counted).
AUTH_FAILURES_PER_MINUTE = 20
REFUSAL_LINES_PER_MINUTE = 10
# A blocked address's answers are held back about this long, so one client keeping N requests in
# flight gets about N answers per hold rather than as many as the bot can write: answered at once,
# one script took a whole core and multiplied outcome latency by 8; held ~0.25 s it still took a
# quarter of one (bench/RESULTS.md §7). Holding costs memory per request, so past MAX_HELD at a
# time the rest are answered at once.
BLOCKED_HOLD_SECONDS = 1.0
MAX_HELD = 512

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class AgentCall:
    """One authenticated request: who sent it and the id it is answered and logged under."""

    request: web.Request
    agent: str
    request_id: str


Endpoint = Callable[[AgentCall], Awaitable[web.Response]]


class AgentApi:
    def __init__(
        self,
        services: Services,
        *,
        failures: FailureLimiter | None = None,
        refusal_log: SampledLog | None = None,
        hold_seconds: float = BLOCKED_HOLD_SECONDS,
    ) -> None:
        self._services = services
        self._desk = AgentDesk(services)
        self._hold_seconds = hold_seconds
        self._held = 0  # answers to blocked addresses being held back right now
        # Per process: enough to stop one address from guessing tokens or flooding the log.
        self._failures = (
            failures if failures is not None else FailureLimiter(limit=AUTH_FAILURES_PER_MINUTE)
        )
        self._refusal_log = (
            refusal_log
            if refusal_log is not None
            else SampledLog(per_window=REFUSAL_LINES_PER_MINUTE)
        )

    # --- endpoints ------------------------------------------------------------------
    async def hire(self, call: AgentCall) -> web.Response:
        return self._json(
            call, await self._desk.hire(call.agent, await self._body(call, HireRequest))
        )

    async def fund(self, call: AgentCall) -> web.Response:
        body = await self._body(call, MilestoneRequest)
        return self._json(call, await self._desk.fund(call.agent, body))

    async def payout(self, call: AgentCall) -> web.Response:
        body = await self._body(call, MilestoneRequest)
        return self._json(call, await self._desk.payout(call.agent, body))

    async def end(self, call: AgentCall) -> web.Response:
        return self._json(
            call, await self._desk.end(call.agent, await self._body(call, EndRequest))
        )

    async def hand_over(self, call: AgentCall) -> web.Response:
        body = await self._body(call, HandOverRequest)
        return self._json(call, await self._desk.hand_over(call.agent, body))

    async def get_request(self, call: AgentCall) -> web.Response:
        request_id = call.request.match_info["request_id"]
        return self._json(call, await self._desk.policy_request(call.agent, request_id))

    async def get_approval(self, call: AgentCall) -> web.Response:
        wait = wait_seconds(call.request)  # before any read: a bad value waits for nothing
        answer = await self._desk.approval(call.request.match_info["approval_id"], wait)
        return self._json(call, answer)

    # --- plumbing -------------------------------------------------------------------
    def endpoint(self, handler: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Authenticate, run `handler`, and turn every failure into the error envelope."""

        async def handle(request: web.Request) -> web.Response:
            request_id = str(uuid.uuid4())
            agent: str | None = None
            try:
                agent = await self._authenticate(request)
                self._services.gate.admit(agent)  # every authenticated request counts
                return await handler(AgentCall(request, agent, request_id))
            except Exception as exc:
                refused = self._desk.refusal_of(exc, request_id)
                return await self.refuse(request, agent, request_id, refused)

        return handle

    async def admit(self, request: web.Request) -> web.Response | None:
        """For another door on the same tokens (MCP): None when the request's agent may go on
        (authenticated, within its rate), else the refusal to answer with."""
        request_id = str(uuid.uuid4())
        agent: str | None = None
        try:
            agent = await self._authenticate(request)
            self._services.gate.admit(agent)
        except Exception as exc:
            return await self.refuse(
                request, agent, request_id, self._desk.refusal_of(exc, request_id)
            )
        return None

    async def _authenticate(self, request: web.Request) -> str:
        """The agent the request's token names; Refused (unheard, body unread) otherwise.

        A blocked address gets 429 before its token is looked at, so a guess made while
        blocked tells nothing, even when it is right.
        """
        address = client_address(request)
        if self._failures.blocked(address):
            await self._hold()
            wait = max(1, self._failures.retry_after(address))
            raise Refused(
                429,
                "RATE_LIMITED",
                f"Too many failed authentications from this address; try again in {wait} s.",
                {"retryAfterSeconds": wait},
                headers={"Retry-After": str(wait)},
            )
        agent = authenticate(
            request.headers.get("Authorization"), self._services.settings.agent_tokens
        )
        if agent is None:
            self._failures.record_failure(address)
            raise Refused(
                401,
                "UNAUTHORIZED",
                "Send `Authorization: Bearer <token>` with a token from AGENT_TOKENS.",
                headers={"WWW-Authenticate": 'Bearer realm="agent-api"'},
            )
        return agent

    async def _hold(self) -> None:
        if self._held >= MAX_HELD:
            return
        self._held += 1
        try:
            # Jittered, so that a client's requests do not come back (and return) in step.
            await asyncio.sleep(self._hold_seconds * random.uniform(0.5, 1.5))  # noqa: S311
        finally:
            self._held -= 1

    async def _body(self, call: AgentCall, model: type[ModelT]) -> ModelT:
        data = await read_json(call.request)
        if not isinstance(data, dict):
            raise Refused(400, "BAD_REQUEST", "The body must be a JSON object.")
        context = ValidationContext(
            today=self._services.clock.now().date(),
            max_amount=self._services.settings.max_amount_usd,
        )
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            raise invalid_body(exc) from None

    def _json(self, call: AgentCall, answer: Answer) -> web.Response:
        self._services.metrics.agent_request(call.agent, ACCEPTED)
        log.info(
            "agent request %s",
            log_kv(
                agent=call.agent,
                path=call.request.path,
                status=answer.status,
                request_id=call.request_id,
            ),
        )
        return web.json_response(
            answer.body.model_dump(mode="json", by_alias=True),
            status=answer.status,
            headers={"X-Request-Id": call.request_id},
        )

    async def refuse(
        self, request: web.Request, agent: str | None, request_id: str, refused: Refused
    ) -> web.Response:
        result = agent_result(refused.status, refused.code, refused.details)
        self._services.metrics.agent_request(agent, result)  # no agent: `unknown`
        if agent is None:
            self._log_stranger(request, request_id, refused)  # never audited: see there
        else:
            await self._desk.audit_refusal(
                agent,
                refused,
                door="agent_api",
                request_id=request_id,
                method=request.method,
                path=request.path,
            )
        return web.json_response(
            error_body(refused.message, refused.code, request_id, refused.details),
            status=refused.status,
            headers={"X-Request-Id": request_id, **refused.headers},
        )

    def _log_stranger(self, request: web.Request, request_id: str, refused: Refused) -> None:
        # Never audited: anyone who reaches the port could grow the store without bound.
        address = client_address(request)
        untold = self._refusal_log.admit(address)
        if untold is None:
            return
        fields: dict[str, object] = {
            "agent": UNAUTHENTICATED,
            "client": address,
            "path": request.path,
            "status": refused.status,
            "code": refused.code,
            "request_id": request_id,
        }
        if untold:
            fields["suppressed"] = untold  # lines about this address left out since its last
        log.info("agent request refused %s", log_kv(**fields))


def install(app: web.Application, services: Services) -> AgentApi:
    """Add the agent API's routes to the bot's aiohttp application."""
    api = AgentApi(services)
    document = json.dumps(openapi_document(), ensure_ascii=False).encode()

    async def openapi(_: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/json")

    app.router.add_post(f"{PREFIX}/hire", api.endpoint(api.hire))
    app.router.add_post(f"{PREFIX}/fund", api.endpoint(api.fund))
    app.router.add_post(f"{PREFIX}/payout", api.endpoint(api.payout))
    app.router.add_post(f"{PREFIX}/end", api.endpoint(api.end))
    app.router.add_post(f"{PREFIX}/approvals", api.endpoint(api.hand_over))
    app.router.add_get(f"{PREFIX}/approvals/{{approval_id}}", api.endpoint(api.get_approval))
    app.router.add_get(f"{PREFIX}/requests/{{request_id}}", api.endpoint(api.get_request))
    app.router.add_get(f"{PREFIX}/openapi.json", openapi)
    return api
