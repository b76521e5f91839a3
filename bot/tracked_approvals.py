"""What the bot knows of each approval it tracks, and the rules for it: who asked, the
status it is in, how OpenTrain's answer moves it, and when to look again.

Pure data and pure functions — no I/O. Imports only OpenTrain's wire models
(a leaf package) so the tracker, the store and the cards speak one language.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.money import hire_cost
from bot.opentrain.models import Approval, ApprovalStatus, ApprovalType, HireTerms

# --- who asked, and what was asked -------------------------------------------


class AgentStanding(BaseModel):
    """An agent's spending over 24 h when it asked, this request included (shown on its card)."""

    model_config = ConfigDict(frozen=True)

    requests: int
    used_usd: Decimal
    limit_usd: Decimal | None = None


class Requester(BaseModel):
    """A Slack user or a named agent (from AGENT_TOKENS) who started a co-sign."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["slack", "agent"]
    id: str  # Slack user id, or the agent's configured name
    note: str | None = None
    standing: AgentStanding | None = None  # agents only


class Callback(BaseModel):
    """Where an agent asked to hear the outcome (`callbackUrl`), and whose token signs it."""

    model_config = ConfigDict(frozen=True)

    url: str
    agent: str  # a name in AGENT_TOKENS


class ApprovalDetails(BaseModel):
    """What the card shows beyond OpenTrain's approval object (read when the request was made)."""

    model_config = ConfigDict(frozen=True)

    job_title: str | None = None
    freelancer_name: str | None = None  # masked as OpenTrain returns it ("Ada L.")
    milestone_name: str | None = None
    contract_title: str | None = None
    amount_usd: Decimal | None = None  # hire: milestone amount; fund/payout: milestone; end: escrow


class Escalation(BaseModel):
    """Nobody acted for `waited`, so the next level was told (recorded once per level)."""

    model_config = ConfigDict(frozen=True)

    level: int  # 1: the first tier above the approval's own
    to: tuple[str, ...] = ()  # the users and groups of the tier told; empty: the admins
    over: Decimal | None = None  # the amount that tier starts at (None: the admins)
    waited: timedelta  # since the card was posted
    at: AwareDatetime


# --- tracked approvals --------------------------------------------------------


class TrackedStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"  # a newer hire request for the same proposal replaced it
    NOT_FOUND = "not_found"  # OpenTrain answers 404 for it (token changed, other account)
    ENDED = "ended"  # ended with a status we do not know (`opentrain_status` says which)

    @property
    def is_terminal(self) -> bool:
        return self is not TrackedStatus.PENDING


class TrackedApproval(BaseModel):
    """Everything the bot keeps about one approval; the store persists it as JSON."""

    model_config = ConfigDict(frozen=True)

    approval_id: str
    type: ApprovalType
    status: TrackedStatus = TrackedStatus.PENDING
    approval_url: str
    expires_at: AwareDatetime
    created_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    job_id: str | None = None
    proposal_id: str | None = None
    contract_id: str | None = None
    milestone_id: str | None = None
    result: dict[str, Any] | None = None
    details: ApprovalDetails = Field(default_factory=ApprovalDetails)
    terms: HireTerms | None = None
    requester: Requester
    channel_id: str | None = None
    card_ts: str | None = None
    card_permalink: str | None = None
    superseded_by: str | None = None
    opentrain_status: str | None = None  # OpenTrain's own word when it is not one we know
    callback: Callback | None = None  # an agent's callbackUrl: the outcome is POSTed there
    escalations: tuple[Escalation, ...] = ()  # oldest first
    next_check_at: AwareDatetime
    adopted_at: AwareDatetime
    version: int = 0

    def evolve(self, **changes: Any) -> TrackedApproval:
        return self.model_copy(update=changes)


def adopt(
    approval: Approval,
    *,
    requester: Requester,
    now: datetime,
    details: ApprovalDetails | None = None,
    terms: HireTerms | None = None,
    channel_id: str | None = None,
) -> TrackedApproval:
    """A new TrackedApproval for a freshly returned (or handed-over) OpenTrain approval."""
    tracked = TrackedApproval(
        approval_id=approval.id,
        type=approval.type,
        status=TrackedStatus.PENDING,
        approval_url=approval.approval_url,
        expires_at=approval.expires_at,
        created_at=approval.created_at,
        job_id=approval.job_id,
        proposal_id=approval.proposal_id,
        contract_id=approval.contract_id,
        milestone_id=approval.milestone_id,
        details=details or ApprovalDetails(),
        terms=terms,
        requester=requester,
        channel_id=channel_id,
        next_check_at=approval.expires_at + EXPIRY_GRACE,
        adopted_at=now,
    )
    if outcome_of(approval) is not TrackedStatus.PENDING:
        return resolve(tracked, approval)
    return tracked


