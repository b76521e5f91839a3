"""OpenTrain's Public API under `/api/public/v1` (opentrain-api.md §3–§14): what each
endpoint does. Every handler applies the gates in the documented order (see
`plumbing.py`); a request failing two gates reports the earlier one.
"""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.faults import FaultSet, fault_middleware
from bot.sandbox.opentrain import cosign, subscriptions, wire
from bot.sandbox.opentrain.api_messages import routes as message_routes
from bot.sandbox.opentrain.contracts import create_milestone
from bot.sandbox.opentrain.errors import (
    ApiError,
    bad_request,
    not_found,
)
from bot.sandbox.opentrain.model import Account, Job, LedgerEntry, Proposal, Webhook
from bot.sandbox.opentrain.plumbing import (
    LIMITER,
    STATE,
    Caller,
    api_path,
    authorize,
    envelope,
    fault_response,
    int_param,
    json_body,
    ok,
    page_after,
    rate_limited,
    state_of,
)
from bot.sandbox.opentrain.ratelimit import RateLimiter
from bot.sandbox.opentrain.requestlog import RequestLog
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.validation import hire_terms, milestone_draft
from bot.sandbox.opentrain.vocabulary import ContractStatus, JobStatus, ProposalStatus

FEED_SCOPES = ("proposals:read", "messages:read", "payments:read")

routes = web.RouteTableDef()


def build_api(state: SimState, faults: FaultSet, requests: RequestLog) -> web.Application:
    api = web.Application(
        middlewares=[
            requests.middleware,
            envelope,
            rate_limited,
            fault_middleware(faults, api_path, fault_response),
        ]
    )
    api[STATE] = state
    api[LIMITER] = RateLimiter(lambda: state.config)
    api.add_routes(routes)
    api.add_routes(message_routes)
    return api


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


# --- account -------------------------------------------------------------------------------


@routes.get("/auth/me")
async def auth_me(request: web.Request) -> web.Response:
    caller = authorize(request)
    return ok(wire.me(caller.token, caller.account, state_of(request).config.auth_me_claim_signal))


@routes.get("/job-drafts/capabilities")
async def capabilities(request: web.Request) -> web.Response:
    caller = authorize(request, feature="public_api_job_drafting")
    return ok(wire.capabilities(caller.account))


