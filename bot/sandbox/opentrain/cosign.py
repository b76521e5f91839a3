"""Co-signed actions (opentrain-api.md §7–§10, §16): request → pending approval → the
human confirms (the action executes), declines, or lets it expire.

Every request re-checks its conflicts first, then returns the pending approval for
the same target if there is one (idempotent re-requests), else records a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sandbox.opentrain import contracts
from bot.sandbox.opentrain.errors import ApiError, bad_request, conflict
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.marketplace import Marketplace
from bot.sandbox.opentrain.model import (
    CONFIRMED,
    DECLINED,
    EXPIRED,
    PENDING,
    Account,
    Approval,
    ApprovalType,
    Contract,
    EventType,
    HireTerms,
    InvoiceStatus,
    LedgerType,
    Milestone,
    MilestoneStatus,
    PaymentSource,
    Proposal,
    ProposalStatus,
    Token,
)
from bot.sandbox.opentrain.money import hire_cost, to_cents
from bot.sandbox.opentrain.validation import edited_hire_terms, json_object

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
        _resolve(state, approval, EXPIRED, emit=state.config.emit_event_on_lazy_expiry)


def _resolve(state: Marketplace, approval: Approval, status: str, *, emit: bool = True) -> None:
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
        _resolve(state, existing, state.config.superseded_status)
    return Requested(approval)


def request_fund(state: Marketplace, token: Token, milestone: Milestone) -> Requested:
    contract = state.contract_of(milestone)
    _ensure_fundable(contract, milestone)
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
    _ensure_payable(contract, milestone)
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


def _ensure_fundable(contract: Contract, milestone: Milestone) -> None:
    contracts.ensure_active(contract)
    if milestone.status is MilestoneStatus.CANCELLED:
        raise conflict("milestone_cancelled", "This milestone was cancelled")
    if milestone.status is not MilestoneStatus.NOT_FUNDED:
        raise conflict("milestone_not_fundable", "Only a NOT_FUNDED milestone can be funded")


def _ensure_payable(contract: Contract, milestone: Milestone) -> None:
    contracts.ensure_active(contract)
    if milestone.status is MilestoneStatus.CANCELLED:
        raise conflict("milestone_cancelled", "This milestone was cancelled")
    if milestone.status is not MilestoneStatus.ACTIVE_FUNDED:
        raise conflict("milestone_not_funded", "Only an ACTIVE_FUNDED milestone can be paid out")


# --- the human's side -------------------------------------------------------------------------


def confirm(
    state: Marketplace,
    approval: Approval,
    edits: Mapping[str, Any] | None,
    source: str | None,
) -> Approval:
    """Execute the approved action, then resolve the approval.

    Conflicts are re-checked because the world may have moved since the request; a
    failed confirm leaves the approval pending and changes nothing.
    """
    # derived (§16.3): the effects per type; see the `_confirm_*` functions.
    _ensure_pending(state, approval)
    chosen = _payment_source(source)
    if edits is not None and approval.type is not ApprovalType.PROPOSAL_HIRE:
        raise bad_request("milestone", "Only a hire's milestone can be adjusted")
    if approval.type is ApprovalType.PROPOSAL_HIRE:
        approval.result = _confirm_hire(state, approval, edits, chosen)
    elif approval.type is ApprovalType.MILESTONE_FUND:
        approval.result = _confirm_fund(state, approval, chosen)
    elif approval.type is ApprovalType.MILESTONE_APPROVE:
        approval.result = _confirm_payout(state, approval)
    else:
        approval.result = _confirm_end(state, approval)
    _resolve(state, approval, CONFIRMED)  # `approval.confirmed` comes last
    return approval


def decline(state: Marketplace, approval: Approval) -> Approval:
    """Nothing executes."""
    _ensure_pending(state, approval)
    _resolve(state, approval, DECLINED)
    return approval


def _ensure_pending(state: Marketplace, approval: Approval) -> None:
    expire_if_stale(state, approval)
    if approval.status != PENDING:
        raise conflict(
            "approval_not_pending",
            f"This approval is {approval.status}; only a pending one can be confirmed or declined",
            status=approval.status,
        )


def _payment_source(source: str | None) -> PaymentSource | None:
    if source is None:
        return None
    try:
        return PaymentSource(source)
    except ValueError:
        raise bad_request("paymentSource", 'paymentSource must be "card" or "credits"') from None


def _charge_source(
    state: Marketplace, account: Account, cents: int, chosen: PaymentSource | None
) -> PaymentSource:
    """The human's pick, or the card when there is one, else the credit balance."""
    # unconfirmed: the default source when the human does not choose.
    if chosen is None:
        chosen = PaymentSource.CARD if account.payment_method_on_file else PaymentSource.CREDITS
    if chosen is PaymentSource.CARD and not account.payment_method_on_file:
        raise payment_method_required(state)
    if chosen is PaymentSource.CREDITS and account.available_cents < cents:
        raise payment_method_required(state)
    return chosen


