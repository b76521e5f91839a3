"""The agent API's wire models (`/agent/v1`): requests, responses, the error envelope, OpenAPI.

camelCase on the wire, like OpenTrain. Requests refuse unknown fields: a typo
in a field that decides money (`ammount`) must fail loudly, never be dropped.
Amounts go through the same rules as amounts typed in Slack (`parse_amount`),
and due dates are checked against the bot's clock, so both arrive in a
`ValidationContext` passed to `model_validate(..., context=...)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from bot import slack_ids
from bot.agent_asks import PolicyRequest
from bot.callback_urls import MAX_URL_CHARS
from bot.cards import approval_link_allowed
from bot.cosign import CardPlacement
from bot.forms import MAX_DESCRIPTION, MAX_NAME
from bot.money import parse_amount, usd_text
from bot.opentrain import ApprovalStatus
from bot.parsing import ID_PATTERN
from bot.tracked_approvals import TrackedApproval, TrackedStatus

MAX_NOTE = 500
CHANNEL_ID = re.compile(rf"^{slack_ids.CHANNEL_ID}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ValidationContext:
    """What request validation needs from outside the body: the bot's clock and money bound."""

    today: date
    max_amount: Decimal


def _context(info: ValidationInfo) -> ValidationContext:
    if not isinstance(info.context, ValidationContext):
        raise TypeError("agent requests are validated with a ValidationContext")
    return info.context


def _amount(value: object, info: ValidationInfo) -> Decimal:
    # bool is an int in Python, and a float may already have lost cents: both refused.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError('the amount must be a JSON number or a string like "450.50"')
    return parse_amount(str(value), _context(info).max_amount)


def _iso_date(value: object) -> object:
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("the date must be a string like 2026-07-01 (YYYY-MM-DD)")
    return value


def _not_past(value: date, info: ValidationInfo) -> date:
    if value < _context(info).today:
        raise ValueError("the due date is in the past")
    return value


Id = Annotated[str, StringConstraints(pattern=ID_PATTERN.pattern, max_length=128)]
ChannelId = Annotated[
    str,
    StringConstraints(pattern=CHANNEL_ID.pattern, max_length=slack_ids.MAX_ID_CHARS),
    Field(
        description=(
            "A Slack channel id (C… public, G… private) for the card; the bot must be able to "
            "post there. Omitted: the job's route, then the type's route, then DEFAULT_CHANNEL."
        ),
        examples=["C0HIRING"],
    ),
]
Note = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE),
    Field(description="Why the agent asks; shown on the card as plain text (never a link)."),
]
Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "examples": ["450.50"]},
            ],
            "description": (
                "USD: positive, at most two decimals, at most the bot's MAX_AMOUNT_USD. "
                "A string keeps exact cents in clients without decimal JSON numbers."
            ),
        }
    ),
]
CallbackUrl = Annotated[
    str,
    StringConstraints(max_length=MAX_URL_CHARS),
    Field(
        description=(
            "Where the bot POSTs the outcome once the approval ends (or an admin decides an "
            "over-limit request), signed with the agent's token (X-Cosign-Signature). An "
            "absolute https URL without user name or password whose host is a public address "
            "(loopback and private ones are refused unless the bot runs with "
            "CALLBACK_ALLOW_PRIVATE=true, which also allows http). Redirects are not followed."
        ),
        json_schema_extra={"format": "uri"},
        examples=["https://agent.example.com/cosign/callback"],
    ),
]
DueDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    AfterValidator(_not_past),
    Field(description="YYYY-MM-DD, today or later (UTC, the bot's clock)."),
]


# --- requests ------------------------------------------------------------------------------


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True)


class CardRequest(RequestModel):
    """Fields every co-sign request may carry: where the card goes, why it was asked, and
    where to tell the outcome."""

    channel: ChannelId | None = None
    note: Note | None = None
    callback_url: CallbackUrl | None = None


class HireMilestone(RequestModel):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)
    ]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=MAX_DESCRIPTION)
    ] = ""
    amount: Amount
    due_date: DueDate | None = None


class HireRequest(CardRequest):
    """`POST /agent/v1/hire`: hire from a proposal with a first escrow milestone."""

    proposal_id: Id
    milestone: HireMilestone
    confirm_not_fit_override: StrictBool = Field(
        default=False,
        description="Hire a proposal marked Not a fit, after OpenTrain said it needs this.",
    )


