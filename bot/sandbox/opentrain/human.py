"""The human side, on the same origin as the API: the page behind `approvalUrl` with
Confirm / Decline, plus placeholder claim and billing pages. The index links to the
freelancers' and trainers' side (`trainer_page.py`), which shares this look (`page`).

Self-contained HTML (no external assets, no script); every value is escaped.
Stable element ids (`#status`, `#confirm`, `#decline`) are for browser tests.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

from aiohttp import web

from bot.sandbox.opentrain import cosign, decisions
from bot.sandbox.opentrain.errors import ApiError
from bot.sandbox.opentrain.model import Approval, HireTerms, Milestone
from bot.sandbox.opentrain.money import from_cents, hire_cost
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.vocabulary import PENDING, ApprovalType, MilestoneStatus, PaymentSource

STATE = web.AppKey("opentrain_human_state", SimState)
routes = web.RouteTableDef()

TITLES = {
    ApprovalType.PROPOSAL_HIRE: "Hire a freelancer",
    ApprovalType.MILESTONE_FUND: "Fund a milestone",
    ApprovalType.MILESTONE_APPROVE: "Release a milestone payment",
    ApprovalType.CONTRACT_END: "End a contract",
}
CLOCK_STEPS = (
    ("advance-1h", "+1 h", 3600),
    ("advance-24h", "+24 h", 86_400),
    ("advance-72h", "+72 h", 259_200),
)

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
header{font-weight:600;color:#555;margin-bottom:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{color:#555}dd{margin:0}
table{border-collapse:collapse;margin:.5rem 0}td{padding:.2rem 1rem .2rem 0}
tr.total td{font-weight:700;border-top:1px solid #999}
.status{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#eee}
.pending{background:#fff3c4}.confirmed{background:#c8f0cf}.declined,.expired{background:#f6d2d2}
.error{background:#f6d2d2;padding:.5rem 1rem;border-radius:.3rem}
.notice{background:#c8f0cf;padding:.5rem 1rem;border-radius:.3rem}
section.contract{border-top:1px solid #ddd;margin-top:1rem}ol.conversation{color:#555}
label{display:block;margin:.4rem 0}input[type=text],input[type=date],textarea{width:100%}
form.inline{display:inline}button{font-size:1rem;padding:.4rem 1rem;margin:.4rem .4rem .4rem 0}
#clock{margin-top:2rem;padding-top:1rem;border-top:1px solid #ddd;color:#555}
"""


def install(app: web.Application, state: SimState) -> None:
    app[STATE] = state
    app.add_routes(routes)


# --- pages ----------------------------------------------------------------------------------


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """Every approval, newest first, so a person in the sandbox can find the one to act on."""
    state = request.app[STATE]
    rows = "".join(
        f'<li><a href="/approvals/{escape(a.id)}">{escape(TITLES[a.type])}</a> · '
        f'<span class="status {escape(a.status)}">{escape(a.status)}</span> · '
        f"{_when(a.created_at)}</li>"
        for a in reversed(state.approvals.values())
    )
    listed = f'<ul id="approvals">{rows}</ul>' if rows else "<p>No approvals yet.</p>"
    other_side = (
        '<p><a id="play-the-other-side" href="/trainer">Play the other side</a>: '
        "a new applicant applies, a trainer writes, submits work or logs hours.</p>"
    )
    return page("Approvals", other_side + listed, state, back="/")


@routes.get("/approvals/{approvalId}")
async def approval_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    approval = state.approvals.get(request.match_info["approvalId"])
    if approval is None:
        return _missing(state)
    cosign.expire_if_stale(state, approval)  # opening the page reads it
    return _approval(state, approval)


