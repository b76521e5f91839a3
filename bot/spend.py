"""What an agent's request would move, what the agent has already asked for, and the verdict.

The spend policy (`bot/policy.py`) is enforced here before any write reaches
OpenTrain:
- a *quote* says what a human would confirm (a hire's total with fees, a
  milestone's amount, the escrow a contract end settles) and for which job. It
  is read from OpenTrain (the proposal, the contract) — reads only — because an
  agent's own word on an amount is never trusted;
- *usage* is the agent's pending and confirmed approvals adopted in the last
  24 h and 7 days, from the store, leaving out the one this request would only
  repeat (OpenTrain answers a repeat with the same approval);
- `check` is the pure decision.
An agent's requests are decided one at a time (`hold`, a store lease across
replicas), so two concurrent requests cannot both fit under the same limit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bot.clock import Clock
from bot.logs import log_kv
from bot.money import escrow, format_usd, hire_cost, milestone_amount, usd_text
from bot.opentrain import Approval, ApprovalType, OpenTrainClient
from bot.opentrain.models import HireTerms
from bot.policy import AgentPolicy, RequestType
from bot.store import Store, StoreUnavailable
from bot.tracked_approvals import TrackedApproval, TrackedStatus, money_at_stake

log = logging.getLogger(__name__)

DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
# Counted: what a human may still confirm, or did.
COUNTED = (TrackedStatus.PENDING, TrackedStatus.CONFIRMED)
ALL = 1_000_000
# An agent's turn is a store lease renewed while its request is made (an OpenTrain call with its
# retries may take a minute): a process that dies holding it frees the agent within HOLD_TTL.
HOLD_TTL = timedelta(seconds=6)
HOLD_RENEW_SECONDS = 2.0
HOLD_WAIT_SECONDS = 30.0
HOLD_POLL_SECONDS = 0.05

TYPE_OF_APPROVAL: dict[ApprovalType, RequestType] = {
    ApprovalType.PROPOSAL_HIRE: "hire",
    ApprovalType.MILESTONE_FUND: "fund",
    ApprovalType.MILESTONE_APPROVE: "payout",
    ApprovalType.CONTRACT_END: "end",
}


class UnknownSubject(LookupError):
    """OpenTrain shows no such milestone (or contract) to the bot: nothing can be quoted."""

    def __init__(self, resource: str, key: str, value: str) -> None:
        super().__init__(f"OpenTrain has no {resource.removesuffix('s')} {value} for this account.")
        self.resource = resource
        self.key = key
        self.value = value


class Busy(RuntimeError):
    """Another request of the same agent held its turn for too long."""


@dataclass(frozen=True)
class Quote:
    """What a request would move if a human confirmed it."""

    type: RequestType
    amount_usd: Decimal | None  # None: unknown (a handed-over hire), counted as over any limit
    job_id: str | None
    subject: str  # what a repeat returns again: "fund:ms_1", "hire:prop_1", "approval:apr_1"
    what: str  # in words, for the policy card: "fund milestone Batch 2"
    approval: Approval | None = None  # a handed-over approval as just read (not read again)


@dataclass(frozen=True)
class Usage:
    requests_24h: int
    used_24h: Decimal
    used_7d: Decimal


@dataclass(frozen=True)
class Breach:
    """The first rule a request breaks, with the numbers to show for it."""

    rule: str  # the policy field: maxPerRequestUsd, maxPerDayUsd, …, allowedTypes, allowedJobs
    limit_usd: Decimal | None
    used_usd: Decimal | None
    requested_usd: Decimal | None
    askable: bool  # an admin may allow it once (amount limits); types and jobs never

    def describe(self) -> str:
        requested = _usd(self.requested_usd)
        match self.rule:
            case "allowedTypes":
                return "this kind of request is not allowed for the agent"
            case "allowedJobs":
                return "the job is not one the agent may spend on"
            case "maxPerRequestUsd" if self.requested_usd is None:
                return (
                    "the bot cannot know the amount of a hire it did not ask for, so it counts as "
                    "over the per-request limit (send hires through POST /agent/v1/hire, or set "
                    "overLimit: ask)"
                )
            case "maxPerRequestUsd":
                return f"{requested} is over its per-request limit of {_usd(self.limit_usd)}"
            case _:
                window = "24 h" if self.rule == "maxPerDayUsd" else "7 days"
                return (
                    f"{requested} on top of {_usd(self.used_usd)} in {window} is over its limit "
                    f"of {_usd(self.limit_usd)}"
                )

    def details(self) -> dict[str, object]:
        """`details` of the agent API's 403 (amounts as strings: exact cents)."""
        return {
            "reason": "policy_denied",
            "rule": self.rule,
            "limitUsd": usd_text(self.limit_usd),
            "usedUsd": usd_text(self.used_usd),
            "requestedUsd": usd_text(self.requested_usd),
        }


