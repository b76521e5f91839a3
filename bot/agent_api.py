"""The agent HTTP API under /agent/v1 (DESIGN.md §2, §7), beside bolt on the same server.

Agents authenticate with a bearer token named in AGENT_TOKENS. Every co-sign
goes through `services.cosign`, like the Slack commands, so validation,
OpenTrain's refusals and card placement are the same whichever door was used.
Errors leave in one place (`AgentApi.endpoint`), shaped like OpenTrain's
envelope with this bot's `requestId`; every refused request is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, SecretStr, ValidationError

from bot.agent_models import (
    ContractEndedResponse,
    EndRequest,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    ValidationContext,
    approval_response,
    error_body,
    openapi_document,
)
from bot.approvals import AuditEntry, HireTerms, Requester
from bot.cosign import CoSignOutcome
from bot.logs import log_kv
from bot.opentrain import ContractEnded, OpenTrainError, OpenTrainUnavailable, Unauthorized
from bot.parsing import ID_PATTERN
from bot.services import Services
from bot.store import StoreUnavailable

log = logging.getLogger(__name__)

PREFIX = "/agent/v1"
MAX_BODY_BYTES = 64 * 1024
MAX_PROBLEM = 200
MAX_ISSUES = 20  # a body of 3000 unknown keys needs no 3000-line answer
UNAUTHENTICATED = "unauthenticated"

ModelT = TypeVar("ModelT", bound=BaseModel)


class Refused(Exception):
    """A request this API turns down, answered with the error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


@dataclass(frozen=True)
class AgentCall:
    """One authenticated request: who sent it and the id it is answered and logged under."""

    request: web.Request
    agent: str
    request_id: str

    def requester(self, note: str | None) -> Requester:
        return Requester(kind="agent", id=self.agent, note=note)


Endpoint = Callable[[AgentCall], Awaitable[web.Response]]


def authenticate(header: str | None, tokens: Mapping[str, SecretStr]) -> str | None:
    """The agent whose token `header` (`Bearer <token>`) carries, else None.

    Every configured token is compared, in constant time, over SHA-256 digests
    (equal lengths), so neither timing nor an early exit tells a caller how
    close a guess was or which agent it matched.
    """
    scheme, _, presented = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    digest = hashlib.sha256(presented.strip().encode()).digest()
    matched: str | None = None
    for name, token in tokens.items():
        expected = hashlib.sha256(token.get_secret_value().encode()).digest()
        if hmac.compare_digest(digest, expected):
            matched = name
    return matched


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it grows past `limit` bytes."""
    too_large = Refused(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit // 1024} KiB.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_chunked(limit + 1):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def read_json(request: web.Request) -> object:
    """The body as JSON with exact decimals; Refused on size, syntax or duplicate keys."""
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        return json.loads(
            raw, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_no_duplicates
        )
    except ValueError as exc:
        problem = str(exc)[:MAX_PROBLEM]  # it may quote the body back; keep that short
        raise Refused(400, "BAD_REQUEST", f"The body is not valid JSON: {problem}") from None
    except RecursionError:
        # `[[[[…` nested past the parser's stack fits easily in MAX_BODY_BYTES.
        raise Refused(400, "BAD_REQUEST", "The body is not valid JSON: nested too deeply") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key (`"amount": 1, "amount": 1000`) must not be resolved by guessing.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def opentrain_refusal(exc: OpenTrainError) -> Refused:
    """OpenTrain's status, code and details, passed through with where they came from.

    Two statuses change: OpenTrain's 401 concerns the bot's own token, not the
    agent's, so it becomes 502; and an answer without a status (unreachable,
    unreadable) becomes 503 or 502.
    """
    details = {**exc.details, "source": "opentrain", "opentrainRequestId": exc.request_id}
    headers: dict[str, str] = {}
    if exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after_seconds)))
    status = exc.status
    if isinstance(exc, OpenTrainUnavailable):
        status = 503
    elif isinstance(exc, Unauthorized) or status is None or not 400 <= status < 600:
        status = 502
    return Refused(status, exc.code, exc.message, details, headers)


def invalid_body(exc: ValidationError) -> Refused:
    issues = [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "body",
            "problem": _problem(error["type"], error["msg"]),
        }
        for error in exc.errors()[:MAX_ISSUES]
    ]
    return Refused(400, "BAD_REQUEST", "The request body is invalid.", {"issues": issues})


def _problem(kind: str, message: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    return message.removeprefix("Value error, ")


class AgentApi:
    def __init__(self, services: Services) -> None:
        self._services = services

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
        outcome = await self._services.cosign.hire(
            body.proposal_id, terms, requester=call.requester(body.note), channel_id=body.channel
        )
        return self._card_requested(call, outcome)

    async def fund(self, call: AgentCall) -> web.Response:
        body = await self._body(call, MilestoneRequest)
        outcome = await self._services.cosign.fund(
            body.milestone_id, requester=call.requester(body.note), channel_id=body.channel
        )
        return self._card_requested(call, outcome)

    async def payout(self, call: AgentCall) -> web.Response:
        body = await self._body(call, MilestoneRequest)
        outcome = await self._services.cosign.payout(
            body.milestone_id, requester=call.requester(body.note), channel_id=body.channel
        )
        return self._card_requested(call, outcome)

    async def end(self, call: AgentCall) -> web.Response:
        body = await self._body(call, EndRequest)
        result = await self._services.cosign.end(
            body.contract_id, requester=call.requester(body.note), channel_id=body.channel
        )
        if isinstance(result, ContractEnded):
            ended = ContractEndedResponse(contract_id=result.contract_id)
            return self._json(call, ended, 200)
        return self._card_requested(call, result)

    async def hand_over(self, call: AgentCall) -> web.Response:
        body = await self._body(call, HandOverRequest)
        outcome = await self._services.cosign.track(
            body.approval_id, requester=call.requester(body.note), channel_id=body.channel
        )
        return self._card_requested(call, outcome)

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
            agent = authenticate(
                request.headers.get("Authorization"), self._services.settings.agent_tokens
            )
            try:
                if agent is None:
                    raise Refused(
                        401,
                        "UNAUTHORIZED",
                        "Send `Authorization: Bearer <token>` with a token from AGENT_TOKENS.",
                        headers={"WWW-Authenticate": 'Bearer realm="agent-api"'},
                    )
                return await handler(AgentCall(request, agent, request_id))
            except Refused as refused:
                return await self._refuse(request, agent, request_id, refused)
            except OpenTrainError as exc:
                return await self._refuse(request, agent, request_id, opentrain_refusal(exc))
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
        log.info(
            "agent request refused %s",
            log_kv(
                agent=agent or UNAUTHENTICATED,
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

    async def _audit_refusal(
        self, request: web.Request, agent: str | None, request_id: str, refused: Refused
    ) -> None:
        if refused.details.get("source") == "opentrain":
            return  # bot.cosign audited OpenTrain's refusal, with the request's terms
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
            actor=f"agent:{agent or UNAUTHENTICATED}",
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
    app.router.add_get(f"{PREFIX}/openapi.json", openapi)
