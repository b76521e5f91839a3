"""OpenTrain wire models (opentrain-api.md §3–§14), camelCase on the wire, snake_case here.

Forward compatible: unknown fields are ignored and unknown enum values parse —
approvals keep the `UNKNOWN`-with-raw pattern, every other enum-like field is a
plain string — because the served OpenAPI spec, the contract of record, may add
both at any time. Most fields are optional for the same reason: the docs' own
examples omit different keys on different pages.

Money: USD amounts are `Decimal` (the client parses JSON with
`parse_float=Decimal`, so no float ever holds one); credits stay integer cents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeAlias

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

CENTS_PER_DOLLAR = Decimal(100)

# Scopes every anonymously registered agent token carries before a human claims
# the account (opentrain-api.md §2.2); anything beyond them implies a claim.
PRE_CLAIM_SCOPES = frozenset(
    {"jobs:read", "jobs:write", "proposals:read", "messages:read", "payments:read", "team:read"}
)


def _tolerant_instant(value: Any) -> Any:
    """A timestamp as OpenTrain may send it: ISO 8601 with a zone (documented), a plain date
    (`dueDate: "2026-07-15"`, which OpenTrain stores as midnight UTC, §10.2), or an ISO
    time without a zone (read as UTC)."""
    if isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.fullmatch(text):
            return f"{text}T00:00:00Z"
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return value  # let pydantic say what is wrong
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
Instant = Annotated[AwareDatetime, BeforeValidator(_tolerant_instant)]


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return value


# --- approvals (§7, §11) ----------------------------------------------------------


class ApprovalType(StrEnum):
    PROPOSAL_HIRE = "proposal_hire"
    MILESTONE_FUND = "milestone_fund"
    MILESTONE_APPROVE = "milestone_approve"
    CONTRACT_END = "contract_end"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> ApprovalType:
        return cls.UNKNOWN


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> ApprovalStatus:
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self is not ApprovalStatus.PENDING


class Approval(WireModel):
    """A pending (or resolved) co-sign request — opentrain-api.md §7.2."""

    id: str
    type: ApprovalType
    status: ApprovalStatus
    status_raw: str = ""  # the status string as OpenTrain sent it, even when unknown to us
    contract_id: str | None = None
    milestone_id: str | None = None
    job_id: str | None = None
    proposal_id: str | None = None  # the fund/approve examples omit the key entirely
    approval_url: str
    expires_at: Instant
    resolved_at: Instant | None = None
    # By type: hire {hired, contractId, jobId, freelancerUserId}; fund {invoiceId,
    # paymentIntentId}; payout {invoiceId, payoutTransactionId}; end {contractEnded}.
    result: dict[str, Any] | None = None
    created_at: Instant | None = None

    @model_validator(mode="before")
    @classmethod
    def _remember_raw_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "status" in data and not data.get("statusRaw"):
            return {**data, "statusRaw": str(data["status"])}
        return data


class ApprovalRequested(WireModel):
    """The 202 body of hire / fund / approve / (funded) contract end: nothing happened yet."""

    approval: Approval
    message: str = ""


# --- contracts and milestones (§9, §10) -------------------------------------------


class Milestone(WireModel):
    """Status values seen: NOT_FUNDED, ACTIVE_FUNDED; others (paid, cancelled…) unconfirmed."""

    id: str
    name: str | None = None
    description: str | None = None
    status: str
    amount_usd: Decimal | None = None
    volume: Decimal | None = None
    milestone_number: int | None = None
    due_date: Instant | None = None
    pending_approval: bool = False
    needs_review: bool = False
    invoice_id: str | None = None
    created_at: Instant | None = None


class Freelancer(WireModel):
    """Masked identity: first name + last initial, never an email."""

    user_id: str
    display_name: str | None = None
    country: str | None = None
    profile_path: str | None = None


class BudgetConsumed(WireModel):
    seconds: Decimal = Decimal(0)
    hours: Decimal = Decimal(0)
    labels: Decimal = Decimal(0)
    tasks: Decimal = Decimal(0)


class BudgetMilestone(WireModel):
    id: str
    name: str | None = None
    amount_usd: Decimal | None = None
    volume: Decimal | None = None
    status: str


class ContractBudget(WireModel):
    """`state` is OK (< 80 % consumed), LOW (≥ 0.8) or DEPLETED (≥ 1.0)."""

    contract_id: str
    payment_type: str | None = None
    state: str
    funded_volume: Decimal | None = None
    funded_amount_usd: Decimal | None = None
    consumed: BudgetConsumed | None = None
    consumed_volume: Decimal | None = None
    remaining_volume: Decimal | None = None
    consumed_fraction: Decimal | None = None
    active_milestone: BudgetMilestone | None = None
    last_usage_at: Instant | None = None


class Contract(WireModel):
    """`status` is active | ended; `paymentType` FIXED_PRICE | PAY_PER_HOUR | PAY_PER_LABEL.

    `jobDmConversationId` and `budget` come only from GET /contracts/{id}, not the list.
    """

    id: str
    status: str
    title: str | None = None
    job_id: str | None = None
    proposal_id: str | None = None
    payment_type: str | None = None
    rate_usd: Decimal | None = None
    estimated_total_usd: Decimal | None = None
    estimated_volume: Decimal | None = None
    has_active_milestone: bool = False
    start_date: Instant | None = None
    end_date: Instant | None = None
    created_at: Instant | None = None
    updated_at: Instant | None = None
    freelancer: Freelancer | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    job_dm_conversation_id: str | None = None
    budget: ContractBudget | None = None


class ContractEnded(WireModel):
    """The 200 body of a direct contract end (no funded milestones, no co-sign)."""

    ok: bool
    contract_id: str
    status: str


# --- proposals (§8.2) -------------------------------------------------------------


class ProposalStatus(WireModel):
    raw: str  # UNREVIEWED, SHORTLISTED, MAYBE, HIRED, DECLINED, NOT_A_FIT, RESUME_SENT
    label: str | None = None


class Bid(WireModel):
    amount_usd: Decimal | None = None
    unit: str | None = None  # casing differs between doc pages ("PER_LABEL", "per_hour")
    labeler_hourly_rate_usd: Decimal | None = None


class Candidate(WireModel):
    id: str
    profile_slug: str | None = None
    display_name: str | None = None
    first_name: str | None = None
    last_name_initial: str | None = None
    profile_title: str | None = None
    profile_photo_url: str | None = None
    country_code: str | None = None
    country: str | None = None
    talent_type: str | None = None
    highest_earnings_usd: Decimal | None = None
    review_count: int | None = None


class ProposalMetrics(WireModel):
    # Scales differ between doc pages (86 vs 8.6; 0.91 vs 87): shown as sent, never compared.
    interview_score: Decimal | None = None
    match_score: Decimal | None = None


class AiInterview(WireModel):
    score: Decimal | None = None
    summary: str | None = None
    transcript_available: bool = False


class LocationVerification(WireModel):
    status: str | None = None
    method: str | None = None
    checked_at: Instant | None = None


class IdentityVerification(WireModel):
    verified: bool = False


class Verification(WireModel):
    location: LocationVerification | None = None
    identity: IdentityVerification | None = None


class Proposal(WireModel):
    id: str
    job_id: str | None = None
    job_title: str | None = None
    created_at: Instant | None = None
    updated_at: Instant | None = None
    status: ProposalStatus | None = None
    bid: Bid | None = None
    candidate: Candidate | None = None
    metrics: ProposalMetrics | None = None
    ai_interview: AiInterview | None = None
    verification: Verification | None = None
    open_label: dict[str, Any] | None = None
    contract: dict[str, Any] | None = None  # set once hired; shape unconfirmed


# --- credits and payments (§6) ----------------------------------------------------


class LedgerEntry(WireModel):
    """`type`: TOP_UP, HOLD, HOLD_RELEASE, CAPTURE, REFUND, ADJUSTMENT; cents are signed."""

    id: str
    type: str
    amount_cents: int
    created_at: Instant | None = None
    hold_entry_id: str | None = None
    joboffer_id: str | None = None  # OpenTrain's name for the proposal id
    contract_id: str | None = None
    milestone_id: str | None = None
    top_up_id: str | None = None
    note: str | None = None


class Credits(WireModel):
    available_cents: int = 0
    reserved_cents: int = 0
    currency: str = "usd"
    recent_entries: list[LedgerEntry] = Field(default_factory=list)

    @property
    def available_usd(self) -> Decimal:
        return Decimal(self.available_cents) / CENTS_PER_DOLLAR

    @property
    def reserved_usd(self) -> Decimal:
        return Decimal(self.reserved_cents) / CENTS_PER_DOLLAR


class PaymentJob(WireModel):
    id: str
    title: str | None = None


class PaymentMilestone(WireModel):
    id: str
    name: str | None = None


class PendingPayment(WireModel):
    """`status`: PENDING_FUNDING (the employer owes) or PENDING_PAYOUT (paid to the caller)."""

    id: str  # the invoice id
    status: str
    invoice_kind: str | None = None
    viewer_role: str | None = None
    amount_usd: Decimal | None = None
    created_at: Instant | None = None
    invoice_number: int | None = None
    job: PaymentJob | None = None
    milestone: PaymentMilestone | None = None


# --- the /updates feed (§12) ------------------------------------------------------


class UpdateEvent(WireModel):
    """One account event; `data` carries ids only — re-read the resource before trusting it."""

    id: str  # numeric string, monotonically increasing
    type: str
    api_version: str | None = None
    created_at: Instant | None = None
    resource_id: str | None = None
    job_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class UpdatesPage(WireModel):
    events: list[UpdateEvent] = Field(default_factory=list)
    next_cursor: str | None = None  # echoes the request's cursor when the page is empty
    has_more: bool = False


# --- who the token is, and what the account may do (§3, §4) -----------------------


class AuthActor(WireModel):
    user_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    user_type: str | None = None


class AuthToken(WireModel):
    id: str
    label: str | None = None
    scopes: list[str] = Field(default_factory=list)
    owner_organization_id: str | None = None


class AuthAccount(WireModel):
    kind: str | None = None
    organization_id: str | None = None
    owner_user_id: str | None = None
    member_role: str | None = None
    # Not documented (§3); read when OpenTrain sends one of these names.
    claimed: bool | None = Field(
        default=None, validation_alias=AliasChoices("claimed", "isClaimed")
    )


class AuthMe(WireModel):
    actor: AuthActor
    token: AuthToken
    account: AuthAccount

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.token.scopes)

    def has_scope(self, scope: str) -> bool:
        """Whether the token grants `scope`; a `:write` scope implies the matching `:read`."""
        resource, _, action = scope.partition(":")
        return scope in self.scopes or (action == "read" and f"{resource}:write" in self.scopes)

    @property
    def claimed(self) -> bool:
        """Derived, not documented: /auth/me has no claim flag (opentrain-api.md §3).

        In order: a claim flag on the account if OpenTrain sends one; claimed
        when the token holds a scope outside the pre-claim set (only the claim
        exchange or a human minting a token in the app grants those); unclaimed
        when it holds exactly the pre-claim set (the registration token); else
        claimed when the actor has an email (a claim binds a human's email to an
        agent-registered account). The 403 `account_claim_required` on the
        write itself remains the authority.
        """
        if self.account.claimed is not None:
            return self.account.claimed
        if self.scopes - PRE_CLAIM_SCOPES:
            return True
        if self.scopes == PRE_CLAIM_SCOPES:
            return False
        return bool(self.actor.email)


class CapabilityFlags(WireModel):
    """`false` means the matching endpoints answer 403 with `details.featureKey`."""

    draft_import: bool = False
    draft_create: bool = False
    draft_update: bool = False
    draft_url_read: bool = False
    publish: bool = False
    hiring: bool = False
    messaging_writes: bool = False
    team: bool = False
    payments_write: bool = False
    credits: bool = False
    webhooks: bool = False


class Capabilities(WireModel):
    feature_key: str | None = None
    namespace: str | None = None
    rollout_mode: str | None = None
    actor_is_admin: bool = False
    capabilities: CapabilityFlags = Field(default_factory=CapabilityFlags)
    draft: dict[str, Any] | None = None
    auth_bootstrap: str | None = None
    enabled: bool = False


# --- webhooks (§13) ---------------------------------------------------------------


class Webhook(WireModel):
    """`status`: ACTIVE | DISABLED (a disabled subscription can only be deleted and recreated)."""

    id: str
    url: str
    event_types: list[str] = Field(default_factory=list)
    status: str
    created_at: Instant | None = None
    disabled_at: Instant | None = None
    disabled_reason: str | None = None


class WebhookCreated(WireModel):
    webhook: Webhook
    secret: SecretStr  # whsec_…, returned only this once
    message: str = ""


# --- messages (§14) ---------------------------------------------------------------


class Message(WireModel):
    id: str
    created_at: Instant | None = None
    updated_at: Instant | None = None
    conversation_id: str | None = None
    job_id: str | None = None
    sender_user_id: str | None = None
    is_from_viewer: bool = False
    content: str = ""
    message_type: str | None = None
    system: bool = False
    has_unread_flag: bool = False
    attachment_count: int = 0
    has_audio: bool = False
    edited_at: Instant | None = None
    reaction_count: int = 0


class LastMessage(WireModel):
    id: str
    content: str = ""
    sender_user_id: str | None = None
    is_from_viewer: bool = False
    created_at: Instant | None = None


class ConversationSummary(WireModel):
    id: str
    type: str | None = None
    bucket: str | None = None
    job_id: str | None = None
    proposal_id: str | None = None
    channel_name: str | None = None
    updated_at: Instant | None = None
    last_message: LastMessage | None = None
    unread_count: int = 0
    needs_reply_count: int = 0


class MessagesPage(WireModel):
    """GET /messages in either mode: list mode fills `conversations`, message mode `messages`.

    The message-mode array key is unconfirmed (the docs say "probably `messages`").
    """

    conversations: list[ConversationSummary] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    next_cursor: str | None = None


class MessageSent(WireModel):
    ok: bool = True
    message: Message


# --- request bodies ---------------------------------------------------------------

JsonValue: TypeAlias = (
    str | bool | int | Decimal | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)


def json_body(value: JsonValue) -> bytes:
    """Compact, deterministic JSON with `Decimal` written as its exact digits.

    `json.dumps` would need a float for a Decimal; money must not round-trip
    through one, so numbers are rendered here (450.00 → 450, 450.50 → 450.5).
    """
    return _encode(value).encode()


def _encode(value: JsonValue) -> str:
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value.normalize(), "f")
    if isinstance(value, Mapping):
        items = (f"{_encode(key)}:{_encode(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    return "[" + ",".join(_encode(item) for item in value) + "]"


class HireTerms(BaseModel):
    """The exact milestone terms a hire request sent; a retry must resend them unchanged.

    Not a wire response: the store persists it by field name, so it keeps plain
    snake_case serialisation rather than `WireModel`'s aliases.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    amount: Decimal
    due_date: date | None = None
    confirm_not_fit_override: bool = False

    def request_body(self) -> bytes:
        """The hire request body, byte for byte; stored so retries cannot drift.

        Re-sending different bytes would count as different terms and supersede
        the approval a human may be looking at (opentrain-api.md §7.3).
        """
        milestone: dict[str, JsonValue] = {
            "name": self.name,
            "description": self.description,
            "amount": self.amount,
        }
        if self.due_date is not None:
            milestone["dueDate"] = self.due_date.isoformat()
        body: dict[str, JsonValue] = {"milestone": milestone}
        if self.confirm_not_fit_override:
            body["confirmNotFitOverride"] = True
        return json_body(body)