def check(policy: AgentPolicy, quote: Quote, usage: Usage) -> Breach | None:
    """The first rule `quote` breaks under `policy` given `usage`; None when it fits."""
    requested = quote.amount_usd
    if quote.type not in policy.allowed_types:
        return Breach("allowedTypes", None, None, requested, askable=False)
    if policy.allowed_jobs and quote.job_id not in policy.allowed_jobs:
        return Breach("allowedJobs", None, None, requested, askable=False)
    if requested is None or requested > policy.max_per_request_usd:
        return Breach("maxPerRequestUsd", policy.max_per_request_usd, None, requested, True)
    if usage.used_24h + requested > policy.max_per_day_usd:
        return Breach("maxPerDayUsd", policy.max_per_day_usd, usage.used_24h, requested, True)
    if usage.used_7d + requested > policy.max_per_week_usd:
        return Breach("maxPerWeekUsd", policy.max_per_week_usd, usage.used_7d, requested, True)
    return None


def subject_of(approval: TrackedApproval) -> str:
    """What asking again for `approval` would name (see `Quote.subject`)."""
    match approval.type:
        case ApprovalType.PROPOSAL_HIRE:
            return f"hire:{approval.proposal_id}"
        case ApprovalType.MILESTONE_FUND:
            return f"fund:{approval.milestone_id}"
        case ApprovalType.MILESTONE_APPROVE:
            return f"payout:{approval.milestone_id}"
        case ApprovalType.CONTRACT_END:
            return f"end:{approval.contract_id}"
    return f"approval:{approval.approval_id}"


