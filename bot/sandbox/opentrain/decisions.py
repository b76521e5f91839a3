"""The human's side of a co-signed action (opentrain-api.md §16.3): confirming executes
the approved hire, funding, payout or ending and then resolves the approval;
declining resolves it and nothing executes.

Separate from the requests (`cosign.py`), whose conflict checks it re-runs: the
world may have moved between the request and the human's decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.sandbox.opentrain import contracts, cosign
from bot.sandbox.opentrain.errors import bad_request, conflict
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.marketplace import Marketplace
from bot.sandbox.opentrain.model import Account, Approval, Contract, HireTerms, Milestone
from bot.sandbox.opentrain.money import hire_cost, to_cents
from bot.sandbox.opentrain.validation import edited_hire_terms, json_object
from bot.sandbox.opentrain.vocabulary import (
    CONFIRMED,
    DECLINED,
    PENDING,
    ApprovalType,
    EventType,
    InvoiceStatus,
    LedgerType,
    MilestoneStatus,
    PaymentSource,
    ProposalStatus,
)


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
    cosign.resolve(state, approval, CONFIRMED)  # `approval.confirmed` comes last
    return approval


def decline(state: Marketplace, approval: Approval) -> Approval:
    """Nothing executes."""
    _ensure_pending(state, approval)
    cosign.resolve(state, approval, DECLINED)
    return approval


def _ensure_pending(state: Marketplace, approval: Approval) -> None:
    cosign.expire_if_stale(state, approval)
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
        raise cosign.payment_method_required(state)
    if chosen is PaymentSource.CREDITS and account.available_cents < cents:
        raise cosign.payment_method_required(state)
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
    cosign.ensure_fundable(contract, milestone)
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
    cosign.ensure_payable(contract, milestone)
    account = state.accounts[approval.account_id]
    milestone.status = MilestoneStatus.PAID
    contracts.work_settled(milestone)
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
        contracts.work_settled(milestone)
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
        contracts.payment_pending(state, contract, milestone, invoice)
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
