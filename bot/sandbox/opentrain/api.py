"""OpenTrain's Public API under `/api/public/v1` (opentrain-api.md §3–§14).

Every handler applies the gates in the documented order (§16.4): token (401) →
scope (403) → feature flag (403) → claimed account (403) → existence / ownership
(404) → body validation (400) → state conflicts (409). A request failing two gates
reports the earlier one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web

from bot.sandbox.faults import FaultSet, FaultSpec, fault_middleware
from bot.sandbox.opentrain import cosign, messaging, subscriptions, wire
from bot.sandbox.opentrain.contracts import create_milestone
from bot.sandbox.opentrain.errors import (
    ApiError,
    bad_request,
    code_for,
    invalid_issues,
    issue,
    not_found,
)
from bot.sandbox.opentrain.model import (
    Account,
    ContractStatus,
    Job,
    LedgerEntry,
    Proposal,
    ProposalStatus,
    Token,
    Webhook,
)
from bot.sandbox.opentrain.ratelimit import RateLimiter
from bot.sandbox.opentrain.requestlog import RequestLog
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.validation import hire_terms, milestone_draft

API_PREFIX = "/api/public/v1"
STATE = web.AppKey("opentrain_state", SimState)
REQUEST_ID = web.RequestKey("opentrain_request_id", str)
LIMITER = web.AppKey("opentrain_rate_limiter", RateLimiter)
FEED_SCOPES = ("proposals:read", "messages:read", "payments:read")

log = logging.getLogger("bot.sandbox.opentrain")
routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


def api_path(request: web.Request) -> str | None:
    """The path relative to the API base — what fault globs and the request log use."""
    if request.path.startswith(API_PREFIX + "/"):
        return request.path[len(API_PREFIX) :]
    return None


def build_api(state: SimState, faults: FaultSet, requests: RequestLog) -> web.Application:
    api = web.Application(
        middlewares=[
            requests.middleware,
            _envelope,
            _rate_limited,
            fault_middleware(faults, api_path, _fault_response),
        ]
    )
    api[STATE] = state
    api[LIMITER] = RateLimiter(lambda: state.config)
    api.add_routes(routes)
    return api


# --- envelope and request ids ---------------------------------------------------------------


def error_response(
    request: web.Request, error: ApiError, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        error.envelope(request[REQUEST_ID]),
        status=error.status,
        headers={**error.headers, **(headers or {})},
    )


@web.middleware
async def _envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    # unconfirmed: the request id is also sent as `X-Request-Id` on every response.
    request[REQUEST_ID] = str(uuid.uuid4())
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(request, error)
    except web.HTTPException as http:
        message = "No such endpoint" if http.status == 404 else http.reason
        response = error_response(request, ApiError(http.status, message))
    except Exception:
        log.exception("simulator error on %s %s", request.method, request.path)
        response = error_response(request, ApiError(500, "Internal error"))
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    return response


@web.middleware
async def _rate_limited(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        request.app[LIMITER].check(bearer.strip())
    return await handler(request)


def _fault_response(request: web.Request, spec: FaultSpec) -> web.StreamResponse:
    assert spec.status is not None
    details: dict[str, Any] = {}
    if spec.error:
        details["reason"] = spec.error
    headers: dict[str, str] = {}
    if spec.retry_after is not None:
        headers["Retry-After"] = str(spec.retry_after)
        if spec.retry_after_body:
            details["retryAfterSeconds"] = spec.retry_after
    error = ApiError(spec.status, f"Simulated {code_for(spec.status).lower()} response", details)
    return error_response(request, error, headers)


def ok(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


# --- gates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    token: Token
    account: Account


def authorize(
    request: web.Request,
    *,
    scopes: Sequence[str] = (),
    any_of: Sequence[str] = (),
    feature: str | None = None,
    claim_for: str | None = None,
) -> Caller:
    """Token → scopes (`any_of`: at least one) → feature flag → claimed account."""
    # derived (§16.4): the order of the gates, from the docs' "three gates" page.
    state = request.app[STATE]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "Missing bearer token")
    token = state.token(value.strip())
    if token is None or token.account_id not in state.accounts:
        raise ApiError(401, "Invalid, expired or revoked token")
    account = state.accounts[token.account_id]
    have = token.effective_scopes(account)
    missing = [scope for scope in scopes if scope not in have]
    if missing:
        raise ApiError(403, "The token is missing a required scope", {"requiredScopes": missing})
    if any_of and not have.intersection(any_of):
        raise ApiError(403, "The token needs one of these scopes", {"requiredScopes": list(any_of)})
    if feature is not None and not account.feature_on(feature):
        details: dict[str, Any] = {"featureKey": feature}
        if feature == "public_api_job_drafting":
            details["mode"] = account.rollout_mode
        raise ApiError(403, "This feature is not enabled for the account", details)
    if claim_for is not None and not account.claimed:
        raise ApiError(
            403,
            f"Claim this account before you {claim_for}",
            {
                "reason": "account_claim_required",
                "claimUrl": state.link("/claim"),
                "action": claim_for,
            },
        )
    return Caller(token, account)


# --- parsing -----------------------------------------------------------------------------


async def json_body(request: web.Request) -> object:
    """The parsed body (None when empty); USD amounts keep their exact decimal value."""
    try:
        text = await request.text()
        if not text.strip():
            return None
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError:  # bad JSON, or bytes that are not UTF-8
        raise bad_request("body", "The body is not valid JSON") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdecimal() or not low <= int(raw) <= high:
        raise bad_request(name, f"{name} must be an integer from {low} to {high}")
    return int(raw)


def page_after(
    items: list[T], key: Callable[[T], str], cursor: str | None, limit: int
) -> tuple[list[T], str | None]:
    """Keyset paging over an ordered list: the cursor is the key of the last item seen."""
    start = 0
    if cursor is not None:
        keys = [key(item) for item in items]
        if cursor not in keys:
            raise ValueError(cursor)
        start = keys.index(cursor) + 1
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, key(chunk[-1]) if more and chunk else None


def _own_job(state: SimState, caller: Caller, job_id: str) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        raise not_found("jobs", "jobId", job_id)
    if job.account_id != caller.account.id:
        # §8.1/§9.1: another account's job is a 403, not a 404 (details unconfirmed).
        raise ApiError(403, "This job belongs to another account", {"jobId": job_id})
    return job


def _own_proposal(state: SimState, caller: Caller, proposal_id: str) -> Proposal:
    proposal = state.proposals.get(proposal_id)
    if proposal is None:
        raise not_found("proposals", "proposalId", proposal_id)
    if state.job_of(proposal).account_id != caller.account.id:
        # §8.2: a proposal on someone else's job is a 403; unconfirmed that hire answers the
        # same way (its page only says "proposal must be on your job").
        raise ApiError(403, "This proposal is not on one of your jobs", {"proposalId": proposal_id})
    return proposal


def _state(request: web.Request) -> SimState:
    return request.app[STATE]


# --- account -------------------------------------------------------------------------------


@routes.get("/auth/me")
async def auth_me(request: web.Request) -> web.Response:
    caller = authorize(request)
    return ok(wire.me(caller.token, caller.account, _state(request).config.auth_me_claim_signal))


@routes.get("/job-drafts/capabilities")
async def capabilities(request: web.Request) -> web.Response:
    caller = authorize(request, feature="public_api_job_drafting")
    return ok(wire.capabilities(caller.account))


@routes.get("/credits")
async def credits(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"], feature="public_api_credits")
    entries = _ledger_newest_first(_state(request), caller.account)
    return ok(wire.credits(caller.account, entries[:10]))


@routes.get("/credits/ledger")
async def credits_ledger(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"], feature="public_api_credits")
    limit = int_param(request, "limit", 50, 1, 100)
    entries = _ledger_newest_first(_state(request), caller.account)
    try:
        chunk, cursor = page_after(entries, lambda e: e.id, request.query.get("cursor"), limit)
    except ValueError:
        raise bad_request("cursor", "Unknown cursor") from None
    return ok({"entries": [wire.ledger_entry(e) for e in chunk], "nextCursor": cursor})


def _ledger_newest_first(state: SimState, account: Account) -> list[LedgerEntry]:
    return [e for e in reversed(state.ledger) if e.account_id == account.id]


@routes.get("/payments/pending")
async def payments_pending(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"])
    state = _state(request)
    waiting = sorted(
        state.pending_invoices(caller.account), key=lambda i: i.created_at, reverse=True
    )
    return ok({"payments": [wire.pending_payment(state, i) for i in waiting]})


# --- proposals --------------------------------------------------------------------------------


@routes.get("/jobs/{jobId}/proposals")
async def job_proposals(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["proposals:read"])
    state = _state(request)
    job = _own_job(state, caller, request.match_info["jobId"])
    wanted = _proposal_status(request.query.get("status"))
    # unconfirmed: the limit range (the docs' example uses 25).
    limit = int_param(request, "limit", 25, 1, 100)
    found = sorted(
        (p for p in state.proposals.values() if p.job_id == job.id and wanted in (None, p.status)),
        key=lambda p: p.created_at,
        reverse=True,
    )
    try:
        chunk, cursor = page_after(found, lambda p: p.id, request.query.get("cursor"), limit)
    except ValueError:
        raise bad_request("cursor", "Unknown cursor") from None
    return ok(
        {"proposals": [wire.proposal(state, p, compact=True) for p in chunk], "nextCursor": cursor}
    )


def _proposal_status(raw: str | None) -> ProposalStatus | None:
    """Case-insensitive; spaces and hyphens count as underscores (§8.1)."""
    if raw is None:
        return None
    try:
        return ProposalStatus(raw.strip().upper().replace(" ", "_").replace("-", "_"))
    except ValueError:
        raise bad_request("status", f"Unknown proposal status {raw!r}") from None


@routes.get("/proposals/{proposalId}")
async def get_proposal(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["proposals:read"])
    state = _state(request)
    proposal = _own_proposal(state, caller, request.match_info["proposalId"])
    return ok({"proposal": wire.proposal(state, proposal)})


@routes.post("/proposals/{proposalId}/hire")
async def hire(request: web.Request) -> web.Response:
    caller = authorize(
        request,
        scopes=["proposals:write"],
        feature="public_api_hiring",
        claim_for="hire AI trainers",
    )
    state = _state(request)
    proposal = _own_proposal(state, caller, request.match_info["proposalId"])
    terms = hire_terms(await json_body(request))
    return _requested(cosign.request_hire(state, caller.token, proposal, terms))


def _requested(requested: cosign.Requested) -> web.Response:
    # unconfirmed: an idempotent repeat answers 202 like the first request.
    return ok({"approval": wire.approval(requested.approval), "message": requested.message}, 202)


# --- contracts and milestones ---------------------------------------------------------------


@routes.get("/contracts")
async def list_contracts(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"])
    state = _state(request)
    job_id = request.query.get("jobId")
    job = _own_job(state, caller, job_id) if job_id is not None else None
    raw_status = request.query.get("status")
    try:
        status = None if raw_status is None else ContractStatus(raw_status)
    except ValueError:
        raise bad_request("status", 'status must be "active" or "ended"') from None
    found = sorted(
        (
            c
            for c in state.contracts.values()
            if c.account_id == caller.account.id
            and (job is None or c.job_id == job.id)
            and status in (None, c.status)
        ),
        key=lambda c: c.created_at,
        reverse=True,
    )
    return ok({"contracts": [wire.contract(state, c, full=False) for c in found]})


@routes.get("/contracts/{contractId}")
async def get_contract(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"])
    state = _state(request)
    contract = state.owned_contract(caller.account, request.match_info["contractId"])
    return ok({"contract": wire.contract(state, contract, full=True)})


def _payments_writer(request: web.Request, action: str) -> Caller:
    return authorize(
        request,
        scopes=["payments:write"],
        feature="public_api_payments_write",
        # unconfirmed (§2.4): the scopes page says co-sign replaces the claim gate here, the
        # endpoint pages say a claimed account is required; we follow the endpoint pages.
        claim_for=action,
    )


@routes.post("/contracts/{contractId}/end")
async def end_contract(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "end contracts")
    state = _state(request)
    contract = state.owned_contract(caller.account, request.match_info["contractId"])
    requested = cosign.request_end(state, caller.token, contract)
    if requested is None:
        return ok({"ok": True, "contractId": contract.id, "status": contract.status.value})
    return _requested(requested)


@routes.post("/contracts/{contractId}/milestones")
async def add_milestone(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "create milestones")
    state = _state(request)
    contract = state.owned_contract(caller.account, request.match_info["contractId"])
    draft = milestone_draft(await json_body(request))
    return ok({"milestone": wire.milestone(create_milestone(state, contract, draft))}, 201)


@routes.post("/milestones/{milestoneId}/fund")
async def fund_milestone(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "fund milestones")
    state = _state(request)
    milestone = state.owned_milestone(caller.account, request.match_info["milestoneId"])
    return _requested(cosign.request_fund(state, caller.token, milestone))


@routes.post("/milestones/{milestoneId}/approve")
async def approve_milestone(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "release milestone payments")
    state = _state(request)
    milestone = state.owned_milestone(caller.account, request.match_info["milestoneId"])
    return _requested(cosign.request_payout(state, caller.token, milestone))


@routes.get("/approvals/{approvalId}")
async def get_approval(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"])
    state = _state(request)
    # derived (§7.3): "the account owner and the token that created it" — every simulator
    # token belongs to the owner, so any token of the account may read it.
    approval = state.owned_approval(caller.account, request.match_info["approvalId"])
    cosign.expire_if_stale(state, approval)
    return ok({"approval": wire.approval(approval)})


# --- the feed -----------------------------------------------------------------------------------


@routes.get("/updates")
async def updates(request: web.Request) -> web.Response:
    caller = authorize(request, any_of=FEED_SCOPES)
    state = _state(request)
    raw_cursor = request.query.get("cursor")
    # unconfirmed: a non-numeric cursor or an out-of-range limit is a 400; the default is 50.
    if raw_cursor is not None and not raw_cursor.isdecimal():
        raise bad_request("cursor", "cursor must be an event id from nextCursor")
    limit = int_param(request, "limit", 50, 1, 200)
    after = int(raw_cursor) if raw_cursor is not None else 0
    have = caller.token.effective_scopes(caller.account)
    # derived (§16.5): ids increase globally; events the token cannot read are dropped
    # silently (§12) and do not count towards `hasMore`.
    visible = [
        e
        for e in state.events
        if e.account_id == caller.account.id and e.id > after and e.type.read_scope in have
    ]
    page = visible[:limit]
    # An empty page echoes the cursor (null when none was sent — unconfirmed).
    next_cursor = str(page[-1].id) if page else raw_cursor
    return ok(
        {
            "events": [wire.event(e) for e in page],
            "nextCursor": next_cursor,
            "hasMore": len(visible) > limit,
        }
    )


# --- webhooks ------------------------------------------------------------------------------------


def _webhook_manager(request: web.Request) -> Caller:
    return authorize(request, scopes=["webhooks:manage"], feature="public_api_webhooks")


@routes.post("/webhooks")
async def create_webhook(request: web.Request) -> web.Response:
    caller = _webhook_manager(request)
    webhook, secret = subscriptions.create(_state(request), caller.token, await json_body(request))
    # unconfirmed: 201 for a new subscription.
    return ok(
        {
            "webhook": wire.webhook(webhook),
            "secret": secret,
            "message": "Store the secret now: it is never shown again.",
        },
        201,
    )


@routes.get("/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    caller = _webhook_manager(request)
    owned = [w for w in _state(request).webhooks.values() if w.account_id == caller.account.id]
    return ok({"webhooks": [wire.webhook(w) for w in reversed(owned)]})


@routes.get("/webhooks/{webhookId}")
async def get_webhook(request: web.Request) -> web.Response:
    caller = _webhook_manager(request)
    return ok({"webhook": wire.webhook(_own_webhook(request, caller))})


@routes.delete("/webhooks/{webhookId}")
async def delete_webhook(request: web.Request) -> web.Response:
    caller = _webhook_manager(request)
    webhook = _own_webhook(request, caller)
    subscriptions.delete(_state(request), webhook)
    return ok({"webhook": wire.webhook(webhook), "deleted": True})


def _own_webhook(request: web.Request, caller: Caller) -> Webhook:
    webhook_id = request.match_info["webhookId"]
    webhook = _state(request).webhooks.get(webhook_id)
    if webhook is None or webhook.account_id != caller.account.id:
        raise not_found("webhooks", "webhookId", webhook_id)
    return webhook


# --- messages -------------------------------------------------------------------------------------


@routes.get("/messages")
async def read_messages(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["messages:read"])
    state = _state(request)
    query = request.query
    issues = []
    limit = 20
    raw_limit = query.get("limit")
    if raw_limit is not None:
        if raw_limit.isdecimal() and 1 <= int(raw_limit) <= 100:
            limit = int(raw_limit)
        else:
            issues.append(issue("limit", "invalid_type", "limit must be an integer from 1 to 100"))
    direction = query.get("direction", "older")
    if direction not in ("older", "newer"):
        issues.append(
            issue("direction", "invalid_enum_value", 'direction must be "older" or "newer"')
        )
    bucket = query.get("filter", "all")
    if bucket not in ("all", "job", "proposal"):
        issues.append(
            issue("filter", "invalid_enum_value", 'filter must be "all", "job" or "proposal"')
        )
    unread = query.get("unreadOnly", "false")
    if unread not in ("true", "1", "false", "0"):
        issues.append(issue("unreadOnly", "invalid_type", 'unreadOnly must be "true" or "1"'))
    if issues:
        raise invalid_issues(issues)
    cursor = query.get("cursor")
    viewer = caller.account.owner.id
    conversation_id = query.get("conversationId")
    try:
        if conversation_id is None:
            found = messaging.conversations_of(
                state, caller.account, bucket, unread in ("true", "1")
            )
            chunk, next_cursor = page_after(found, lambda c: c.id, cursor, limit)
            return ok(
                {
                    "conversations": [wire.conversation(c, viewer) for c in chunk],
                    "nextCursor": next_cursor,
                }
            )
        conversation = messaging.conversation_for(state, caller.account, conversation_id)
        # unconfirmed: "older" pages back from the newest message; "newer" tails forward
        # from the cursor (from the first message without one).
        ordered = conversation.messages if direction == "newer" else conversation.messages[::-1]
        entries, next_cursor = page_after(ordered, lambda m: m.id, cursor, limit)
    except ValueError:
        raise invalid_issues([issue("cursor", "custom", "Unknown cursor")]) from None
    # unconfirmed: the message-mode array is called `messages`.
    return ok(
        {
            "messages": [wire.message(conversation, m, viewer) for m in entries],
            "nextCursor": next_cursor,
        }
    )


@routes.post("/messages")
async def send_message(request: web.Request) -> web.Response:
    caller = authorize(
        request,
        scopes=["messages:write"],
        feature="public_api_messaging_writes",
        claim_for="send messages",
    )
    state = _state(request)
    body = await json_body(request)
    payload = body if isinstance(body, dict) else {}
    conversation_id = payload.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise invalid_issues(
            [issue("conversationId", "invalid_type", "conversationId is required")]
        )
    conversation = messaging.conversation_for(state, caller.account, conversation_id)
    content = payload.get("content")
    if not isinstance(content, str) or not content.strip():
        raise invalid_issues([issue("content", "too_small", "content must not be empty")])
    if len(content) > messaging.MAX_CONTENT:
        raise invalid_issues(
            [
                issue(
                    "content",
                    "too_big",
                    f"content must be at most {messaging.MAX_CONTENT} characters",
                )
            ]
        )
    message = messaging.send(state, caller.account, conversation, content)
    return ok(
        {"ok": True, "message": wire.message(conversation, message, caller.account.owner.id)}, 201
    )