class Spending:
    """Quotes from OpenTrain, usage from the store, and one decision at a time per agent."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        opentrain: OpenTrainClient,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self._opentrain = opentrain
        self._monotonic = monotonic
        self._locks: dict[str, asyncio.Lock] = {}
        self._recent: dict[str, deque[float]] = {}

    # --- requests per minute ------------------------------------------------------------
    def count_request(self, agent: str, per_minute: int) -> int | None:
        """Count one request; seconds to wait when the agent is over `per_minute`, else None.

        Counted in this process (a sliding minute): several replicas each allow the rate.
        Refused requests are not counted, so an agent that waits gets in again.
        """
        now = self._monotonic()
        recent = self._recent.setdefault(agent, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= per_minute:
            return max(1, math.ceil(recent[0] + 60 - now))
        recent.append(now)
        return None

    # --- usage ----------------------------------------------------------------------------
    async def usage(self, agent: str, *, repeating: str | None = None) -> Usage:
        """What `agent` asked for in the last 24 h and 7 days (pending or confirmed).

        `repeating` (a quote's subject) leaves out the pending approval that this
        request would be answered with again.
        """
        now = self._clock.now()
        requests, day, week = 0, Decimal(0), Decimal(0)
        for approval in await self._store.list_approvals(limit=ALL, since=now - WEEK):
            if approval.requester.kind != "agent" or approval.requester.id != agent:
                continue
            if approval.status not in COUNTED:
                continue
            if approval.status is TrackedStatus.PENDING and repeating in (
                subject_of(approval),
                f"approval:{approval.approval_id}",
            ):
                continue
            stake = money_at_stake(approval) or Decimal(0)
            week += stake
            if approval.adopted_at >= now - DAY:
                day += stake
                requests += 1
        return Usage(requests, day, week)

    # --- quotes (reads only) ----------------------------------------------------------------
    async def quote_hire(self, proposal_id: str, terms: HireTerms, *, need_job: bool) -> Quote:
        job_id = (await self._opentrain.get_proposal(proposal_id)).job_id if need_job else None
        what = f"hire on proposal {proposal_id} ({terms.name})"
        total = hire_cost(terms.amount).total
        return Quote("hire", total, job_id, f"hire:{proposal_id}", what)

    async def quote_milestone(self, kind: RequestType, milestone_id: str) -> Quote:
        """A fund or payout: the milestone's amount, found among the account's contracts."""
        for contract in await self._opentrain.list_contracts():
            for milestone in contract.milestones:
                if milestone.id == milestone_id:
                    verb = "fund milestone" if kind == "fund" else "release the payout of"
                    name = milestone.name or milestone_id
                    return Quote(
                        kind,
                        milestone_amount(milestone, contract),
                        contract.job_id,
                        f"{kind}:{milestone_id}",
                        f"{verb} {name} on {contract.title or contract.id}",
                    )
        raise UnknownSubject("milestones", "milestoneId", milestone_id)

    async def quote_end(self, contract_id: str) -> Quote:
        """A contract end settles its funded escrow (nothing, when none is funded)."""
        contract = await self._opentrain.get_contract(contract_id)
        what = f"end contract {contract.title or contract_id}"
        return Quote("end", escrow(contract), contract.job_id, f"end:{contract_id}", what)

    async def quote_approval(self, approval_id: str) -> Quote:
        """An approval the agent made itself: its type, and its amount when it can be known."""
        approval = await self._opentrain.get_approval(approval_id)
        kind = TYPE_OF_APPROVAL.get(approval.type, "hire")
        subject = f"approval:{approval_id}"
        amount: Decimal | None = None  # a hire's terms are in the agent's own call, not here
        job_id, what = approval.job_id, f"{kind} ({approval_id})"
        if kind == "end" and approval.contract_id:
            quoted = await self.quote_end(approval.contract_id)
            amount, job_id, what = quoted.amount_usd, quoted.job_id, quoted.what
        elif kind in ("fund", "payout") and approval.milestone_id:
            quoted = await self.quote_milestone(kind, approval.milestone_id)
            amount, job_id, what = quoted.amount_usd, quoted.job_id, quoted.what
        return Quote(kind, amount, job_id, subject, what, approval)

    # --- one decision at a time per agent ------------------------------------------------------
    @asynccontextmanager
    async def hold(self, agent: str) -> AsyncIterator[None]:
        """The agent's turn: no other request of it is decided and made meanwhile (any replica)."""
        lock = self._locks.setdefault(agent, asyncio.Lock())
        async with lock:
            name, owner = f"agent-spend:{agent}", uuid.uuid4().hex
            deadline = self._monotonic() + HOLD_WAIT_SECONDS
            while not await self._store.acquire_lease(name, owner, HOLD_TTL):
                if self._monotonic() > deadline:
                    raise Busy(f"agent {agent} has another request in progress")
                await asyncio.sleep(HOLD_POLL_SECONDS)  # another replica holds it
            renewing = asyncio.create_task(self._renew(name, owner))
            try:
                yield
            finally:
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
                await self._store.release_lease(name, owner)

    async def _renew(self, name: str, owner: str) -> None:
        while True:
            await asyncio.sleep(HOLD_RENEW_SECONDS)
            try:
                await self._store.acquire_lease(name, owner, HOLD_TTL)
            except StoreUnavailable:
                log.warning("agent turn not renewed: store unavailable %s", log_kv(lease=name))


def _usd(value: Decimal | None) -> str:
    return format_usd(value) if value is not None else "—"