KNOWN_OUTCOMES = {
    ApprovalStatus.PENDING: TrackedStatus.PENDING,
    ApprovalStatus.CONFIRMED: TrackedStatus.CONFIRMED,
    ApprovalStatus.DECLINED: TrackedStatus.DECLINED,
    ApprovalStatus.EXPIRED: TrackedStatus.EXPIRED,
}
# An approval OpenTrain still does not report as ended this long after `expiresAt`
# stops being read: it is marked ENDED with what OpenTrain last said (never poll forever).
GIVE_UP_AFTER_EXPIRY = timedelta(hours=1)


def outcome_of(approval: Approval) -> TrackedStatus:
    """Map OpenTrain's status onto ours.

    A status we do not know (a replaced hire may read `superseded`, `cancelled`…:
    opentrain-api.md §7.3) is not guessed at: it has ended when OpenTrain says it
    resolved (`resolvedAt`), and is still pending otherwise.
    """
    known = KNOWN_OUTCOMES.get(approval.status)
    if known is not None:
        return known
    return TrackedStatus.ENDED if approval.resolved_at is not None else TrackedStatus.PENDING


def overdue(approval: Approval, now: datetime) -> bool:
    """Still not ended in OpenTrain's answer, long after it should have expired."""
    return (
        outcome_of(approval) is TrackedStatus.PENDING
        and now >= approval.expires_at + GIVE_UP_AFTER_EXPIRY
    )


def resolve(tracked: TrackedApproval, approval: Approval) -> TrackedApproval:
    """The tracked approval after OpenTrain reported `approval` (terminal, or overdue)."""
    status = outcome_of(approval)
    if status is TrackedStatus.PENDING:  # overdue: we stop waiting for a word we know
        status = TrackedStatus.ENDED
    return tracked.evolve(
        status=status,
        opentrain_status=approval.status_raw if status is TrackedStatus.ENDED else None,
        resolved_at=approval.resolved_at,
        result=approval.result,
        contract_id=approval.contract_id or tracked.contract_id,
        milestone_id=approval.milestone_id or tracked.milestone_id,
        approval_url=approval.approval_url,
        expires_at=approval.expires_at,
    )


def may_be_superseded(approval: Approval) -> bool:
    """A hire that did not go through — declined, or any status we do not know — may have
    been replaced by newer terms (bot/tracker.py holds it for SUPERSEDE_GRACE)."""
    return approval.type is ApprovalType.PROPOSAL_HIRE and approval.status in (
        ApprovalStatus.DECLINED,
        ApprovalStatus.UNKNOWN,
    )


def superseded(older: TrackedApproval, newer: TrackedApproval, now: datetime) -> TrackedApproval:
    return older.evolve(
        status=TrackedStatus.SUPERSEDED, superseded_by=newer.approval_id, resolved_at=now
    )


def amount(approval: TrackedApproval) -> Decimal | None:
    """The milestone amount: the hire terms we sent win over what was read for the card."""
    if approval.type is ApprovalType.PROPOSAL_HIRE and approval.terms is not None:
        return approval.terms.amount
    return approval.details.amount_usd


def money_at_stake(approval: TrackedApproval) -> Decimal | None:
    """What would move if a human confirmed: a hire's total with fees, otherwise the amount."""
    value = amount(approval)
    if value is not None and approval.type is ApprovalType.PROPOSAL_HIRE:
        return hire_cost(value).total
    return value


# --- when to look again -------------------------------------------------------

# Just after expiry a read flips a stale pending approval to `expired` (lazy expiry).
EXPIRY_GRACE = timedelta(seconds=5)
# After expiry, if OpenTrain still says pending (clock skew), look again this often.
AFTER_EXPIRY_INTERVAL = timedelta(minutes=10)


def next_check_at(
    tracked: TrackedApproval, now: datetime, *, feed_healthy: bool, jitter: float = 0.0
) -> datetime:
    """When to read this pending approval from OpenTrain again.

    With a healthy `/updates` feed, the feed is the ledger: it reports every
    confirmation, decline and expiry-on-read, so the only direct read an
    approval needs is the one just after `expiresAt` (the read that flips it to
    `expired`). That keeps idle cost flat in the number of approvals. Without
    the feed we poll: often while the approval is fresh (humans tend to act soon
    after being asked), less as it ages. `jitter` in [0, 1) spreads replicas'
    polls so they do not arrive in bursts.
    """
    at_expiry = tracked.expires_at + EXPIRY_GRACE
    if now >= at_expiry:
        return now + AFTER_EXPIRY_INTERVAL * (1 + jitter / 2)
    if feed_healthy:
        return at_expiry
    age = now - tracked.adopted_at
    return min(at_expiry, now + poll_interval(age) * (1 + jitter / 2))


def poll_interval(age: timedelta) -> timedelta:
    """Fallback polling cadence by age: 15 s in the first 10 min, up to 10 min after a day."""
    if age < timedelta(minutes=10):
        return timedelta(seconds=15)
    if age < timedelta(hours=1):
        return timedelta(minutes=1)
    if age < timedelta(hours=24):
        return timedelta(minutes=5)
    return timedelta(minutes=10)
