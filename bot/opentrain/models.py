"""OpenTrain's wire models for the work itself (opentrain-api.md §7–§12): approvals,
contracts and milestones, the account's jobs, proposals, the `/updates` feed, and the hire
terms we send; camelCase on the wire, snake_case here. The account's own models are in
`account.py`.

Forward compatible: unknown fields are ignored and unknown enum values parse —
approvals keep the `UNKNOWN`-with-raw pattern, every other enum-like field is a
plain string — because the served OpenAPI spec, the contract of record, may add
both at any time. Most fields are optional for the same reason: the docs' own
examples omit different keys on different pages.

Money: USD amounts are `Decimal` (the client parses JSON with
`parse_float=Decimal`, so no float ever holds one); credits stay integer cents.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.opentrain.wire import Instant, JsonValue, WireModel, json_body

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


# --- the account's jobs (`GET /jobs/mine`) ---------------------------------------


class ProposalCounts(WireModel):
    total: int = 0
    unreviewed: int = 0


class MyJob(WireModel):
    """One job the account owns, drafts included. `status` is DRAFT, OPEN, ONGOING,
    COMPLETED, ARCHIVED or PENDING_APPROVAL — kept a plain string, like every status here."""

    id: str
    title: str | None = None
    status: str | None = None
    published: bool | None = None
    accepting_applicants: bool | None = None
    created_at: Instant | None = None
    updated_at: Instant | None = None
    job_url: str | None = None
    proposal_counts: ProposalCounts | None = None


class MyJobsPage(WireModel):
    """Newest first; `next_cursor` is opaque, null on the last page."""

    jobs: list[MyJob] = Field(default_factory=list)
    next_cursor: str | None = None


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


class ProposalsPage(WireModel):
    """`GET /jobs/{id}/proposals`: compact proposals, newest first; `next_cursor` is opaque."""

    proposals: list[Proposal] = Field(default_factory=list)
    next_cursor: str | None = None


class InterviewMessage(WireModel):
    id: str | None = None
    role: str  # interviewer | candidate
    content: str = ""
    sent_at: Instant | None = None


class Interview(WireModel):
    """`GET /proposals/{id}/interview`: the AI interview's transcript (a 404 when none)."""

    proposal_id: str | None = None
    interview_id: str | None = None
    score: Decimal | None = None
    summary: str | None = None
    messages: list[InterviewMessage] = Field(default_factory=list)


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
