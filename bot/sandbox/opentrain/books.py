"""The simulated OpenTrain's books: credit balances and their ledger, escrow holds,
and the invoices a funding produces (card charges settle a while later).

A layer over `world.py`, so seed scenarios, co-signed actions and the control API
move money the same way.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.model import Account, Funding, Invoice, LedgerEntry, Milestone
from bot.sandbox.opentrain.money import from_cents
from bot.sandbox.opentrain.vocabulary import (
    InvoiceStatus,
    LedgerType,
    MilestoneStatus,
    PaymentSource,
)
from bot.sandbox.opentrain.world import World

# unconfirmed: how long a card charge stays a pending invoice (`PENDING_FUNDING`) before it
# settles. Credit-funded escrow settles at once.
CARD_SETTLEMENT = timedelta(minutes=5)


class Books(World):
    # Invoice numbers keep increasing across re-seeds, like event ids.
    _last_invoice_number = 1000

    # --- credits and invoices -----------------------------------------------------------

    def ledger_entry(
        self, account: Account, type: LedgerType, amount_cents: int, **links: Any
    ) -> LedgerEntry:
        entry = LedgerEntry(new_id("led"), account.id, type, amount_cents, self.now(), **links)
        self.ledger.append(entry)
        return entry

    def hold_credits(self, account: Account, cents: int, **links: Any) -> Funding:
        account.available_cents -= cents
        account.reserved_cents += cents
        entry = self.ledger_entry(account, LedgerType.HOLD, -cents, **links)
        return Funding(PaymentSource.CREDITS, cents, entry.id)

    def settle_credit_hold(
        self, account: Account, funding: Funding, type: LedgerType, **links: Any
    ) -> None:
        """Capture (payout) or release (refund) the credits a milestone's escrow holds."""
        account.reserved_cents -= funding.hold_cents
        if type is LedgerType.HOLD_RELEASE:
            account.available_cents += funding.hold_cents
            amount = funding.hold_cents
        else:
            # unconfirmed sign: a capture does not touch `availableCents`; we record it as a
            # draw (negative) because the money leaves the account.
            amount = -funding.hold_cents
        self.ledger_entry(account, type, amount, hold_entry_id=funding.hold_entry_id, **links)

    def create_invoice(
        self, account: Account, milestone: Milestone, amount: Decimal, source: PaymentSource
    ) -> Invoice:
        contract = self.contract_of(milestone)
        self._last_invoice_number += 1
        card = source is PaymentSource.CARD
        invoice = Invoice(
            id=new_id("inv"),
            account_id=account.id,
            number=self._last_invoice_number,
            kind="FUNDING",
            status=InvoiceStatus.PENDING_FUNDING if card else InvoiceStatus.PAID,
            amount_usd=amount,
            created_at=self.now(),
            job_id=contract.job_id,
            milestone_id=milestone.id,
            settles_at=self.now() + CARD_SETTLEMENT if card else None,
        )
        self.invoices[invoice.id] = invoice
        return invoice

    def pending_invoices(self, account: Account) -> list[Invoice]:
        """Invoices still waiting: card charges not yet settled (they settle lazily once their
        time has come), and those of submitted work until its payout is confirmed."""
        now = self.now()
        waiting = []
        for invoice in self.invoices.values():
            if invoice.account_id != account.id:
                continue
            if self._awaits_payout(invoice):
                waiting.append(invoice)
                continue
            if invoice.status is not InvoiceStatus.PENDING_FUNDING:
                continue
            if invoice.settles_at is not None and invoice.settles_at <= now:
                invoice.status = InvoiceStatus.PAID
                continue
            waiting.append(invoice)
        return waiting

    def payment_status(self, invoice: Invoice) -> InvoiceStatus:
        """What `/payments/pending` says of the invoice."""
        return InvoiceStatus.PENDING_PAYOUT if self._awaits_payout(invoice) else invoice.status

    def _awaits_payout(self, invoice: Invoice) -> bool:
        milestone = self.milestones.get(invoice.milestone_id)
        return (
            milestone is not None
            and milestone.pending_approval
            and milestone.status is MilestoneStatus.ACTIVE_FUNDED
            and milestone.invoice_id == invoice.id
        )

    def invoice_of(self, milestone: Milestone) -> Invoice:
        """The milestone's invoice; escrow funded outside the books (a test may set a milestone
        ACTIVE_FUNDED directly) gets one now, already settled, as credit-funded escrow is."""
        if milestone.invoice_id is not None and milestone.invoice_id in self.invoices:
            return self.invoices[milestone.invoice_id]
        account = self.accounts[self.contract_of(milestone).account_id]
        invoice = self.create_invoice(
            account, milestone, milestone.amount_usd, PaymentSource.CREDITS
        )
        milestone.invoice_id = invoice.id
        return invoice

    def top_up(self, account: Account, cents: int) -> LedgerEntry:
        """A completed credit top-up (a human paid the checkout link)."""
        account.available_cents += cents
        return self.ledger_entry(account, LedgerType.TOP_UP, cents, top_up_id=new_id("tup"))

    def fund_milestone(
        self, milestone: Milestone, source: PaymentSource, charged_cents: int
    ) -> Invoice:
        """Put a milestone into escrow, charging `charged_cents` (fees included) to `source`."""
        contract = self.contract_of(milestone)
        account = self.accounts[contract.account_id]
        if source is PaymentSource.CREDITS:
            milestone.funding = self.hold_credits(
                account,
                charged_cents,
                joboffer_id=contract.proposal_id,
                contract_id=contract.id,
                milestone_id=milestone.id,
            )
        else:
            milestone.funding = Funding(PaymentSource.CARD, 0, None)
        invoice = self.create_invoice(account, milestone, from_cents(charged_cents), source)
        milestone.status = MilestoneStatus.ACTIVE_FUNDED
        milestone.invoice_id = invoice.id
        return invoice
