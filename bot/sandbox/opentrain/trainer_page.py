"""Play the other side (`/trainer`): what freelancers and trainers do on OpenTrain, as plain
forms, so a person in the sandbox can make the events the bot follows a job for.

A new applicant on the demo job (`proposal.received`), and for each active contract of the
account: the trainer writes (`message.received`), submits a funded milestone's work
(`milestone.status_changed`, `payment.pending`) or logs hours or labels (a budget crossing
LOW or DEPLETED fires `contract.budget_state_changed`). Each form calls the state operation
its `/_sim` control endpoint calls, then redirects back; a refusal is shown on the page.
Same look as the approval pages (`human.page`); every value is escaped.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from html import escape
from urllib.parse import quote

from aiohttp import web

from bot.sandbox.opentrain import contracts, seed
from bot.sandbox.opentrain.budgets import budget_of
from bot.sandbox.opentrain.errors import ApiError, bad_request
from bot.sandbox.opentrain.human import page, usd
from bot.sandbox.opentrain.messaging import MAX_CONTENT
from bot.sandbox.opentrain.model import Contract, Message, Milestone
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.vocabulary import (
    ContractStatus,
    MilestoneStatus,
    PaymentType,
    ProposalStatus,
)

PATH = "/trainer"
TITLE = "Play the other side"
STATE = web.AppKey("opentrain_trainer_state", SimState)
routes = web.RouteTableDef()

# What the page says after a form worked (`?done=`): fixed words, never echoed input.
DONE = {
    "applied": "The application is in: OpenTrain fired proposal.received.",
    "written": "Sent: OpenTrain fired message.received.",
    "submitted": "Work submitted: the milestone awaits the employer's payout.",
    "logged": "Logged: the contract's budget counts it.",
}
APPLICANT = ("Katherine", "Johnson", "400")  # the form's defaults
MAX_NAME = 60
LAST_MESSAGES = 5  # of a contract's conversation, shown above its form
UNITS = {PaymentType.PAY_PER_HOUR: "hours", PaymentType.PAY_PER_LABEL: "labels"}


def install(app: web.Application, state: SimState) -> None:
    app[STATE] = state
    app.add_routes(routes)


@routes.get(PATH)
async def trainer_page(request: web.Request) -> web.Response:
    return _render(request.app[STATE], done=DONE.get(request.query.get("done", "")))


@routes.post(f"{PATH}/proposals")
async def apply(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await _form(request)
    try:
        state.add_demo_proposal(
            _name(form, "firstName", "first name"),
            _name(form, "lastName", "last name"),
            status=ProposalStatus.UNREVIEWED,
            bid_amount_usd=_positive(form, "bidAmountUsd", "The bid"),
        )
    except ApiError as error:
        return _render(state, error=error)
    raise web.HTTPSeeOther(f"{PATH}?done=applied#apply")


@routes.post(PATH + "/contracts/{contractId}/messages")
async def write(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await _form(request)
    try:
        contract = _active_contract(state, request.match_info["contractId"])
        content = form.get("content", "")
        if not content.strip():
            raise bad_request("content", "Write something first")
        if len(content) > MAX_CONTENT:
            raise bad_request("content", f"A message is at most {MAX_CONTENT:,} characters")
        state.freelancer_says(contract.conversation_id, content)
    except ApiError as error:
        return _render(state, error=error)
    raise web.HTTPSeeOther(_back("written", contract))


@routes.post(PATH + "/milestones/{milestoneId}/submit")
async def submit(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    try:
        milestone = state.submit_work(request.match_info["milestoneId"])
    except ApiError as error:
        return _render(state, error=error)
    raise web.HTTPSeeOther(_back("submitted", state.contract_of(milestone)))


@routes.post(PATH + "/contracts/{contractId}/usage")
async def log_usage(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    form = await _form(request)
    try:
        contract = _active_contract(state, request.match_info["contractId"])
        state.record_usage(contract.id, _positive(form, "volume", "The volume"))
    except ApiError as error:
        return _render(state, error=error)
    raise web.HTTPSeeOther(_back("logged", contract))


# --- input --------------------------------------------------------------------------------


async def _form(request: web.Request) -> dict[str, str]:
    return {key: str(value) for key, value in (await request.post()).items()}


def _name(form: dict[str, str], key: str, words: str) -> str:
    name = form.get(key, "").strip()
    if not name:
        raise bad_request(key, f"Type a {words}")
    if len(name) > MAX_NAME:
        raise bad_request(key, f"A {words} is at most {MAX_NAME} characters")
    return name


def _positive(form: dict[str, str], key: str, words: str) -> Decimal:
    try:
        value = Decimal(form.get(key, "").strip().removeprefix("$").replace(",", ""))
    except InvalidOperation:
        raise bad_request(key, f"{words} must be a number like 400 or 12.5") from None
    if not value.is_finite() or value <= 0:
        raise bad_request(key, f"{words} must be more than 0")
    return value


def _active_contract(state: SimState, contract_id: str) -> Contract:
    """One of the account's contracts, still running (a page left open may be stale)."""
    contract = state.owned_contract(state.account(), contract_id)
    contracts.ensure_active(contract)
    return contract


# --- rendering ----------------------------------------------------------------------------


