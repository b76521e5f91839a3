"""The control API under `/_sim` (JSON): what tests, the sandbox and the approval page
use to play the human, move the clock, inject faults and inspect everything.

Other tools depend on these exact paths; see the package docstring for the list.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.sandbox.faults import FaultSet, handle_faults_control
from bot.sandbox.opentrain import seed, wire, wire_messages
from bot.sandbox.opentrain.errors import ApiError
from bot.sandbox.opentrain.requestlog import RequestLog
from bot.sandbox.opentrain.snapshot import account_json, clock_json, snapshot
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.vocabulary import ALL_SCOPES, ProposalStatus


@dataclass(frozen=True)
class Simulator:
    """What the control API reaches into."""

    state: SimState
    faults: FaultSet
    requests: RequestLog


SIM = web.AppKey("opentrain_simulator", Simulator)
MAX_ADVANCE_SECONDS = 366 * 86_400  # a year at a time keeps datetimes far from overflow
routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def install(app: web.Application, simulator: Simulator) -> None:
    app[SIM] = simulator
    app.add_routes(routes)


def _failure(
    status: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None
) -> web.Response:
    return web.json_response(
        {"ok": False, "error": message, "reason": reason, "details": details or {}}, status=status
    )


def control(handler: Handler) -> Handler:
    """Turn rule errors and bad bodies into `{ok: false, error, reason}` answers."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return _failure(error.status, error.message, error.reason, error.details)
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            return _failure(400, f"bad control request: {exc}")

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    if not text.strip():
        return {}
    body = json.loads(text, parse_float=Decimal)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM]


# --- inspection ------------------------------------------------------------------------------


@routes.get("/_sim/state")
@control
async def get_state(request: web.Request) -> web.Response:
    simulator = _sim(request)
    return web.json_response(snapshot(simulator.state, simulator.faults, simulator.requests))


@routes.get("/_sim/requests")
@control
async def get_requests(request: web.Request) -> web.Response:
    since = int(request.query.get("since", "0"))
    if since < 0:
        raise ValueError("since must be ≥ 0")
    log = _sim(request).requests
    return web.json_response({"requests": log.since(since), "next": len(log)})


@routes.get("/_sim/clock")
@control
async def getclock_json(request: web.Request) -> web.Response:
    return web.json_response(clock_json(_sim(request).state))


# --- the human ---------------------------------------------------------------------------------


@routes.post("/_sim/approvals/{approvalId}/confirm")
@control
async def confirm(request: web.Request) -> web.Response:
    body = await _body(request)
    milestone = body.get("milestone")
    if milestone is not None and not isinstance(milestone, dict):
        raise ValueError("milestone must be an object")
    approval = _sim(request).state.confirm(
        request.match_info["approvalId"],
        milestone=milestone,
        payment_source=body.get("paymentSource"),
    )
    return web.json_response({"ok": True, "approval": wire.approval(approval)})


@routes.post("/_sim/approvals/{approvalId}/decline")
@control
async def decline(request: web.Request) -> web.Response:
    approval = _sim(request).state.decline(request.match_info["approvalId"])
    return web.json_response({"ok": True, "approval": wire.approval(approval)})


@routes.post("/_sim/clock/advance")
@control
async def advance(request: web.Request) -> web.StreamResponse:
    """JSON `{seconds}`; also a form post from the approval page (`seconds`, `next`)."""
    state = _sim(request).state
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        state.advance(_seconds(Decimal(str(form["seconds"]))))
        back = str(form.get("next", "/"))
        # Only ever redirect within the simulator.
        raise web.HTTPSeeOther(back if back.startswith("/") and not back.startswith("//") else "/")
    state.advance(_seconds((await _body(request)).get("seconds")))
    return web.json_response(clock_json(state))


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("seconds must be a number")
    if not (Decimal(value).is_finite() and 0 < value <= MAX_ADVANCE_SECONDS):
        raise ValueError(f"seconds must be more than 0 and at most {MAX_ADVANCE_SECONDS}")
    return float(value)


# --- set-up --------------------------------------------------------------------------------------


@routes.post("/_sim/faults")
@routes.delete("/_sim/faults")
@control
async def faults(request: web.Request) -> web.Response:
    if request.method == "POST":
        body = json.loads(await request.text())
        for spec in body if isinstance(body, list) else [body]:
            status = spec.get("status") if isinstance(spec, dict) else None
            # The shared FaultSpec allows 200 for Slack's `{ok: false}`; OpenTrain signals
            # every failure with a non-2xx status, so a fault here must be an error status.
            if isinstance(status, int) and status < 400:
                raise ValueError("an OpenTrain fault's status must be 400–599")
    return await handle_faults_control(request, _sim(request).faults)


