"""The domain: what the bot knows about each approval it tracks, and the rules for it.

Pure data and pure functions — no I/O. Imports only OpenTrain's wire models
(a leaf package) so the tracker, the store and the cards speak one language.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from bot.opentrain.models import Approval, ApprovalStatus, ApprovalType, Contract, Milestone

# Re-exported: the domain speaks of hire terms too; the cost of a hire is `hire_cost(terms.amount)`.
from bot.opentrain.models import HireTerms as HireTerms

CENT = Decimal("0.01")
MARKETPLACE_FEE_RATE = Decimal("0.10")
CONTRACT_INITIATION_FEE = Decimal("9.95")


# --- money -------------------------------------------------------------------


class HireCost(NamedTuple):
    amount: Decimal
    marketplace_fee: Decimal
    initiation_fee: Decimal
    total: Decimal


def hire_cost(amount: Decimal) -> HireCost:
    """What the human confirms for a hire: amount + 10 % marketplace fee + $9.95 initiation."""
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    fee = (amount * MARKETPLACE_FEE_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
    return HireCost(amount, fee, CONTRACT_INITIATION_FEE, amount + fee + CONTRACT_INITIATION_FEE)


# What a person types for dollars: ASCII digits, commas only between thousands, cents after a dot.
# A leading minus is matched only to answer "more than $0" rather than "not an amount".
AMOUNT = re.compile(
    r"(?P<minus>-)?\$?(?P<dollars>[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]+))?"
)
# The European way to write 1.50 or 1,234.56: "1,50", "1,5", "1.234,56".
EUROPEAN_AMOUNT = re.compile(
    r"\$?(?P<dollars>[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+),(?P<cents>[0-9]{1,2})"
)


def parse_amount(text: str, maximum: Decimal) -> Decimal:
    """A USD amount as a person types it ("450", "$1,250.50"); ValueError says what is wrong.

    Accepted: an optional `$`, ASCII digits either ungrouped or with commas between groups
    of three (`1,500`), and an optional dot with one or two digits of cents. Anything else
    is refused rather than guessed at — above all a decimal comma (`1,50`), which read
    as a thousands separator would multiply money by 100. So are exponents (`1E+3` is
    how a JSON number can arrive), signs, spaces inside and other digit systems.
    """
    typed = text.strip()
    shown = typed if len(typed) <= 40 else typed[:39] + "…"  # it is quoted back
    if european := EUROPEAN_AMOUNT.fullmatch(typed):
        meant = Decimal(f"{european['dollars'].replace('.', '')}.{european['cents']}")
        raise ValueError(
            f"“{shown}” uses a comma for cents. Did you mean {meant:,.2f}? "
            "Put a dot before the cents; commas only between thousands"
        )
    match = AMOUNT.fullmatch(typed)
    if match is None:
        raise ValueError(f"“{shown}” is not an amount — type dollars like 450 or 450.50")
    if len(match["cents"] or "") > 2:
        raise ValueError("the amount can have at most two decimals (cents)")
    amount = Decimal(f"{match['dollars'].replace(',', '')}.{match['cents'] or 0}")
    if match["minus"] or amount <= 0:
        raise ValueError("the amount must be more than $0")
    if amount > maximum:
        raise ValueError(f"the amount must be at most {format_usd(maximum)}")
    return amount.quantize(CENT)


def usd_text(amount: Decimal | None) -> str | None:
    """Exact cents as a JSON-safe string ("1350.00"), for agents and the audit log."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}" if amount is not None else None