def _render(
    state: SimState, *, done: str | None = None, error: ApiError | None = None
) -> web.Response:
    parts = [
        "<p>What freelancers and trainers do on OpenTrain. The bot hears of it from "
        "OpenTrain's feed, in the channel that follows the job.</p>"
    ]
    if error is not None:
        parts.append(f'<p class="error" id="error" role="alert">{escape(error.message)}</p>')
    elif done is not None:
        parts.append(f'<p class="notice" id="notice" role="status">{escape(done)}</p>')
    parts.append(_applicant_form(state))
    account_id = state.account().id if state.accounts else None
    active = [
        c
        for c in state.contracts.values()
        if c.account_id == account_id and c.status is ContractStatus.ACTIVE
    ]
    parts.append('<h2 id="contracts">Active contracts</h2>')
    parts += [_contract(state, c) for c in active] or ["<p>No active contracts.</p>"]
    return page(TITLE, "".join(parts), state, back=PATH, status=error.status if error else 200)


def _applicant_form(state: SimState) -> str:
    job = state.jobs.get(seed.DEMO_JOB_ID)
    if job is None:
        return (
            '<section id="apply"><p>The loaded scenario has no demo job to apply to.</p></section>'
        )
    first, last, bid = APPLICANT
    return (
        f'<section id="apply"><h2>A new applicant applies to {escape(job.title)}</h2>'
        f'<form method="post" action="{PATH}/proposals">'
        + _field("apply-first-name", "firstName", "First name", first)
        + _field("apply-last-name", "lastName", "Last name", last)
        + _field(
            "apply-bid",
            "bidAmountUsd",
            "Bid (USD)",
            bid,
            kind="number",
            extra=' min="0.01" step="0.01"',
        )
        + '<button type="submit" id="apply-submit">Apply</button></form></section>'
    )


def _contract(state: SimState, contract: Contract) -> str:
    who = contract.freelancer
    base = f"{PATH}/contracts/{_segment(contract.id)}"
    key = escape(contract.id)
    parts = [
        f'<section class="contract" id="{escape(_anchor(contract))}">'
        f"<h3>{escape(who.display_name)} · {escape(state.jobs[contract.job_id].title)}</h3>",
        _conversation(state, contract),
        f'<form method="post" action="{base}/messages">'
        f"<label>Write as {escape(who.first_name)} "
        f'<textarea id="write-{key}" name="content" rows="3" required></textarea></label>'
        f'<button type="submit" id="send-{key}">Send as {escape(who.first_name)}</button></form>',
    ]
    for milestone in state.milestones_of(contract):
        parts.append(_milestone(milestone))
    unit = UNITS.get(contract.payment_type)
    if unit is not None:
        listed = [m for m in state.milestones_of(contract) if m.status.listed]
        budget = budget_of(contract, listed)
        parts.append(
            f'<form method="post" action="{base}/usage">'
            f'<p id="budget-{key}">Budget {escape(budget.state)}: {budget.consumed_volume} of '
            f"{budget.funded_volume} funded {unit} used.</p>"
            + _field(
                f"usage-{key}",
                "volume",
                f"Log {unit}",
                "1",
                kind="number",
                extra=' min="0.01" step="any"',
            )
            + f'<button type="submit" id="log-{key}">Log {unit}</button></form>'
        )
    parts.append("</section>")
    return "".join(parts)


def _conversation(state: SimState, contract: Contract) -> str:
    """The contract's last few messages, so the employer's replies from Slack show here."""
    conversation = state.conversations.get(contract.conversation_id)
    if conversation is None or not conversation.messages:
        return ""
    items = "".join(
        f"<li><b>{escape(_sender(contract, m))}</b>: {escape(m.content)}</li>"
        for m in conversation.messages[-LAST_MESSAGES:]
    )
    return f'<ol class="conversation" id="conversation-{escape(contract.id)}">{items}</ol>'


def _sender(contract: Contract, message: Message) -> str:
    who = contract.freelancer
    return who.first_name if message.sender_user_id == who.id else "The employer"


def _milestone(milestone: Milestone) -> str:
    if milestone.status is not MilestoneStatus.ACTIVE_FUNDED:
        return ""
    name = escape(milestone.name or f"milestone #{milestone.number}")
    if milestone.pending_approval:
        return f"<p>{name} ({usd(milestone.amount_usd)}): submitted, awaiting the payout.</p>"
    return (
        f'<form method="post" action="{PATH}/milestones/{_segment(milestone.id)}/submit">'
        f'<button type="submit" id="submit-{escape(milestone.id)}">Submit work on {name}</button> '
        f"({usd(milestone.amount_usd)} in escrow)</form>"
    )


def _field(
    element_id: str, name: str, label: str, value: str, *, kind: str = "text", extra: str = ""
) -> str:
    return (
        f'<label>{escape(label)} <input type="{kind}" id="{escape(element_id)}" name="{name}" '
        f'value="{escape(value)}"{extra} required></label>'
    )


def _segment(resource_id: str) -> str:
    """An id as a path segment inside an HTML attribute."""
    return escape(quote(resource_id, safe=""))


def _anchor(contract: Contract) -> str:
    return f"contract-{contract.id}"


def _back(done: str, contract: Contract) -> str:
    """Back to the page, at the contract just acted on, saying it worked."""
    return f"{PATH}?done={done}#{quote(_anchor(contract))}"