class MilestoneRequest(CardRequest):
    """`POST /agent/v1/fund` (put a milestone in escrow) and `/payout` (release it)."""

    milestone_id: Id


class EndRequest(CardRequest):
    """`POST /agent/v1/end`: end a contract (a co-sign only when it holds escrow)."""

    contract_id: Id


class HandOverRequest(CardRequest):
    """`POST /agent/v1/approvals`: the agent made the OpenTrain call itself; the bot re-reads
    the approval by id (it never takes a URL or a status from the agent)."""

    approval_id: Id


# --- responses ------------------------------------------------------------------------------


class ResponseModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class ApprovalView(ResponseModel):
    """OpenTrain's approval object as the bot last read it."""

    id: str
    type: str = Field(description="proposal_hire | milestone_fund | milestone_approve | …")
    status: ApprovalStatus | None = Field(
        description=(
            "OpenTrain's status; null when the bot's tracked status has no OpenTrain "
            "equivalent (superseded, ended, not_found) — see tracked.status."
        )
    )
    approval_url: str | None = Field(
        description=(
            "Where a human confirms. Null when OpenTrain's link is not on the configured "
            "OpenTrain host (the bot never relays such a link; the card withholds it too)."
        )
    )
    expires_at: AwareDatetime
    created_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    job_id: str | None = None
    proposal_id: str | None = None
    contract_id: str | None = None
    milestone_id: str | None = None
    result: dict[str, Any] | None = Field(
        default=None, description="What the confirmation did, e.g. {hired, contractId, …}."
    )


class RequesterView(ResponseModel):
    kind: Literal["slack", "agent"]
    id: str = Field(description="The agent's name, or the Slack user id.")
    note: str | None = None


class OutcomeView(ResponseModel):
    status: TrackedStatus
    resolved_at: AwareDatetime | None = None
    result: dict[str, Any] | None = None
    superseded_by: str | None = Field(
        default=None, description="The newer hire approval that replaced this one."
    )
    opentrain_status: str | None = Field(
        default=None,
        description="With status `ended`: OpenTrain's own status word, one the bot does not know.",
    )


class TrackedView(ResponseModel):
    """What the bot knows: its own status (a superset of OpenTrain's) and the outcome."""

    status: TrackedStatus = Field(
        description="pending | confirmed | declined | expired | superseded | ended | not_found"
    )
    requester: RequesterView = Field(description="Who first asked for this card.")
    outcome: OutcomeView | None = Field(default=None, description="Set once no longer pending.")


class CardView(ResponseModel):
    """Where the approval's card is in Slack; all null while it is still being posted."""

    channel: str | None = None
    ts: str | None = None
    permalink: str | None = None
    error: str | None = Field(
        default=None,
        description="Why the card could not be posted (Slack's error, e.g. not_in_channel).",
    )
    hint: str | None = Field(default=None, description="What to do about `error`.")


class ApprovalResponse(ResponseModel):
    """202 from a co-sign request (a card was requested); 200 from GET /approvals/{id}."""

    approval: ApprovalView
    tracked: TrackedView
    card: CardView


class ContractEndedResponse(ResponseModel):
    """200 from /end when the contract held no escrow: OpenTrain ended it, no card."""

    ended: Literal[True] = True
    contract_id: str


class PolicyView(ResponseModel):
    """The spend-policy rule a request exceeds, with the numbers (USD strings, exact cents)."""

    rule: str = Field(description="maxPerRequestUsd | maxPerDayUsd | maxPerWeekUsd")
    limit_usd: str | None = None
    used_usd: str | None = None
    requested_usd: str | None = Field(
        default=None, description="Null when the bot cannot know it (a handed-over hire)."
    )


class PolicyRequestResponse(ResponseModel):
    """202 when a request over a limit waits for an admin; 200 from GET /requests/{id}."""

    request_id: str
    status: Literal["awaiting_policy_approval", "allowed", "refused", "expired"]
    type: str = Field(description="hire | fund | payout | end")
    what: str = Field(description="The request in words, as the admin sees it.")
    policy: PolicyView
    created_at: AwareDatetime
    expires_at: AwareDatetime = Field(description="Refused if no admin answers by then (24 h).")
    decided_at: AwareDatetime | None = None
    approval: ApprovalResponse | None = Field(
        default=None, description="Once allowed: the co-sign request it became."
    )
    ended: bool = Field(
        default=False, description="Once allowed: the contract held no escrow and ended at once."
    )
    error: dict[str, Any] | None = Field(
        default=None, description="Once allowed: OpenTrain refused the request (code, reason)."
    )


