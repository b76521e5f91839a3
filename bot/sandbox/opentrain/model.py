"""The simulator's entities (opentrain-api.md), in OpenTrain's vocabulary (`vocabulary.py`).

Plain mutable dataclasses: the simulator is single-threaded on one event loop,
and every rule runs to completion without awaiting, so no locking is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain.vocabulary import (
    PRE_CLAIM_SCOPES,
    ApprovalType,
    ContractStatus,
    EventType,
    InvoiceStatus,
    JobStatus,
    LedgerType,
    MilestoneStatus,
    PaymentSource,
    PaymentType,
    ProposalStatus,
    WebhookStatus,
    effective_scopes,
)

# --- entities -------------------------------------------------------------------


@dataclass
class Person:
    """An OpenTrain user. The API only ever shows a freelancer masked (first name + initial)."""

    id: str
    first_name: str
    last_name: str
    email: str | None = None
    country: str | None = None
    country_code: str | None = None
    profile_slug: str | None = None
    profile_title: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def last_name_initial(self) -> str:
        # unconfirmed: with or without a dot (the docs show both "G" and "R.").
        return self.last_name[:1]

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name_initial}."

    @property
    def profile_path(self) -> str:
        return f"/profile/{self.profile_slug or self.id}"


@dataclass
class Account:
    id: str
    organization_id: str
    owner: Person
    claimed: bool
    features: dict[str, bool]
    payment_method_on_file: bool
    available_cents: int = 0
    reserved_cents: int = 0
    rollout_mode: str = "ALL"

    def feature_on(self, key: str) -> bool:
        return self.features.get(key, False)


@dataclass
class Token:
    id: str
    secret: str  # the bearer string
    label: str
    scopes: tuple[str, ...]
    account_id: str
    created_at: datetime
    any_scopes: bool = False  # minted with `/_sim/tokens`: keeps its scopes before a claim

    def granted(self, account: Account) -> tuple[str, ...]:
        """The scopes the token holds now: an unclaimed account's tokens are pre-claim
        tokens (§2.2), whatever they were minted with — unless a test minted it to reach
        the claim gate itself."""
        if account.claimed or self.any_scopes:
            return self.scopes
        return tuple(scope for scope in self.scopes if scope in PRE_CLAIM_SCOPES)

    def effective_scopes(self, account: Account) -> frozenset[str]:
        return effective_scopes(self.granted(account))


@dataclass
class Job:
    id: str
    account_id: str
    title: str
    payment_type: PaymentType
    created_at: datetime
    updated_at: datetime
    status: JobStatus = JobStatus.OPEN


@dataclass
class Proposal:
    id: str
    job_id: str
    freelancer: Person
    status: ProposalStatus
    created_at: datetime
    updated_at: datetime
    bid_amount_usd: Decimal
    bid_unit: str
    labeler_hourly_rate_usd: Decimal | None = None
    interview_score: int = 80
    match_score: Decimal = Decimal("0.85")
    interview_summary: str = ""
    # (role, content) pairs; role "interviewer" or "candidate". None: no AI interview (a 404).
    interview_messages: list[tuple[str, str]] | None = None
    talent_type: str = "FREELANCER"
    highest_earnings_usd: Decimal = Decimal(0)
    review_count: int = 0
    contract_id: str | None = None


@dataclass
class Contract:
    id: str
    account_id: str
    job_id: str
    proposal_id: str
    title: str
    status: ContractStatus
    payment_type: PaymentType
    rate_usd: Decimal | None
    freelancer: Person
    conversation_id: str
    created_at: datetime
    updated_at: datetime
    start_date: datetime
    end_date: datetime | None = None
    estimated_volume: Decimal | None = None
    milestone_ids: list[str] = field(default_factory=list)
    consumed_volume: Decimal = Decimal(
        0
    )  # hours or labels worked (bot/sandbox/opentrain/budgets.py)


@dataclass
class Funding:
    """How a milestone's escrow was paid, so a payout or refund can settle the same source."""

    source: PaymentSource
    hold_cents: int  # credits held (0 for card)
    hold_entry_id: str | None


@dataclass
class Milestone:
    id: str
    contract_id: str
    number: int
    name: str
    description: str
    status: MilestoneStatus
    amount_usd: Decimal
    created_at: datetime
    volume: Decimal | None = None
    due_date: datetime | None = None
    invoice_id: str | None = None
    funding: Funding | None = None
    # The trainer submitted the work and waits for the payout (`POST /_sim/milestones/…/submit`).
    pending_approval: bool = False
    needs_review: bool = False


@dataclass(frozen=True)
class HireTerms:
    """The first milestone a hire proposes; equal terms make a repeated hire idempotent."""

    name: str
    description: str
    amount: Decimal
    due_date: date | None
    confirm_not_fit_override: bool = False


@dataclass
class Approval:
    id: str
    account_id: str
    token_id: str
    type: ApprovalType
    status: str
    job_id: str
    url: str
    created_at: datetime
    expires_at: datetime
    contract_id: str | None = None
    milestone_id: str | None = None
    proposal_id: str | None = None
    resolved_at: datetime | None = None
    result: dict[str, Any] | None = None
    terms: HireTerms | None = None  # proposal_hire only; the human may edit them on confirm
    payment_source: PaymentSource | None = None
    superseded_by: str | None = None


@dataclass
class Invoice:
    id: str
    account_id: str
    number: int
    kind: str
    status: InvoiceStatus
    amount_usd: Decimal
    created_at: datetime
    job_id: str
    milestone_id: str
    settles_at: datetime | None = None


@dataclass
class LedgerEntry:
    id: str
    account_id: str
    type: LedgerType
    amount_cents: int
    created_at: datetime
    hold_entry_id: str | None = None
    joboffer_id: str | None = None
    contract_id: str | None = None
    milestone_id: str | None = None
    top_up_id: str | None = None
    note: str | None = None


@dataclass
class Event:
    id: int
    account_id: str
    type: EventType
    created_at: datetime
    resource_id: str
    job_id: str | None
    data: dict[str, Any]


@dataclass
class Message:
    id: str
    conversation_id: str
    sender_user_id: str
    content: str
    created_at: datetime
    read_by: set[str] = field(default_factory=set)


@dataclass
class Conversation:
    id: str
    account_id: str
    bucket: str  # "job" (post-hire DM) or "proposal" (pre-hire thread)
    job_id: str
    proposal_id: str | None
    channel_name: str
    participant_ids: tuple[str, ...]
    updated_at: datetime
    read_only: bool = False
    blocked: bool = False
    messages: list[Message] = field(default_factory=list)


@dataclass
class DeliveryAttempt:
    delivery_id: str
    event_id: int
    attempt: int
    at: datetime
    status_code: int | None
    ok: bool
    error: str | None = None


@dataclass
class Delivery:
    """One event owed to one subscription; its id is reused on every retry."""

    id: str
    webhook_id: str
    event_id: int
    due_at: datetime
    attempts_made: int = 0
    in_flight: bool = False


@dataclass
class Webhook:
    id: str
    account_id: str
    url: str
    event_types: tuple[EventType, ...]
    secret: str
    created_at: datetime
    status: WebhookStatus = WebhookStatus.ACTIVE
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    consecutive_failures: int = 0
    attempts: list[DeliveryAttempt] = field(default_factory=list)