def _confirm_hire(
    state: Marketplace,
    approval: Approval,
    edits: Mapping[str, Any] | None,
    chosen: PaymentSource | None,
) -> dict[str, Any]:
    assert approval.terms is not None and approval.proposal_id is not None
    # The human may adjust the milestone before confirming; the confirmed values win.
    terms = (
        approval.terms
        if edits is None
        else edited_hire_terms(approval.terms, json_object(edits, "milestone"))
    )
    proposal = state.proposals[approval.proposal_id]
    account = state.accounts[approval.account_id]
    if proposal.status is ProposalStatus.HIRED:
        raise conflict("already_accepted", "This proposal was already hired")
    cost = hire_cost(terms.amount)
    source = _charge_source(state, account, cost.total_cents, chosen)

    approval.terms = terms
    approval.payment_source = source
    # unconfirmed: the event order; `approval.confirmed` always comes last.
    contract = state.add_contract(proposal, rate_usd=proposal.bid_amount_usd)
    approval.contract_id = contract.id
    state.emit(
        account.id,
        EventType.PROPOSAL_STATUS_CHANGED,
        proposal.id,
        proposal.job_id,
        {"proposalId": proposal.id, "status": proposal.status.value},
    )
    state.emit(
        account.id,
        EventType.CONTRACT_CREATED,
        contract.id,
        contract.job_id,
        {"contractId": contract.id, "jobId": contract.job_id, "proposalId": proposal.id},
    )
    milestone = state.add_milestone(
        contract,
        name=terms.name,
        description=terms.description,
        amount_usd=terms.amount,
        due_date=_midnight(terms),
    )
    _fund(state, contract, milestone, source, cost.total_cents)
    return {
        "hired": True,
        "contractId": contract.id,
        "jobId": contract.job_id,
        "freelancerUserId": proposal.freelancer.id,
    }


def _confirm_fund(
    state: Marketplace, approval: Approval, chosen: PaymentSource | None
) -> dict[str, Any]:
    milestone, contract = _milestone_of(state, approval)
    _ensure_fundable(contract, milestone)
    account = state.accounts[approval.account_id]
    cents = to_cents(milestone.amount_usd)
    source = _charge_source(state, account, cents, chosen)
    approval.payment_source = source
    invoice_id = _fund(state, contract, milestone, source, cents)
    # unconfirmed: no card payment intent exists when credits paid, so the id is null then.
    intent = new_id("pi") if source is PaymentSource.CARD else None
    return {"invoiceId": invoice_id, "paymentIntentId": intent}


def _confirm_payout(state: Marketplace, approval: Approval) -> dict[str, Any]:
    milestone, contract = _milestone_of(state, approval)
    _ensure_payable(contract, milestone)
    account = state.accounts[approval.account_id]
    milestone.status = MilestoneStatus.PAID
    if milestone.funding is not None and milestone.funding.source is PaymentSource.CREDITS:
        state.settle_credit_hold(
            account, milestone.funding, LedgerType.CAPTURE, **_links(contract, milestone)
        )
    contract.updated_at = state.now()
    contracts.milestone_changed(state, contract, milestone)
    return {"invoiceId": milestone.invoice_id, "payoutTransactionId": new_id("po")}


def _confirm_end(state: Marketplace, approval: Approval) -> dict[str, Any]:
    assert approval.contract_id is not None
    contract = state.contracts[approval.contract_id]
    contracts.ensure_active(contract)
    account = state.accounts[approval.account_id]
    # unconfirmed: how escrow is settled is decided in-app; we refund it to the employer.
    for milestone in contracts.funded_milestones(state, contract):
        milestone.status = MilestoneStatus.REFUNDED
        if milestone.funding is not None and milestone.funding.source is PaymentSource.CREDITS:
            state.settle_credit_hold(
                account, milestone.funding, LedgerType.HOLD_RELEASE, **_links(contract, milestone)
            )
        contracts.milestone_changed(state, contract, milestone)
    contracts.end_now(state, contract)
    return {"contractEnded": True}


def _fund(
    state: Marketplace, contract: Contract, milestone: Milestone, source: PaymentSource, cents: int
) -> str:
    """Escrow the milestone for `cents` and fire the events a funding produces."""
    invoice = state.fund_milestone(milestone, source, cents)
    contract.updated_at = state.now()
    contracts.milestone_changed(state, contract, milestone)
    if invoice.status is InvoiceStatus.PENDING_FUNDING:
        state.emit(
            contract.account_id,
            EventType.PAYMENT_PENDING,
            invoice.id,
            contract.job_id,
            {"invoiceId": invoice.id, "milestoneId": milestone.id, "contractId": contract.id},
        )
    return invoice.id


def _milestone_of(state: Marketplace, approval: Approval) -> tuple[Milestone, Contract]:
    assert approval.milestone_id is not None
    milestone = state.milestones[approval.milestone_id]
    return milestone, state.contract_of(milestone)


def _links(contract: Contract, milestone: Milestone) -> dict[str, str]:
    return {
        "joboffer_id": contract.proposal_id,
        "contract_id": contract.id,
        "milestone_id": milestone.id,
    }


def _midnight(terms: HireTerms) -> datetime | None:
    if terms.due_date is None:
        return None
    return datetime(terms.due_date.year, terms.due_date.month, terms.due_date.day, tzinfo=UTC)