def format_usd(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def milestone_amount(milestone: Milestone, contract: Contract) -> Decimal | None:
    """A milestone's USD amount; for hourly and per-label contracts its volume × the rate."""
    if milestone.amount_usd is not None:
        return milestone.amount_usd
    if milestone.volume is not None and contract.rate_usd is not None:
        return (milestone.volume * contract.rate_usd).quantize(CENT, rounding=ROUND_HALF_UP)
    return None


VOLUME_UNITS = {"PAY_PER_HOUR": ("hour", Decimal("0.01")), "PAY_PER_LABEL": ("label", Decimal(1))}


def milestone_volume(amount: Decimal, contract: Contract) -> Decimal | None:
    """The hours or labels `amount` buys on an hourly or per-label contract, which OpenTrain
    wants as `volume` priced at the contract's rate (opentrain-api.md §10.2); None on a
    fixed-price contract or one without a rate. ValueError when `amount` is not a whole
    number of labels (or of hundredths of an hour) at that rate, naming one that is."""
    unit = VOLUME_UNITS.get(contract.payment_type or "")
    rate = contract.rate_usd
    if unit is None or not rate:
        return None
    name, step = unit
    volume = amount / rate
    whole = volume.quantize(step, rounding=ROUND_DOWN)
    if volume == whole and whole > 0:
        return whole
    nearest = max(whole, step)
    raise ValueError(
        f"At {format_usd(rate)} per {name}, {format_usd(amount)} is not a whole number of "
        f"{name}s: enter a multiple of the rate, e.g. {format_usd(nearest * rate)} for "
        f"{nearest.normalize():f} {name}{'' if nearest == 1 else 's'}"
    )


def escrow(contract: Contract) -> Decimal:
    """What a contract holds in escrow: its funded milestones."""
    funded = (m for m in contract.milestones if m.status == "ACTIVE_FUNDED")
    return sum((milestone_amount(m, contract) or Decimal(0) for m in funded), Decimal(0))


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


class ApprovalDetails(BaseModel):
    """What the card shows beyond OpenTrain's approval object (read when the request was made)."""

    model_config = ConfigDict(frozen=True)

    job_title: str | None = None
    freelancer_name: str | None = None  # masked as OpenTrain returns it ("Ada L.")
    milestone_name: str | None = None
    contract_title: str | None = None
    amount_usd: Decimal | None = None  # hire: milestone amount; fund/payout: milestone; end: escrow


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


# --- effects the outcome has on Slack (queued in the store's outbox) ------------


class EffectKind(StrEnum):
    POST_CARD = "post_card"  # first post of the card in its channel
    UPDATE_CARD = "update_card"  # re-render the card from the approval's current state
    OUTCOME_REPLY = "outcome_reply"  # one thread reply under the card when it resolves
    REQUESTER_DM = "requester_dm"  # DM the requester (expiry, or when the channel is gone)
    REMINDER_DM = "reminder_dm"  # DM one approver before expiry
    REFRESH_HOME = "refresh_home"  # re-publish the Home tab of everyone who sees the approval
    # Messages rendered when queued, carried in the payload: policy cards, replies to pasted
    # links, the digest, DMs that stand in for an ephemeral.
    POST_MESSAGE = "post_message"  # payload {channel | user, thread_ts?, message}
    UPDATE_MESSAGE = "update_message"  # payload {channel, post (its POST_MESSAGE id), message}
    UNFURL = "unfurl"  # payload {channel, ts, unfurls}: previews of links in someone's message


class Effect(BaseModel):
    """One Slack side effect, delivered at least once and recorded so it lands once.

    Its `subject` is what it is about: an approval id for approval effects, else
    `<kind>:<id>` (`policy:…`, `paste:…`, `digest:…`) for messages about something else.
    """

    model_config = ConfigDict(frozen=True)

    id: str  # deterministic, so enqueuing the same effect twice is a no-op
    # Records written before subjects existed name it `approval_id`.
    subject: str = Field(validation_alias=AliasChoices("subject", "approval_id"))
    kind: EffectKind
    due_at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    done: bool = False
    result: dict[str, Any] | None = None  # e.g. {"ts": "...", "channel": "..."} once it landed
    # Wall-clock start of the first attempt that may have posted (`Store.start_effect`).
    started_at: AwareDatetime | None = None

    @property
    def approval_id(self) -> str:
        """The subject, for the effects that are about an approval."""
        return self.subject


def effect(
    subject: str,
    kind: EffectKind,
    now: datetime,
    *,
    key: str = "",
    payload: dict[str, Any] | None = None,
) -> Effect:
    effect_id = f"{subject}:{kind.value}" + (f":{key}" if key else "")
    return Effect(id=effect_id, subject=subject, kind=kind, due_at=now, payload=payload or {})


def outcome_effects(tracked: TrackedApproval, now: datetime) -> list[Effect]:
    """What Slack must see once `tracked` reached a terminal status (enqueued by the CAS winner)."""
    status = tracked.status.value
    effects = [
        effect(tracked.approval_id, EffectKind.UPDATE_CARD, now, key=status),
        effect(tracked.approval_id, EffectKind.OUTCOME_REPLY, now, key=status),
    ]
    if tracked.status is TrackedStatus.EXPIRED and tracked.requester.kind == "slack":
        effects.append(effect(tracked.approval_id, EffectKind.REQUESTER_DM, now, key=status))
    effects.append(effect(tracked.approval_id, EffectKind.REFRESH_HOME, now, key=status))
    return effects


# --- audit ---------------------------------------------------------------------


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    action: str  # e.g. "request", "card_posted", "outcome", "reminder", "refused"
    actor: str  # "slack:U123", "agent:name", "bot"
    approval_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
