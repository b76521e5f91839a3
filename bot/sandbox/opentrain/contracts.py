"""Direct (not co-signed) contract writes — adding a milestone, ending an unfunded contract —
and the trainer's side of a milestone: submitting its work for the payout."""

from __future__ import annotations

from bot.sandbox.opentrain.errors import bad_request, conflict, not_found
from bot.sandbox.opentrain.marketplace import Marketplace
from bot.sandbox.opentrain.model import Contract, Invoice, Milestone
from bot.sandbox.opentrain.validation import MilestoneDraft
from bot.sandbox.opentrain.vocabulary import ContractStatus, EventType, MilestoneStatus, PaymentType


def ensure_active(contract: Contract) -> None:
    if contract.status is ContractStatus.ENDED:
        raise conflict("contract_ended", "This contract has ended")


def create_milestone(state: Marketplace, contract: Contract, draft: MilestoneDraft) -> Milestone:
    """§10.2: fixed-price contracts need `amountUsd`; hourly and per-label ones need `volume`,
    priced at the contract rate; when both are sent they must agree."""
    ensure_active(contract)
    fixed = contract.payment_type is PaymentType.FIXED_PRICE
    if fixed and draft.amount_usd is None:
        raise bad_request("amountUsd", "amountUsd is required on fixed-price contracts")
    if not fixed and draft.volume is None:
        raise bad_request("volume", "volume is required on hourly and per-label contracts")
    amount = draft.amount_usd
    if draft.volume is not None:
        if contract.rate_usd is None:
            raise conflict(
                "contract_rate_missing", "This contract has no rate to price the volume at"
            )
        priced = contract.rate_usd * draft.volume
        if amount is not None and amount != priced:
            raise bad_request("amountUsd", f"amountUsd must equal rate × volume ({priced})")
        amount = priced
    assert amount is not None
    milestone = state.add_milestone(
        contract,
        name=draft.name,
        description=draft.description,
        amount_usd=amount,
        volume=draft.volume,
        due_date=draft.due_date,
    )
    contract.updated_at = state.now()
    # derived: `milestone.status_changed` fires on "created, funded, paid, cancelled" (§12).
    milestone_changed(state, contract, milestone)
    return milestone


def end_now(state: Marketplace, contract: Contract) -> None:
    contract.status = ContractStatus.ENDED
    contract.end_date = contract.updated_at = state.now()


def milestone_changed(state: Marketplace, contract: Contract, milestone: Milestone) -> None:
    state.emit(
        contract.account_id,
        EventType.MILESTONE_STATUS_CHANGED,
        milestone.id,
        contract.job_id,
        {"milestoneId": milestone.id, "contractId": contract.id, "status": milestone.status.value},
    )


def payment_pending(
    state: Marketplace, contract: Contract, milestone: Milestone, invoice: Invoice
) -> None:
    state.emit(
        contract.account_id,
        EventType.PAYMENT_PENDING,
        invoice.id,
        contract.job_id,
        {"invoiceId": invoice.id, "milestoneId": milestone.id, "contractId": contract.id},
    )


def submit_work(state: Marketplace, milestone_id: str) -> Milestone:
    """The trainer submits a funded milestone's work: it waits for the employer's approval
    (`pendingApproval`, `needsReview`) until a payout is confirmed; fires
    `milestone.status_changed`, then `payment.pending` for its invoice."""
    milestone = state.milestones.get(milestone_id)
    if milestone is None:
        raise not_found("milestones", "milestoneId", milestone_id)
    contract = state.contract_of(milestone)
    ensure_active(contract)
    if milestone.status is MilestoneStatus.CANCELLED:
        raise conflict("milestone_cancelled", "This milestone was cancelled")
    if milestone.status is not MilestoneStatus.ACTIVE_FUNDED:
        raise conflict("milestone_not_funded", "Only an ACTIVE_FUNDED milestone takes work")
    if milestone.pending_approval:
        # unconfirmed: the reason's name (OpenTrain's docs show no trainer-side API).
        raise conflict("already_submitted", "This milestone's work already awaits approval")
    # unconfirmed: the API status of "Pending approval" (only the UI label is documented), so
    # the milestone stays ACTIVE_FUNDED and the two flags say it (opentrain-api.md §10.1).
    milestone.pending_approval = milestone.needs_review = True
    invoice = state.invoice_of(milestone)
    contract.updated_at = state.now()
    # derived: `payment.pending` is "an invoice waiting on action" (§12) — here the approval.
    milestone_changed(state, contract, milestone)
    payment_pending(state, contract, milestone, invoice)
    return milestone


def work_settled(milestone: Milestone) -> None:
    """The payout was confirmed, or the escrow refunded: nothing awaits approval any more."""
    milestone.pending_approval = milestone.needs_review = False


def funded_milestones(state: Marketplace, contract: Contract) -> list[Milestone]:
    return [m for m in state.milestones_of(contract) if m.status is MilestoneStatus.ACTIVE_FUNDED]