def policy_request_response(
    request: PolicyRequest, approval: ApprovalResponse | None
) -> PolicyRequestResponse:
    return PolicyRequestResponse(
        request_id=request.request_id,
        status=request.status,
        type=request.type,
        what=request.what,
        policy=PolicyView(
            rule=request.rule,
            limit_usd=usd_text(request.limit_usd),
            used_usd=usd_text(request.used_usd),
            requested_usd=usd_text(request.requested_usd),
        ),
        created_at=request.created_at,
        expires_at=request.expires_at,
        decided_at=request.decided_at,
        approval=approval,
        ended=request.contract_ended,
        error=request.error,
    )


class ErrorResponse(ResponseModel):
    """Every error, shaped like OpenTrain's envelope; OpenTrain's own errors pass through."""

    error: str = Field(description="For people; do not branch on it.")
    code: str = Field(description="BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, CONFLICT, …")
    request_id: str = Field(description="This bot's request id (also the X-Request-Id header).")
    details: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "OpenTrain's details when it refused (reason, billingUrl, claimUrl, … plus "
            "source=opentrain and opentrainRequestId); issues[] for invalid bodies."
        ),
    )


CARD_HINTS = {
    "not_in_channel": "Invite the bot to the channel (/invite @OpenTrain co-sign) or pass another.",
    "channel_not_found": "No such channel, or it is private and the bot is not in it.",
    "is_archived": "The channel is archived; pass another channel.",
    "no_channel": "Pass `channel`, or ask an admin to set a route or DEFAULT_CHANNEL.",
}


def approval_response(
    tracked: TrackedApproval, placement: CardPlacement, *, opentrain_host: str
) -> ApprovalResponse:
    """The one rendering of a tracked approval for agents (POST answers and GET alike)."""
    opentrain_status = {
        TrackedStatus.PENDING: ApprovalStatus.PENDING,
        TrackedStatus.CONFIRMED: ApprovalStatus.CONFIRMED,
        TrackedStatus.DECLINED: ApprovalStatus.DECLINED,
        TrackedStatus.EXPIRED: ApprovalStatus.EXPIRED,
    }.get(tracked.status)
    approval = ApprovalView(
        id=tracked.approval_id,
        type=tracked.type.value,
        status=opentrain_status,
        approval_url=(
            tracked.approval_url
            if approval_link_allowed(tracked.approval_url, opentrain_host)
            else None
        ),
        expires_at=tracked.expires_at,
        created_at=tracked.created_at,
        resolved_at=tracked.resolved_at,
        job_id=tracked.job_id,
        proposal_id=tracked.proposal_id,
        contract_id=tracked.contract_id,
        milestone_id=tracked.milestone_id,
        result=tracked.result,
    )
    outcome = None
    if tracked.status.is_terminal:
        outcome = OutcomeView(
            status=tracked.status,
            resolved_at=tracked.resolved_at,
            result=tracked.result,
            superseded_by=tracked.superseded_by,
            opentrain_status=tracked.opentrain_status,
        )
    requester = tracked.requester
    return ApprovalResponse(
        approval=approval,
        tracked=TrackedView(
            status=tracked.status,
            requester=RequesterView(kind=requester.kind, id=requester.id, note=requester.note),
            outcome=outcome,
        ),
        card=CardView(
            channel=placement.channel_id or tracked.channel_id,
            ts=placement.ts or tracked.card_ts,
            permalink=placement.permalink or tracked.card_permalink,
            error=placement.error,
            hint=CARD_HINTS.get(placement.error or ""),
        ),
    )


def error_body(
    message: str, code: str, request_id: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The error envelope as JSON-ready data (also used by the webhook receiver)."""
    envelope = ErrorResponse(error=message, code=code, request_id=request_id, details=details or {})
    return envelope.model_dump(mode="json", by_alias=True)