@routes.get("/credits")
async def credits(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"], feature="public_api_credits")
    entries = _ledger_newest_first(state_of(request), caller.account)
    return ok(wire.credits(caller.account, entries[:10]))


@routes.get("/credits/ledger")
async def credits_ledger(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"], feature="public_api_credits")
    limit = int_param(request, "limit", 50, 1, 100)
    entries = _ledger_newest_first(state_of(request), caller.account)
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
    state = state_of(request)
    waiting = sorted(
        state.pending_invoices(caller.account), key=lambda i: i.created_at, reverse=True
    )
    return ok({"payments": [wire.pending_payment(state, i) for i in waiting]})


# --- jobs and proposals ------------------------------------------------------------------------


@routes.get("/jobs/mine")
async def my_jobs(request: web.Request) -> web.Response:
    """Every job the account owns, drafts included, newest first; works pre-claim."""
    caller = authorize(request, scopes=["jobs:read"])
    state = state_of(request)
    wanted = _job_status(request.query.get("status"))
    # unconfirmed: over the documented maximum (100) is a 400 like below 1, not clamped.
    limit = int_param(request, "limit", 25, 1, 100)
    found = sorted(
        (
            j
            for j in state.jobs.values()
            if j.account_id == caller.account.id and wanted in (None, j.status)
        ),
        key=lambda j: j.created_at,
        reverse=True,
    )
    try:
        chunk, cursor = page_after(found, lambda j: j.id, request.query.get("cursor"), limit)
    except ValueError:
        raise bad_request("cursor", "Unknown cursor") from None
    return ok({"jobs": [wire.my_job(state, j) for j in chunk], "nextCursor": cursor})


def _job_status(raw: str | None) -> JobStatus | None:
    if raw is None:
        return None
    try:
        # unconfirmed: matched exactly (the docs list the values in capitals and, unlike the
        # proposals list, say nothing of case or separators).
        return JobStatus(raw)
    except ValueError:
        supported = [s.value for s in JobStatus]
        raise ApiError(
            400,
            f"Unknown job status {raw!r}",
            {"field": "status", "supportedStatuses": supported},
        ) from None


@routes.get("/jobs/{jobId}/proposals")
async def job_proposals(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["proposals:read"])
    state = state_of(request)
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
    state = state_of(request)
    proposal = _own_proposal(state, caller, request.match_info["proposalId"])
    return ok({"proposal": wire.proposal(state, proposal)})


@routes.get("/proposals/{proposalId}/interview")
async def interview(request: web.Request) -> web.Response:
    """The AI interview's transcript (§8.2); 404 with `proposalId` when there was none."""
    caller = authorize(request, scopes=["proposals:read"])
    state = state_of(request)
    proposal = _own_proposal(state, caller, request.match_info["proposalId"])
    if proposal.interview_messages is None:
        raise not_found("proposals", "proposalId", proposal.id)
    return ok({"interview": wire.interview(proposal)})


@routes.post("/proposals/{proposalId}/hire")
async def hire(request: web.Request) -> web.Response:
    caller = authorize(
        request,
        scopes=["proposals:write"],
        feature="public_api_hiring",
        claim_for="hire AI trainers",
    )
    state = state_of(request)
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
    state = state_of(request)
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
    state = state_of(request)
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
    state = state_of(request)
    contract = state.owned_contract(caller.account, request.match_info["contractId"])
    requested = cosign.request_end(state, caller.token, contract)
    if requested is None:
        return ok({"ok": True, "contractId": contract.id, "status": contract.status.value})
    return _requested(requested)


@routes.post("/contracts/{contractId}/milestones")
async def add_milestone(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "create milestones")
    state = state_of(request)
    contract = state.owned_contract(caller.account, request.match_info["contractId"])
    draft = milestone_draft(await json_body(request))
    return ok({"milestone": wire.milestone(create_milestone(state, contract, draft))}, 201)


@routes.post("/milestones/{milestoneId}/fund")
async def fund_milestone(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "fund milestones")
    state = state_of(request)
    milestone = state.owned_milestone(caller.account, request.match_info["milestoneId"])
    return _requested(cosign.request_fund(state, caller.token, milestone))


@routes.post("/milestones/{milestoneId}/approve")
async def approve_milestone(request: web.Request) -> web.Response:
    caller = _payments_writer(request, "release milestone payments")
    state = state_of(request)
    milestone = state.owned_milestone(caller.account, request.match_info["milestoneId"])
    return _requested(cosign.request_payout(state, caller.token, milestone))


@routes.get("/approvals/{approvalId}")
async def get_approval(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["payments:read"])
    state = state_of(request)
    # derived (§7.3): "the account owner and the token that created it" — every simulator
    # token belongs to the owner, so any token of the account may read it.
    approval = state.owned_approval(caller.account, request.match_info["approvalId"])
    cosign.expire_if_stale(state, approval)
    return ok({"approval": wire.approval(approval)})


# --- the feed -----------------------------------------------------------------------------------


@routes.get("/updates")
async def updates(request: web.Request) -> web.Response:
    caller = authorize(request, any_of=FEED_SCOPES)
    state = state_of(request)
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
    webhook, secret = subscriptions.create(
        state_of(request), caller.token, await json_body(request)
    )
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
    owned = [w for w in state_of(request).webhooks.values() if w.account_id == caller.account.id]
    return ok({"webhooks": [wire.webhook(w) for w in reversed(owned)]})


@routes.get("/webhooks/{webhookId}")
async def get_webhook(request: web.Request) -> web.Response:
    caller = _webhook_manager(request)
    return ok({"webhook": wire.webhook(_own_webhook(request, caller))})


@routes.delete("/webhooks/{webhookId}")
async def delete_webhook(request: web.Request) -> web.Response:
    caller = _webhook_manager(request)
    webhook = _own_webhook(request, caller)
    subscriptions.delete(state_of(request), webhook)
    return ok({"webhook": wire.webhook(webhook), "deleted": True})


def _own_webhook(request: web.Request, caller: Caller) -> Webhook:
    webhook_id = request.match_info["webhookId"]
    webhook = state_of(request).webhooks.get(webhook_id)
    if webhook is None or webhook.account_id != caller.account.id:
        raise not_found("webhooks", "webhookId", webhook_id)
    return webhook
