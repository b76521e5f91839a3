"""OpenTrain's vocabulary (opentrain-api.md): token scopes, account feature flags, event
types, and every status an entity moves through.

Apart from the entities (`model.py`) because the API's gates, the wire format and
the simulator's switches speak these words without touching an entity.
"""

from __future__ import annotations

from enum import StrEnum

# --- scopes, features, event types -------------------------------------------

ALL_SCOPES = (
    "jobs:read",
    "jobs:write",
    "proposals:read",
    "proposals:write",
    "messages:read",
    "messages:write",
    "payments:read",
    "payments:write",
    "team:read",
    "team:write",
    "webhooks:manage",
)
PRE_CLAIM_SCOPES = (
    "jobs:read",
    "jobs:write",
    "proposals:read",
    "messages:read",
    "payments:read",
    "team:read",
)
POST_CLAIM_SCOPES = (*PRE_CLAIM_SCOPES, "proposals:write", "messages:write", "team:write")


def effective_scopes(granted: tuple[str, ...]) -> frozenset[str]:
    """`:write` implies the matching `:read` (§2.2)."""
    implied = {
        scope.removesuffix(":write") + ":read" for scope in granted if scope.endswith(":write")
    }
    return frozenset(granted) | implied


FEATURES = (
    "public_api_job_drafting",
    "public_api_job_publishing",
    "public_api_hiring",
    "public_api_messaging_writes",
    "public_api_payments_write",
    "public_api_credits",
    "public_api_webhooks",
    "public_api_team",  # unconfirmed: the team flag's key name is not documented
)

# The capabilities probe reports features under these keys (§4; mapping derived from names).
CAPABILITY_FEATURES = {
    "draftImport": "public_api_job_drafting",
    "draftCreate": "public_api_job_drafting",
    "draftUpdate": "public_api_job_drafting",
    "draftUrlRead": "public_api_job_drafting",
    "publish": "public_api_job_publishing",
    "hiring": "public_api_hiring",
    "messagingWrites": "public_api_messaging_writes",
    "team": "public_api_team",
    "paymentsWrite": "public_api_payments_write",
    "credits": "public_api_credits",
    "webhooks": "public_api_webhooks",
}


class EventType(StrEnum):
    PROPOSAL_RECEIVED = "proposal.received"
    PROPOSAL_STATUS_CHANGED = "proposal.status_changed"
    MESSAGE_RECEIVED = "message.received"
    CONTRACT_CREATED = "contract.created"
    MILESTONE_STATUS_CHANGED = "milestone.status_changed"
    PAYMENT_PENDING = "payment.pending"
    APPROVAL_CONFIRMED = "approval.confirmed"
    CONTRACT_BUDGET_STATE_CHANGED = "contract.budget_state_changed"

    @property
    def read_scope(self) -> str:
        """The scope a token needs to see this event in `/updates` (§12)."""
        prefix = self.value.split(".", 1)[0]
        return {"proposal": "proposals:read", "message": "messages:read"}.get(
            prefix, "payments:read"
        )


# --- statuses -----------------------------------------------------------------


class ProposalStatus(StrEnum):
    UNREVIEWED = "UNREVIEWED"
    SHORTLISTED = "SHORTLISTED"
    MAYBE = "MAYBE"
    HIRED = "HIRED"
    DECLINED = "DECLINED"
    NOT_A_FIT = "NOT_A_FIT"
    RESUME_SENT = "RESUME_SENT"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class JobStatus(StrEnum):
    """A job's lifecycle as `GET /jobs/mine` reports it."""

    DRAFT = "DRAFT"
    OPEN = "OPEN"
    ONGOING = "ONGOING"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"
    PENDING_APPROVAL = "PENDING_APPROVAL"

    @property
    def published(self) -> bool:
        # derived: a draft, or a job still waiting for OpenTrain's review, is not published.
        return self not in (JobStatus.DRAFT, JobStatus.PENDING_APPROVAL)

    @property
    def accepting_applicants(self) -> bool:
        # derived: only an open job takes new proposals.
        return self is JobStatus.OPEN


class PaymentType(StrEnum):
    FIXED_PRICE = "FIXED_PRICE"
    PAY_PER_HOUR = "PAY_PER_HOUR"
    PAY_PER_LABEL = "PAY_PER_LABEL"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class MilestoneStatus(StrEnum):
    NOT_FUNDED = "NOT_FUNDED"
    ACTIVE_FUNDED = "ACTIVE_FUNDED"
    PAID = "PAID"  # unconfirmed: the docs only show the UI label "Paid"
    CANCELLED = "CANCELLED"  # unconfirmed value; excluded from contract timelines
    REFUNDED = "REFUNDED"  # unconfirmed value; escrow returned when a contract ends

    @property
    def listed(self) -> bool:
        """Refunded and cancelled milestones are left out of a contract's `milestones` (§9.1)."""
        return self not in (MilestoneStatus.CANCELLED, MilestoneStatus.REFUNDED)


class ApprovalType(StrEnum):
    PROPOSAL_HIRE = "proposal_hire"
    MILESTONE_FUND = "milestone_fund"
    MILESTONE_APPROVE = "milestone_approve"
    CONTRACT_END = "contract_end"


PENDING = "pending"
CONFIRMED = "confirmed"
DECLINED = "declined"
EXPIRED = "expired"


class PaymentSource(StrEnum):
    CARD = "card"
    CREDITS = "credits"


class InvoiceStatus(StrEnum):
    PENDING_FUNDING = "PENDING_FUNDING"
    # unconfirmed: what an employer's /payments/pending says of submitted work awaiting their
    # approval. The docs define PENDING_PAYOUT as "payout to the caller in flight"; it is the
    # nearest documented value, so the simulator shows that.
    PENDING_PAYOUT = "PENDING_PAYOUT"
    PAID = "PAID"  # unconfirmed: settled invoices never show in /payments/pending


class LedgerType(StrEnum):
    TOP_UP = "TOP_UP"
    HOLD = "HOLD"
    HOLD_RELEASE = "HOLD_RELEASE"
    CAPTURE = "CAPTURE"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"


class WebhookStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"
