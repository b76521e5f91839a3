"""Co-signed actions (opentrain-api.md §7–§10, §16): request → pending approval → the
human confirms (the action executes), declines, or lets it expire.

This module is the agent's side — the requests, their conflicts and the approval's
lifecycle; what the human's confirm or decline does is in `decisions.py`.

Every request re-checks its conflicts first, then returns the pending approval for
the same target if there is one (idempotent re-requests), else records a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.sandbox.opentrain import contracts
from bot.sandbox.opentrain.errors import ApiError, conflict
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.marketplace import Marketplace
from bot.sandbox.opentrain.model import (
    Account,
    Approval,
    Contract,
    HireTerms,
    Milestone,
    Proposal,
    Token,
)
from bot.sandbox.opentrain.money import hire_cost, to_cents
from bot.sandbox.opentrain.vocabulary import (
    EXPIRED,
    PENDING,
    ApprovalType,
    EventType,
    MilestoneStatus,
    ProposalStatus,
)

APPROVAL_TTL = timedelta(hours=72)

MESSAGES = {
    ApprovalType.PROPOSAL_HIRE: (
        "Hire request recorded. A signed-in human must confirm this approval in the OpenTrain "
        "app before the freelancer is hired and any money moves."
    ),
    ApprovalType.MILESTONE_FUND: (
        "A human must confirm this request before any money moves. Share the approvalUrl."
    ),
    ApprovalType.MILESTONE_APPROVE: (
        "A human must confirm this payout before any money moves. Share the approvalUrl."
    ),
    ApprovalType.CONTRACT_END: (
        "This contract holds funded milestones. A human must confirm ending it before any "
        "escrow is settled. Share the approvalUrl."
    ),
}


@dataclass(frozen=True)
class Requested:
    """A co-sign request's answer: `202 {approval, message}`."""

    approval: Approval

    @property
    def message(self) -> str:
        return MESSAGES[self.approval.type]


# --- lifecycle ---------------------------------------------------------------------


def expire_if_stale(state: Marketplace, approval: Approval) -> None:
    """A pending approval past `expiresAt` becomes `expired` when it is next read."""
    # derived (§16.1): lazy expiry, applied on every read path (API, page, re-request, confirm).
    if approval.status == PENDING and state.now() > approval.expires_at:
        # unconfirmed: whether a lazily expired approval fires `approval.confirmed` (a switch).
        resolve(state, approval, EXPIRED, emit=state.config.emit_event_on_lazy_expiry)


def resolve(state: Marketplace, approval: Approval, status: str, *, emit: bool = True) -> None:
    approval.status = status
    approval.resolved_at = state.now()
    if emit:
        state.emit(
            approval.account_id,
            EventType.APPROVAL_CONFIRMED,
            approval.id,
            approval.job_id,
            {"approvalId": approval.id, "status": status},
        )


def _pending(state: Marketplace, type: ApprovalType, target_id: str) -> Approval | None:
    """The live approval for (type, target), if any."""
    # derived (§16.2): the idempotency index — at most one pending approval per target.
    for approval in state.approvals.values():
        if approval.type is type and approval.status == PENDING and _target(approval) == target_id:
            expire_if_stale(state, approval)
            if approval.status == PENDING:
                return approval
    return None


def _target(approval: Approval) -> str | None:
    if approval.type is ApprovalType.PROPOSAL_HIRE:
        return approval.proposal_id
    if approval.type is ApprovalType.CONTRACT_END:
        return approval.contract_id
    return approval.milestone_id


def _record(
    state: Marketplace, token: Token, type: ApprovalType, job_id: str, **fields: Any
) -> Approval:
    approval_id = new_id("apr")
    created = state.now()
    approval = Approval(
        id=approval_id,
        account_id=token.account_id,
        token_id=token.id,
        type=type,
        status=PENDING,
        job_id=job_id,
        url=state.link(f"/approvals/{approval_id}"),
        created_at=created,
        expires_at=created + APPROVAL_TTL,
        **fields,
    )
    state.approvals[approval.id] = approval
    return approval


# --- requests (the API's 202s) ----------------------------------------------------------


