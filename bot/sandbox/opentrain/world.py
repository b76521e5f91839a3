"""What exists in the simulated OpenTrain: every entity, the clock, the event log, and
the lookups the API and the rules find entities with (404 on anything missing).

The lowest layer of the simulator's state: the books (`books.py`), the building
blocks (`marketplace.py`) and the control operations (`state.py`) stack on it, and
the rules (`cosign.py`, `contracts.py`, …) only ever see the layer they need, so
no rule module imports the state that calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.sandbox.opentrain.clock import SimClock
from bot.sandbox.opentrain.config import SimConfig
from bot.sandbox.opentrain.errors import not_found
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.model import (
    Account,
    Approval,
    Contract,
    Conversation,
    Delivery,
    Event,
    Invoice,
    Job,
    LedgerEntry,
    Milestone,
    Proposal,
    Token,
    Webhook,
)
from bot.sandbox.opentrain.vocabulary import EventType, WebhookStatus

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


class World(_Entities):
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

    # --- lifecycle -----------------------------------------------------------------

    def forget(self) -> None:
        """Drop every entity, the clock offset and config changes; event ids keep counting."""
        _Entities.__init__(self)
        self.clock.reset()
        self.config = self.started_config

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