@routes.post("/approvals/{approvalId}/confirm")
async def confirm(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    approval = state.approvals.get(request.match_info["approvalId"])
    if approval is None:
        return _missing(state)
    form = await request.post()
    try:
        edits = _hire_edits(approval, {key: str(value) for key, value in form.items()})
        source = str(form["paymentSource"]) if form.get("paymentSource") else None
        decisions.confirm(state, approval, edits, source)
    except ApiError as error:
        return _approval(state, approval, error=error.message, status=error.status)
    raise web.HTTPSeeOther(f"/approvals/{approval.id}")


@routes.post("/approvals/{approvalId}/decline")
async def decline(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    approval = state.approvals.get(request.match_info["approvalId"])
    if approval is None:
        return _missing(state)
    try:
        decisions.decline(state, approval)
    except ApiError as error:
        return _approval(state, approval, error=error.message, status=error.status)
    raise web.HTTPSeeOther(f"/approvals/{approval.id}")


def _missing(state: SimState) -> web.Response:
    return page(
        "Approval not found", "<p>No approval with this id.</p>", state, status=404, back="/"
    )


@routes.get("/claim")
async def claim(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = (
        "<p>In OpenTrain a human verifies their email here to claim an agent-registered "
        'account. In the simulator, use <code>PATCH /_sim/account {"claimed": true}</code>.</p>'
    )
    return page("Claim your account", body, state, back="/claim")


@routes.get("/settings/billing")
async def billing(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not state.accounts:
        return page("Billing", "<p>No account is loaded.</p>", state, back="/settings/billing")
    account = state.account()
    body = (
        f"<dl><dt>Card on file</dt><dd>{'yes' if account.payment_method_on_file else 'no'}</dd>"
        f"<dt>Credits available</dt><dd>{usd(from_cents(account.available_cents))}</dd>"
        f"<dt>Credits reserved</dt><dd>{usd(from_cents(account.reserved_cents))}</dd></dl>"
        "<p>In the simulator, use <code>PATCH /_sim/account</code> to add a card or credits.</p>"
    )
    return page("Billing", body, state, back="/settings/billing")


# --- rendering -----------------------------------------------------------------------------


def _approval(
    state: SimState, approval: Approval, *, error: str | None = None, status: int = 200
) -> web.Response:
    parts = []
    if error:
        parts.append(f'<p class="error" id="error" role="alert">{escape(error)}</p>')
    parts.append(
        f'<p>Status: <span id="status" class="status {escape(approval.status)}" '
        f'data-status="{escape(approval.status)}">{escape(approval.status)}</span></p>'
    )
    if approval.status == PENDING:
        left = _left(approval.expires_at, state.now())
        parts.append(f'<p id="expires">Expires {_when(approval.expires_at)} ({left} left)</p>')
    elif approval.resolved_at is not None:
        parts.append(f'<p id="resolved">Resolved {_when(approval.resolved_at)}</p>')
    parts.append(_facts(state, approval))
    if approval.type is ApprovalType.PROPOSAL_HIRE and approval.terms is not None:
        parts.append(_hire_cost_table(approval.terms.amount))
    if approval.result is not None:
        rows = "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(v if isinstance(v, str) else json.dumps(v))}</dd>"
            for k, v in approval.result.items()
        )
        parts.append(f'<h2>Result</h2><dl id="result">{rows}</dl>')
    if approval.status == PENDING:
        parts.append(_actions(state, approval))
    return page(
        TITLES[approval.type],
        "".join(parts),
        state,
        status=status,
        back=f"/approvals/{approval.id}",
    )


def _facts(state: SimState, approval: Approval) -> str:
    rows: list[tuple[str, str]] = [
        ("Approval", approval.id),
        ("Job", state.jobs[approval.job_id].title),
    ]
    if approval.proposal_id is not None:
        rows.append(("Freelancer", state.proposals[approval.proposal_id].freelancer.display_name))
    if approval.contract_id is not None:
        contract = state.contracts[approval.contract_id]
        rows.append(("Contract", contract.title))
        if approval.proposal_id is None:
            rows.append(("Freelancer", contract.freelancer.display_name))
        if approval.type is ApprovalType.CONTRACT_END:
            funded = [
                m
                for m in state.milestones_of(contract)
                if m.status is MilestoneStatus.ACTIVE_FUNDED
            ]
            escrow = sum((m.amount_usd for m in funded), Decimal(0))
            rows.append(("Escrow at stake", f"{usd(escrow)} in {len(funded)} funded milestone(s)"))
    if approval.milestone_id is not None:
        rows += _milestone_rows(state.milestones[approval.milestone_id])
    if approval.terms is not None and approval.status != PENDING:
        rows += _terms_rows(approval.terms)
    if approval.payment_source is not None:
        rows.append(("Paid with", approval.payment_source.value))
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return f'<dl id="facts">{cells}</dl>'


def _milestone_rows(milestone: Milestone) -> list[tuple[str, str]]:
    return [
        ("Milestone", f"#{milestone.number} {milestone.name}".strip()),
        ("Description", milestone.description),
        ("Amount", usd(milestone.amount_usd)),
        ("Milestone status", milestone.status.value),
    ]


def _terms_rows(terms: HireTerms) -> list[tuple[str, str]]:
    return [
        ("Milestone", terms.name),
        ("Description", terms.description),
        ("Amount", usd(terms.amount)),
        ("Due", terms.due_date.isoformat() if terms.due_date else "—"),
    ]


def _hire_cost_table(amount: Decimal) -> str:
    cost = hire_cost(amount)
    rows = [
        ("Milestone amount", cost.amount_cents, ""),
        ("Marketplace fee (10 %)", cost.marketplace_fee_cents, ""),
        ("Contract initiation fee", cost.initiation_fee_cents, ""),
        ("Total charged", cost.total_cents, ' class="total"'),
    ]
    body = "".join(
        f"<tr{cls}><td>{escape(label)}</td><td>{usd(from_cents(cents))}</td></tr>"
        for label, cents, cls in rows
    )
    return f'<table id="cost">{body}</table>'


def _actions(state: SimState, approval: Approval) -> str:
    fields = ""
    if approval.type is ApprovalType.PROPOSAL_HIRE and approval.terms is not None:
        terms = approval.terms
        due = terms.due_date.isoformat() if terms.due_date else ""
        description = (
            '<label>Description <textarea id="milestone-description" name="description">'
            f"{escape(terms.description)}</textarea></label>"
        )
        fields = (
            "<fieldset><legend>Milestone (you may adjust it)</legend>"
            + _input("milestone-name", "name", "Name", terms.name)
            + description
            + _input("milestone-amount", "amount", "Amount (USD)", str(terms.amount))
            + _input("milestone-due", "dueDate", "Due date", due, kind="date")
            + "</fieldset>"
        )
    if approval.type in (ApprovalType.PROPOSAL_HIRE, ApprovalType.MILESTONE_FUND):
        fields += _payment_choice(state, approval)
    base = f"/approvals/{escape(approval.id)}"
    return (
        f'<form method="post" action="{base}/confirm" id="confirm-form">{fields}'
        '<button type="submit" id="confirm">Confirm</button></form>'
        f'<form method="post" action="{base}/decline" class="inline" id="decline-form">'
        '<button type="submit" id="decline">Decline</button></form>'
    )


def _input(element_id: str, name: str, label: str, value: str, *, kind: str = "text") -> str:
    return (
        f'<label>{escape(label)} <input type="{kind}" id="{element_id}" name="{name}" '
        f'value="{escape(value)}"></label>'
    )


def _payment_choice(state: SimState, approval: Approval) -> str:
    account = state.accounts[approval.account_id]
    default = PaymentSource.CARD if account.payment_method_on_file else PaymentSource.CREDITS
    options = [
        (
            PaymentSource.CARD,
            "Card on file" if account.payment_method_on_file else "Card (none on file)",
        ),
        (
            PaymentSource.CREDITS,
            f"Credit balance ({usd(from_cents(account.available_cents))} available)",
        ),
    ]
    radios = "".join(
        f'<label><input type="radio" name="paymentSource" id="pay-{source.value}" '
        f'value="{source.value}"{" checked" if source is default else ""}> '
        f"{escape(label)}</label>"
        for source, label in options
    )
    return f"<fieldset><legend>Pay with</legend>{radios}</fieldset>"


def _hire_edits(approval: Approval, form: dict[str, str]) -> dict[str, Any] | None:
    """The adjusted milestone from the form, typed like a JSON body would be."""
    if approval.type is not ApprovalType.PROPOSAL_HIRE:
        return None
    edits: dict[str, Any] = {key: form[key] for key in ("name", "description") if key in form}
    if "dueDate" in form:
        edits["dueDate"] = form["dueDate"] or None
    if "amount" in form:
        try:
            edits["amount"] = Decimal(form["amount"].strip().removeprefix("$").replace(",", ""))
        except InvalidOperation:
            raise ApiError(
                400, "The amount must be a number like 450 or 450.50", {"field": "milestone.amount"}
            ) from None
    return edits


def page(title: str, body: str, state: SimState, *, back: str, status: int = 200) -> web.Response:
    """A whole page; `back` is where the fast-clock buttons return to."""
    now = state.now()
    ahead = state.clock.offset_seconds / 3600
    buttons = "".join(
        f'<form method="post" action="/_sim/clock/advance" class="inline">'
        f'<input type="hidden" name="seconds" value="{seconds}">'
        f'<input type="hidden" name="next" value="{escape(back)}">'
        f'<button type="submit" id="{button_id}">{label}</button></form>'
        for button_id, label, seconds in CLOCK_STEPS
    )
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'  # no /favicon.ico request (a 404 in the console)
        f"<title>{escape(title)} · OpenTrain simulator</title><style>{_STYLE}</style></head><body>"
        f"<header>OpenTrain (simulator)</header><main><h1>{escape(title)}</h1>{body}</main>"
        f'<section id="clock"><p>Simulated now: <time id="now" datetime="{now.isoformat()}">'
        f"{_when(now)}</time> ({ahead:+.1f} h from real time)</p>{buttons}</section></body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


def usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _left(until: datetime, now: datetime) -> str:
    minutes = max(0, int((until - now).total_seconds() // 60))
    return f"{minutes // 60} h {minutes % 60} min"