def request_hire(
    state: Marketplace, token: Token, proposal: Proposal, terms: HireTerms
) -> Requested:
    account = state.accounts[token.account_id]
    _ensure_hireable(proposal, terms.confirm_not_fit_override)
    if not _can_pay(account, hire_cost(terms.amount).total_cents):
        raise payment_method_required(state)
    existing = _pending(state, ApprovalType.PROPOSAL_HIRE, proposal.id)
    if existing is not None and existing.terms == terms:
        return Requested(existing)
    approval = _record(
        state,
        token,
        ApprovalType.PROPOSAL_HIRE,
        proposal.job_id,
        proposal_id=proposal.id,
        terms=terms,
    )
    if existing is not None:
        # Different terms supersede the live request: the human only ever sees one.
        # unconfirmed: the superseded approval's final status (`supersededStatus`, default
        # "declined") and that it fires `approval.confirmed` like any terminal status.
        existing.superseded_by = approval.id
        resolve(state, existing, state.config.superseded_status)
    return Requested(approval)


def request_fund(state: Marketplace, token: Token, milestone: Milestone) -> Requested:
    contract = state.contract_of(milestone)
    ensure_fundable(contract, milestone)
    # unconfirmed: later fundings carry no marketplace fee, so credits must cover the amount.
    if not _can_pay(state.accounts[contract.account_id], to_cents(milestone.amount_usd)):
        raise payment_method_required(state)
    existing = _pending(state, ApprovalType.MILESTONE_FUND, milestone.id)
    if existing is not None:
        return Requested(existing)
    return Requested(
        _milestone_approval(state, token, ApprovalType.MILESTONE_FUND, contract, milestone)
    )


def request_payout(state: Marketplace, token: Token, milestone: Milestone) -> Requested:
    contract = state.contract_of(milestone)
    ensure_payable(contract, milestone)
    existing = _pending(state, ApprovalType.MILESTONE_APPROVE, milestone.id)
    if existing is not None:
        return Requested(existing)
    return Requested(
        _milestone_approval(state, token, ApprovalType.MILESTONE_APPROVE, contract, milestone)
    )


def request_end(state: Marketplace, token: Token, contract: Contract) -> Requested | None:
    """None when the contract ended at once (nothing funded, §9.3); else the approval."""
    contracts.ensure_active(contract)
    existing = _pending(state, ApprovalType.CONTRACT_END, contract.id)
    if existing is not None:
        return Requested(existing)
    if not contracts.funded_milestones(state, contract):
        contracts.end_now(state, contract)
        return None
    return Requested(
        _record(state, token, ApprovalType.CONTRACT_END, contract.job_id, contract_id=contract.id)
    )


def _milestone_approval(
    state: Marketplace, token: Token, type: ApprovalType, contract: Contract, milestone: Milestone
) -> Approval:
    return _record(
        state, token, type, contract.job_id, contract_id=contract.id, milestone_id=milestone.id
    )


# --- conflicts (409) -----------------------------------------------------------------------


def payment_method_required(state: Marketplace) -> ApiError:
    return conflict(
        "payment_method_required",
        "Add a card or credits that cover this amount before retrying",
        billingUrl=state.link("/settings/billing"),
    )


def _can_pay(account: Account, cents: int) -> bool:
    return account.payment_method_on_file or account.available_cents >= cents


def _ensure_hireable(proposal: Proposal, override: bool) -> None:
    if proposal.status is ProposalStatus.HIRED:
        raise conflict("already_accepted", "This proposal was already hired; read its contract")
    if proposal.status is ProposalStatus.NOT_A_FIT and not override:
        raise conflict(
            "not_fit_confirmation_required",
            'This proposal was marked "Not a fit"; resend with confirmNotFitOverride: true',
        )


def ensure_fundable(contract: Contract, milestone: Milestone) -> None:
    contracts.ensure_active(contract)
    if milestone.status is MilestoneStatus.CANCELLED:
        raise conflict("milestone_cancelled", "This milestone was cancelled")
    if milestone.status is not MilestoneStatus.NOT_FUNDED:
        raise conflict("milestone_not_fundable", "Only a NOT_FUNDED milestone can be funded")


def ensure_payable(contract: Contract, milestone: Milestone) -> None:
    contracts.ensure_active(contract)
    if milestone.status is MilestoneStatus.CANCELLED:
        raise conflict("milestone_cancelled", "This milestone was cancelled")
    if milestone.status is not MilestoneStatus.ACTIVE_FUNDED:
        raise conflict("milestone_not_funded", "Only an ACTIVE_FUNDED milestone can be paid out")
