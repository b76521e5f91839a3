"""The simulator's state as the control API (`/_sim/*`) drives it: reset to a seed
scenario, the human's confirm/decline, account patches, minted tokens, and new
applicants and messages — so tests can drive it in-process too.

No HTTP here. The state is layered, lowest first: `world.py` (entities, clock,
events, lookups), `books.py` (credits, escrow, invoices), `marketplace.py` (the
building blocks), then this module. Business rules for co-signed actions live in
`cosign.py` and `decisions.py`, messaging in `messaging.py`, webhook subscriptions in
`subscriptions.py`, scenarios in `seed.py`; the rules this module calls take a
lower layer, so none of them imports this one back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain import budgets, contracts, decisions, messaging, seed
from bot.sandbox.opentrain.errors import ApiError, conflict, not_found
from bot.sandbox.opentrain.marketplace import Marketplace
from bot.sandbox.opentrain.model import (
    Account,
    Approval,
    Contract,
    Message,
    Milestone,
    Proposal,
    Token,
)
from bot.sandbox.opentrain.vocabulary import FEATURES, EventType, LedgerType, ProposalStatus


class SimState(Marketplace):
    # --- lifecycle -----------------------------------------------------------------

    def reset(self, scenario: str | None) -> None:
        """Forget everything (entities, clock offset) and load `scenario` ("demo", "empty")."""
        self.forget()
        if scenario is not None:
            seed.load(self, scenario)
        self._notify()

    # --- control operations (`/_sim/*`) -------------------------------------------------

    def confirm(
        self,
        approval_id: str,
        *,
        milestone: Mapping[str, Any] | None = None,
        payment_source: str | None = None,
    ) -> Approval:
        """What the human's Confirm does; the hire's milestone may be adjusted first."""
        return decisions.confirm(self, self.approval(approval_id), milestone, payment_source)

    def decline(self, approval_id: str) -> Approval:
        return decisions.decline(self, self.approval(approval_id))

    def patch_account(
        self,
        account_id: str | None = None,
        *,
        claimed: bool | None = None,
        features: Mapping[str, bool] | None = None,
        payment_method_on_file: bool | None = None,
        available_cents: int | None = None,
    ) -> Account:
        account = self.account(account_id)
        unknown = sorted(set(features or ()) - set(FEATURES))
        if unknown:
            raise ApiError(400, f"unknown features: {', '.join(unknown)}", {"field": "features"})
        if available_cents is not None and available_cents < 0:
            raise ApiError(400, "availableCents must be ≥ 0", {"field": "availableCents"})
        account.features.update(features or {})
        if claimed is not None:
            account.claimed = claimed
        if payment_method_on_file is not None:
            account.payment_method_on_file = payment_method_on_file
        if available_cents is not None:
            delta = available_cents - account.available_cents
            if delta:
                account.available_cents = available_cents
                self.ledger_entry(
                    account, LedgerType.ADJUSTMENT, delta, note="simulator adjustment"
                )
        return account

    def create_token(
        self, scopes: tuple[str, ...], label: str, account_id: str | None = None
    ) -> Token:
        # The `sim_` infix keeps generated tokens from looking like real secrets.
        secret = f"ot_pat_sim_{uuid.uuid4().hex[:12]}"
        try:
            return self.add_token(
                self.account(account_id), secret=secret, label=label, scopes=scopes, any_scopes=True
            )
        except ValueError as exc:
            raise ApiError(400, str(exc), {"field": "scopes"}) from None

    def add_demo_proposal(
        self, first_name: str, last_name: str, *, status: ProposalStatus, bid_amount_usd: Decimal
    ) -> Proposal:
        """A new applicant on the demo job; fires `proposal.received` like a real application."""
        job = self.jobs.get(seed.DEMO_JOB_ID)
        if job is None:
            raise conflict("no_demo_job", "The loaded scenario has no demo job")
        return self.add_proposal(
            job,
            seed.freelancer(first_name, last_name),
            status=status,
            bid_amount_usd=bid_amount_usd,
            emit=True,
        )

    def record_usage(self, contract_id: str, volume: Decimal) -> Contract:
        """The trainer worked `volume` more hours or labels; a new budget state fires
        `contract.budget_state_changed` (see budgets.py)."""
        budgets.record_usage(self, contract_id, volume)
        return self.contracts[contract_id]

    def submit_work(self, milestone_id: str) -> Milestone:
        """The trainer submits a funded milestone's work for approval; fires
        `milestone.status_changed` and `payment.pending` (see contracts.py)."""
        return contracts.submit_work(self, milestone_id)

    def freelancer_says(self, conversation_id: str, content: str) -> Message:
        """The other participant writes; fires `message.received` for the account. In a
        proposal thread the employer must have written first (409 otherwise)."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise not_found("conversations", "conversationId", conversation_id)
        owner = self.accounts[conversation.account_id].owner
        messaging.ensure_candidate_may_write(conversation, owner.id)
        sender = next(pid for pid in conversation.participant_ids if pid != owner.id)
        message = self.add_message(conversation, sender, content)
        self.emit(
            conversation.account_id,
            EventType.MESSAGE_RECEIVED,
            message.id,
            conversation.job_id,
            {"conversationId": conversation.id, "messageId": message.id},
        )
        return message
