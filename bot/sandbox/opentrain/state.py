"""The simulator's state: every entity, the clock, the event log, and the operations
the control API offers (`/_sim/*`), so tests can drive it in-process too.

No HTTP here. Business rules for co-signed actions live in `cosign.py`, messaging
in `messaging.py`, webhook subscriptions in `subscriptions.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain import cosign, seed
from bot.sandbox.opentrain.clock import SimClock
from bot.sandbox.opentrain.config import SimConfig
from bot.sandbox.opentrain.errors import ApiError, conflict, not_found
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.model import (
    ALL_SCOPES,
    FEATURES,
    Account,
    Approval,
    Contract,
    ContractStatus,
    Conversation,
    Delivery,
    Event,
    EventType,
    Funding,
    Invoice,
    InvoiceStatus,
    Job,
    LedgerEntry,
    LedgerType,
    Message,
    Milestone,
    MilestoneStatus,
    PaymentSource,
    PaymentType,
    Person,
    Proposal,
    ProposalStatus,
    Token,
    Webhook,
    WebhookStatus,
)
from bot.sandbox.opentrain.money import from_cents

# unconfirmed: how long a card charge stays a pending invoice (`PENDING_FUNDING`) before it
# settles. Credit-funded escrow settles at once.
CARD_SETTLEMENT = timedelta(minutes=5)

Listener = Callable[[], None]


@dataclass
class _Entities:
    accounts: dict[str, Account] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)  # by bearer string
    jobs: dict[str, Job] = field(default_factory=dict)
    proposals: dict[str, Proposal] = field(default_factory=dict)
    contracts: dict[str, Contract] = field(default_factory=dict)
    milestones: dict[str, Milestone] = field(default_factory=dict)
    approvals: dict[str, Approval] = field(default_factory=dict)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    seeded: dict[str, str] = field(default_factory=dict)  # role → id or token, for tests and docs


class SimState(_Entities):
    def __init__(
        self,
        *,
        config: SimConfig | None = None,
        public_origin: str = "http://127.0.0.1",
    ) -> None:
        super().__init__()
        self.clock = SimClock()
        self.started_config = config or SimConfig()  # what `reset` goes back to
        self.config = self.started_config
        self.public_origin = public_origin
        self._listeners: list[Listener] = []
        # Event ids keep increasing across re-seeds so a cursor a client kept from an
        # earlier scenario can never skip the new scenario's events.
        self._last_event_id = 0
        self._last_invoice_number = 1000

    # --- lifecycle -----------------------------------------------------------------

    def reset(self, scenario: str | None) -> None:
        """Forget everything (entities, clock offset) and load `scenario` ("demo", "empty")."""
        _Entities.__init__(self)
        self.clock.reset()
        self.config = self.started_config
        if scenario is not None:
            seed.load(self, scenario)
        self._notify()

    def subscribe(self, listener: Listener) -> None:
        """`listener` runs after anything a background worker may care about (events, clock)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    # --- time ------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        self.clock.advance(seconds)
        self._notify()
        return self.now()

    # --- links on the public origin -------------------------------------------------------

    def link(self, path: str) -> str:
        return f"{self.public_origin}{path}"

    # --- events -------------------------------------------------------------------------

    def emit(
        self,
        account_id: str,
        type: EventType,
        resource_id: str,
        job_id: str | None,
        data: dict[str, Any],
    ) -> Event:
        """Record an event for `/updates` and owe it to every matching ACTIVE subscription.

        Only subscriptions that exist now get it: a new subscription is never backfilled.
        """
        self._last_event_id += 1
        event = Event(self._last_event_id, account_id, type, self.now(), resource_id, job_id, data)
        self.events.append(event)
        for webhook in self.webhooks.values():
            if (
                webhook.account_id == account_id
                and webhook.status is WebhookStatus.ACTIVE
                and type in webhook.event_types
            ):
                delivery = Delivery(new_id("dlv"), webhook.id, event.id, due_at=event.created_at)
                self.deliveries[delivery.id] = delivery
        self._notify()
        return event

    def event(self, event_id: int) -> Event | None:
        # Events are appended in id order, so a bisect would do; the log is small.
        return next((e for e in self.events if e.id == event_id), None)

    # --- lookups (404 on anything missing or on another account) ----------------------------

    def account(self, account_id: str | None = None) -> Account:
        """`account_id`, or the first (primary) account when omitted."""
        if account_id is None:
            if not self.accounts:
                raise not_found("accounts", "accountId", "")
            return next(iter(self.accounts.values()))
        found = self.accounts.get(account_id)
        if found is None:
            raise not_found("accounts", "accountId", account_id)
        return found

    def token(self, secret: str) -> Token | None:
        return self.tokens.get(secret)

    def job_of(self, proposal: Proposal) -> Job:
        return self.jobs[proposal.job_id]

    def contract_of(self, milestone: Milestone) -> Contract:
        return self.contracts[milestone.contract_id]

    def owned_contract(self, account: Account, contract_id: str) -> Contract:
        contract = self.contracts.get(contract_id)
        if contract is None or contract.account_id != account.id:
            raise not_found("contracts", "contractId", contract_id)
        return contract

    def owned_milestone(self, account: Account, milestone_id: str) -> Milestone:
        milestone = self.milestones.get(milestone_id)
        if milestone is None or self.contract_of(milestone).account_id != account.id:
            raise not_found("milestones", "milestoneId", milestone_id)
        return milestone

    def owned_approval(self, account: Account, approval_id: str) -> Approval:
        approval = self.approvals.get(approval_id)
        if approval is None or approval.account_id != account.id:
            raise not_found("approvals", "approvalId", approval_id)
        return approval

    def approval(self, approval_id: str) -> Approval:
        approval = self.approvals.get(approval_id)
        if approval is None:
            raise not_found("approvals", "approvalId", approval_id)
        return approval

    def milestones_of(self, contract: Contract) -> list[Milestone]:
        return [self.milestones[mid] for mid in contract.milestone_ids]

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
        """Invoices still waiting; card charges settle lazily once their time has come."""
        now = self.now()
        waiting = []
        for invoice in self.invoices.values():
            if (
                invoice.account_id != account.id
                or invoice.status is not InvoiceStatus.PENDING_FUNDING
            ):
                continue
            if invoice.settles_at is not None and invoice.settles_at <= now:
                invoice.status = InvoiceStatus.PAID
                continue
            waiting.append(invoice)
        return waiting

    # --- building blocks (seed scenarios and tests) --------------------------------------------

    def add_account(
        self,
        *,
        account_id: str,
        owner: Person,
        claimed: bool = True,
        payment_method_on_file: bool = False,
    ) -> Account:
        account = Account(
            id=account_id,
            organization_id=f"org_{account_id.removeprefix('acct_')}",
            owner=owner,
            claimed=claimed,
            features=dict.fromkeys(FEATURES, True),
            payment_method_on_file=payment_method_on_file,
        )
        self.accounts[account.id] = account
        return account

    def top_up(self, account: Account, cents: int) -> LedgerEntry:
        """A completed credit top-up (a human paid the checkout link)."""
        account.available_cents += cents
        return self.ledger_entry(account, LedgerType.TOP_UP, cents, top_up_id=new_id("tup"))

    def add_token(
        self,
        account: Account,
        *,
        secret: str,
        label: str,
        scopes: tuple[str, ...],
        any_scopes: bool = False,
    ) -> Token:
        unknown = sorted(set(scopes) - set(ALL_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        token = Token(new_id("tok"), secret, label, scopes, account.id, self.now(), any_scopes)
        self.tokens[secret] = token
        return token

    def add_job(
        self,
        account: Account,
        *,
        job_id: str,
        title: str,
        payment_type: PaymentType,
        age: timedelta = timedelta(0),
    ) -> Job:
        job = Job(job_id, account.id, title, payment_type, self.now() - age)
        self.jobs[job.id] = job
        return job

    def add_proposal(
        self,
        job: Job,
        freelancer: Person,
        *,
        proposal_id: str | None = None,
        status: ProposalStatus = ProposalStatus.UNREVIEWED,
        bid_amount_usd: Decimal = Decimal(500),
        age: timedelta = timedelta(0),
        emit: bool = False,
        **extra: Any,
    ) -> Proposal:
        created = self.now() - age
        # unconfirmed: `bid.unit` values (the docs show "PER_LABEL" and "per_hour").
        bid_unit = "PER_HOUR" if job.payment_type is PaymentType.PAY_PER_HOUR else "FIXED"
        proposal = Proposal(
            id=proposal_id or new_id("prop"),
            job_id=job.id,
            freelancer=freelancer,
            status=status,
            created_at=created,
            updated_at=created,
            bid_amount_usd=bid_amount_usd,
            bid_unit=bid_unit,
            **extra,
        )
        self.proposals[proposal.id] = proposal
        if emit:
            self.emit(
                job.account_id,
                EventType.PROPOSAL_RECEIVED,
                proposal.id,
                job.id,
                {"proposalId": proposal.id, "jobId": job.id},
            )
        return proposal

    def add_contract(
        self,
        proposal: Proposal,
        *,
        contract_id: str | None = None,
        rate_usd: Decimal | None,
        age: timedelta = timedelta(0),
        conversation_id: str | None = None,
    ) -> Contract:
        job = self.job_of(proposal)
        created = self.now() - age
        contract = Contract(
            id=contract_id or new_id("ctr"),
            account_id=job.account_id,
            job_id=job.id,
            proposal_id=proposal.id,
            title=f"{job.title} — {proposal.freelancer.display_name}",
            status=ContractStatus.ACTIVE,
            payment_type=job.payment_type,
            rate_usd=rate_usd,
            freelancer=proposal.freelancer,
            conversation_id=conversation_id or new_id("conv"),
            created_at=created,
            updated_at=created,
            start_date=created,
        )
        self.contracts[contract.id] = contract
        proposal.status = ProposalStatus.HIRED
        proposal.contract_id = contract.id
        proposal.updated_at = created
        self.add_conversation(
            job,
            contract.conversation_id,
            bucket="job",
            proposal_id=proposal.id,
            other=proposal.freelancer,
            updated_at=created,
        )
        return contract

    def add_milestone(
        self,
        contract: Contract,
        *,
        milestone_id: str | None = None,
        name: str,
        description: str,
        amount_usd: Decimal,
        status: MilestoneStatus = MilestoneStatus.NOT_FUNDED,
        volume: Decimal | None = None,
        due_date: datetime | None = None,
        age: timedelta = timedelta(0),
    ) -> Milestone:
        milestone = Milestone(
            id=milestone_id or new_id("ms"),
            contract_id=contract.id,
            number=len(contract.milestone_ids) + 1,
            name=name,
            description=description,
            status=status,
            amount_usd=amount_usd,
            created_at=self.now() - age,
            volume=volume,
            due_date=due_date,
        )
        self.milestones[milestone.id] = milestone
        contract.milestone_ids.append(milestone.id)
        return milestone

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

    def add_conversation(
        self,
        job: Job,
        conversation_id: str,
        *,
        bucket: str,
        proposal_id: str | None,
        other: Person,
        updated_at: datetime,
    ) -> Conversation:
        owner = self.accounts[job.account_id].owner
        conversation = Conversation(
            id=conversation_id,
            account_id=job.account_id,
            bucket=bucket,
            job_id=job.id,
            proposal_id=proposal_id,
            channel_name=f"{job.title} · {other.display_name}",
            participant_ids=(owner.id, other.id),
            updated_at=updated_at,
        )
        self.conversations[conversation.id] = conversation
        return conversation

    def add_message(
        self,
        conversation: Conversation,
        sender_id: str,
        content: str,
        *,
        age: timedelta = timedelta(0),
    ) -> Message:
        created = self.now() - age
        message = Message(new_id("msg"), conversation.id, sender_id, content, created, {sender_id})
        conversation.messages.append(message)
        conversation.updated_at = max(conversation.updated_at, created)
        return message

    # --- control operations (`/_sim/*`) -------------------------------------------------

    def confirm(
        self,
        approval_id: str,
        *,
        milestone: Mapping[str, Any] | None = None,
        payment_source: str | None = None,
    ) -> Approval:
        """What the human's Confirm does; the hire's milestone may be adjusted first."""
        return cosign.confirm(self, self.approval(approval_id), milestone, payment_source)

    def decline(self, approval_id: str) -> Approval:
        return cosign.decline(self, self.approval(approval_id))

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

    def freelancer_says(self, conversation_id: str, content: str) -> Message:
        """The other participant writes; fires `message.received` for the account."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            raise not_found("conversations", "conversationId", conversation_id)
        owner = self.accounts[conversation.account_id].owner
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
