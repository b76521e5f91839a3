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
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.abuse import FailureLimiter, SampledLog
from bot.agent_asks import AgentAsk
from bot.agent_gate import Awaiting, Denied, Done, RateLimited
from bot.agent_http import (
    Refused,
    authenticate,
    client_address,
    invalid_body,
    opentrain_refusal,
    policy_refusal,
    read_json,
)
from bot.agent_models import (
    CardRequest,
    ContractEndedResponse,
    EndRequest,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    ValidationContext,
    approval_response,
    error_body,
    policy_request_response,
)
from bot.agent_openapi import openapi_document
from bot.audit_log import AuditEntry
from bot.cosign import ChannelRefused, CoSignOutcome
from bot.logs import log_kv
from bot.opentrain import ContractEnded, OpenTrainError
from bot.opentrain.models import HireTerms
from bot.parsing import ID_PATTERN
from bot.services import Services
from bot.spend import Busy, UnknownSubject
from bot.store import StoreUnavailable
from bot.tracked_approvals import Requester

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

    def requester(self, note: str | None) -> Requester:
        return Requester(kind="agent", id=self.agent, note=note)


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
        body = await self._body(call, HireRequest)
        terms = HireTerms(
            name=body.milestone.name,
            description=body.milestone.description,
            amount=body.milestone.amount,
            due_date=body.milestone.due_date,
            confirm_not_fit_override=body.confirm_not_fit_override,
        )
        ask = AgentAsk(kind="hire", proposal_id=body.proposal_id, terms=terms)
        return await self._submit(call, ask, body)

    async def fund(self, call: AgentCall) -> web.Response:
        body = await self._body(call, MilestoneRequest)
        return await self._submit(call, AgentAsk(kind="fund", milestone_id=body.milestone_id), body)

    async def payout(self, call: AgentCall) -> web.Response:
        body = await self._body(call, MilestoneRequest)
        ask = AgentAsk(kind="payout", milestone_id=body.milestone_id)
        return await self._submit(call, ask, body)

    async def end(self, call: AgentCall) -> web.Response:
        body = await self._body(call, EndRequest)
        return await self._submit(call, AgentAsk(kind="end", contract_id=body.contract_id), body)

    async def hand_over(self, call: AgentCall) -> web.Response:
        body = await self._body(call, HandOverRequest)
        ask = AgentAsk(kind="track", approval_id=body.approval_id)
        return await self._submit(call, ask, body)

    async def get_request(self, call: AgentCall) -> web.Response:
        """An over-limit request waiting for an admin (only the agent that made it sees it)."""
        request_id = call.request.match_info["request_id"]
        request = None
        if ID_PATTERN.match(request_id):
            request = await self._services.gate.requests.get(request_id)
        if request is None or request.agent != call.agent:
            raise Refused(
                404,
                "NOT_FOUND",
                f"There is no request {request_id[:128]} of this agent.",
                {"resource": "requests", "requestId": request_id[:128]},
            )
        approval = None
        if request.approval_id is not None:
            tracked = await self._services.store.get_approval(request.approval_id)
            if tracked is not None:
                placement = await self._services.cosign.card_placement(
                    tracked.approval_id, wait=False
                )
                approval = approval_response(
                    tracked, placement, opentrain_host=self._services.settings.opentrain_host
                )
        return self._json(call, policy_request_response(request, approval), 200)

    async def get_approval(self, call: AgentCall) -> web.Response:
        approval_id = call.request.match_info["approval_id"]
        if not ID_PATTERN.match(approval_id):
            raise Refused(400, "BAD_REQUEST", "That is not an approval id.")
        tracked = await self._services.store.get_approval(approval_id)
        if tracked is None:
            raise Refused(
                404,
                "NOT_FOUND",
                f"The bot does not track approval {approval_id}.",
                {"resource": "approvals", "approvalId": approval_id},
            )
        placement = await self._services.cosign.card_placement(approval_id, wait=False)
        return self._json(
            call,
            approval_response(
                tracked, placement, opentrain_host=self._services.settings.opentrain_host
            ),
            200,
        )

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
            except Refused as refused:
                return await self._refuse(request, agent, request_id, refused)
            except (RateLimited, UnknownSubject, Busy) as exc:
                return await self._refuse(request, agent, request_id, policy_refusal(exc))
            except OpenTrainError as exc:
                return await self._refuse(request, agent, request_id, opentrain_refusal(exc))
            except ChannelRefused as exc:
                channel = Refused(422, "CHANNEL_UNAVAILABLE", str(exc), {"reason": exc.error})
                return await self._refuse(request, agent, request_id, channel)
            except StoreUnavailable:
                log.warning("agent request: store unavailable %s", log_kv(request_id=request_id))
                outage = Refused(
                    503,
                    "UNAVAILABLE",
                    "The bot's database is unavailable right now; try again shortly. Repeating "
                    "the request is safe: OpenTrain answers it with the same approval.",
                    headers={"Retry-After": "5"},
                )
                return await self._refuse(request, agent, request_id, outage)
            except Exception:
                log.exception("agent request failed %s", log_kv(request_id=request_id))
                failure = Refused(
                    500,
                    "INTERNAL_ERROR",
                    "The bot failed while handling this request (its logs have the details "
                    "under this requestId). Repeating it is safe: OpenTrain answers a repeated "
                    "co-sign request with the same approval.",
                )
                return await self._refuse(request, agent, request_id, failure)

        return handle

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

    async def _submit(self, call: AgentCall, ask: AgentAsk, body: CardRequest) -> web.Response:
        """Through the spend policy (bot/agent_gate.py), then the answer for what came of it."""
        ask = ask.model_copy(update={"channel": body.channel, "note": body.note})
        await self._services.cosign.require_channel(body.channel)  # before any OpenTrain read
        match await self._services.gate.submit(call.agent, ask):
            case Done(outcome=ContractEnded() as ended):
                return self._json(call, ContractEndedResponse(contract_id=ended.contract_id), 200)
            case Done(outcome=CoSignOutcome() as outcome):
                return self._card_requested(call, outcome)
            case Awaiting(request=request):
                return self._json(call, policy_request_response(request, None), 202)
            case Denied(breach=breach):
                raise Refused(
                    403,
                    "FORBIDDEN",
                    f"Refused by the agent's spend policy: {breach.describe()}.",
                    breach.details(),
                )
        raise AssertionError("every verdict is answered")

    def _card_requested(self, call: AgentCall, outcome: CoSignOutcome) -> web.Response:
        return self._json(
            call,
            approval_response(
                outcome.approval,
                outcome.card,
                opentrain_host=self._services.settings.opentrain_host,
            ),
            202,
        )

    def _json(self, call: AgentCall, body: BaseModel, status: int) -> web.Response:
        log.info(
            "agent request %s",
            log_kv(
                agent=call.agent, path=call.request.path, status=status, request_id=call.request_id
            ),
        )
        return web.json_response(
            body.model_dump(mode="json", by_alias=True),
            status=status,
            headers={"X-Request-Id": call.request_id},
        )

    async def _refuse(
        self, request: web.Request, agent: str | None, request_id: str, refused: Refused
    ) -> web.Response:
        if agent is None:
            self._log_stranger(request, request_id, refused)
        else:
            log.info(
                "agent request refused %s",
                log_kv(
                    agent=agent,
                    path=request.path,
                    status=refused.status,
                    code=refused.code,
                    request_id=request_id,
                ),
            )
            await self._audit_refusal(request, agent, request_id, refused)
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

    async def _audit_refusal(
        self, request: web.Request, agent: str | None, request_id: str, refused: Refused
    ) -> None:
        if agent is None:
            return  # a stranger's refusal is only logged, sampled (`_log_stranger`)
        if refused.details.get("source") == "opentrain":
            return  # bot.cosign audited OpenTrain's refusal, with the request's terms
        if refused.details.get("reason") == "policy_denied":
            return  # bot.agent_gate audited it, with the rule and the amounts
        details: dict[str, Any] = {
            "door": "agent_api",
            "method": request.method,
            "path": request.path,
            "status": refused.status,
            "code": refused.code,
            "requestId": request_id,
        }
        if isinstance(refused.details.get("reason"), str):
            details["reason"] = refused.details["reason"]
        entry = AuditEntry(
            at=self._services.clock.now(),
            action="refused",
            actor=f"agent:{agent}",
            details=details,
        )
        try:
            await self._services.store.append_audit(entry)
        except StoreUnavailable:
            # The refusal itself must still reach the agent; the log line above keeps the trace.
            log.warning("refusal not audited: store unavailable %s", log_kv(request_id=request_id))


def install(app: web.Application, services: Services) -> None:
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