@routes.get("/_sim/config")
@routes.patch("/_sim/config")
@control
async def sim_config(request: web.Request) -> web.Response:
    """The switches for behaviour OpenTrain leaves unconfirmed (see `config.py`)."""
    state = _sim(request).state
    if request.method == "PATCH":
        state.config = state.config.patched(await _body(request))
    return web.json_response({"ok": True, "config": state.config.public()})


@routes.post("/_sim/seed")
@control
async def reseed(request: web.Request) -> web.Response:
    """Back to a clean scenario: entities, clock, configuration, faults and the request log."""
    scenario = (await _body(request)).get("scenario", "demo")
    if scenario not in seed.SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(seed.SCENARIOS)}")
    simulator = _sim(request)
    simulator.state.reset(scenario)
    simulator.faults.clear()
    simulator.requests.clear()
    return web.json_response({"ok": True, "scenario": scenario, "seeded": simulator.state.seeded})


@routes.patch("/_sim/account")
@control
async def patch_account(request: web.Request) -> web.Response:
    body = await _body(request)
    features = body.get("features")
    if features is not None and not (
        isinstance(features, dict) and all(isinstance(v, bool) for v in features.values())
    ):
        raise ValueError("features must map feature keys to booleans")
    account = _sim(request).state.patch_account(
        body.get("accountId"),
        claimed=_optional_bool(body, "claimed"),
        features=features,
        payment_method_on_file=_optional_bool(body, "paymentMethodOnFile"),
        available_cents=_optional_int(body, "availableCents"),
    )
    return web.json_response({"ok": True, "account": account_json(account)})


@routes.post("/_sim/tokens")
@control
async def create_token(request: web.Request) -> web.Response:
    body = await _body(request)
    scopes = body.get("scopes", list(ALL_SCOPES))
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("scopes must be a list of strings")
    label = str(body.get("label", "simulator token"))
    # Minted here, a token keeps its scopes on an unclaimed account: tests reach the claim
    # gate itself with it (an agent's own tokens hold only the pre-claim scopes).
    token = _sim(request).state.create_token(tuple(scopes), label, body.get("accountId"))
    return web.json_response(
        {"ok": True, "token": token.secret, "id": token.id, "scopes": list(token.scopes)}
    )


@routes.post("/_sim/proposals")
@control
async def add_proposal(request: web.Request) -> web.Response:
    """A new applicant on the demo job (fires `proposal.received`)."""
    body = await _body(request)
    state = _sim(request).state
    bid = body.get("bidAmountUsd", 400)
    if isinstance(bid, bool) or not isinstance(bid, int | Decimal) or bid <= 0:
        raise ValueError("bidAmountUsd must be a positive number")
    proposal = state.add_demo_proposal(
        str(body.get("firstName", "Katherine")),
        str(body.get("lastName", "Johnson")),
        status=ProposalStatus(body.get("status", ProposalStatus.UNREVIEWED.value)),
        bid_amount_usd=Decimal(bid),
    )
    return web.json_response({"ok": True, "proposal": wire.proposal(state, proposal)})


@routes.post("/_sim/contracts/{contractId}/usage")
@control
async def record_usage(request: web.Request) -> web.Response:
    """The trainer worked `volume` more hours or labels; crossing 80 % or 100 % of the funded
    volume fires `contract.budget_state_changed`."""
    body = await _body(request)
    volume = body.get("volume")
    if isinstance(volume, bool) or not isinstance(volume, int | Decimal):
        raise ValueError("volume must be a number")
    state = _sim(request).state
    contract = state.record_usage(request.match_info["contractId"], Decimal(volume))
    listed = [m for m in state.milestones_of(contract) if m.status.listed]
    return web.json_response({"ok": True, "budget": wire.budget(contract, listed)})


@routes.post("/_sim/milestones/{milestoneId}/submit")
@control
async def submit_work(request: web.Request) -> web.Response:
    """The trainer submits a funded milestone's work: it awaits approval (`pendingApproval`,
    `needsReview`) and `milestone.status_changed` then `payment.pending` fire."""
    milestone = _sim(request).state.submit_work(request.match_info["milestoneId"])
    return web.json_response({"ok": True, "milestone": wire.milestone(milestone)})


@routes.post("/_sim/messages")
@control
async def freelancer_message(request: web.Request) -> web.Response:
    """The freelancer writes in a conversation (fires `message.received`)."""
    body = await _body(request)
    state = _sim(request).state
    message = state.freelancer_says(str(body["conversationId"]), str(body["content"]))
    conversation = state.conversations[message.conversation_id]
    owner = state.accounts[conversation.account_id].owner
    return web.json_response(
        {"ok": True, "message": wire_messages.message(conversation, message, owner.id)}
    )


def _optional_bool(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{key} must be a boolean")
    return value


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{key} must be an integer")
    return value
