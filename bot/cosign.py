"""Starting co-sign requests: one service behind every door.

Slash commands, buttons, the agent API and pasted links all land here.

Each request makes the OpenTrain call with the bot's token, reads what the card
needs to show (best effort — a missing detail never blocks a request), hands
the pending approval to the tracker, and waits briefly for its card so the
caller can say where it landed. Validation and OpenTrain's errors are therefore
identical whichever door was used.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from bot.audit_log import AuditEntry
from bot.channels import Channels
from bot.clock import Clock
from bot.explain import NotPossible
from bot.logs import log_kv
from bot.money import escrow, milestone_amount
from bot.notifier import Notifier
from bot.opentrain import (
    Approval,
    ApprovalRequested,
    ApprovalType,
    Conflict,
    Contract,
    ContractEnded,
    OpenTrainClient,
    OpenTrainError,
)
from bot.opentrain.models import HireTerms
from bot.outbox import EffectKind, callback_effect
from bot.routing import Router
from bot.store import Store
from bot.store.kinds import HIRE_DRAFTS, HireDraftRecord
from bot.store.retention import forget_stale
from bot.tracked_approvals import ApprovalDetails, Callback, Requester, TrackedApproval
from bot.tracker import Tracker, requester_actor

log = logging.getLogger(__name__)

T = TypeVar("T")

CARD_WAIT_SECONDS = 5.0
KEEP_CALLBACK_ATTEMPTS = 10


class ChannelRefused(NotPossible):
    """The request names a channel no card can be posted in; nothing was asked of OpenTrain."""

    def __init__(self, problem: str, error: str) -> None:
        super().__init__(problem)
        self.error = error


@dataclass(frozen=True)
class CardPlacement:
    channel_id: str | None
    ts: str | None
    permalink: str | None = None
    error: str | None = None  # why the card could not be posted (e.g. not_in_channel)


@dataclass(frozen=True)
class CoSignOutcome:
    approval: TrackedApproval
    created: bool  # False: this approval was already tracked (same card)
    card: CardPlacement


@dataclass(frozen=True)
class HireDraft:
    """Terms of a hire that OpenTrain refused, kept so a button can resend them unchanged."""

    draft_id: str
    proposal_id: str
    terms: HireTerms
    channel_id: str | None


class CoSign:
    def __init__(
        self,
        *,
        opentrain: OpenTrainClient,
        tracker: Tracker,
        notifier: Notifier,
        store: Store,
        router: Router,
        channels: Channels,
        clock: Clock,
    ) -> None:
        self._opentrain = opentrain
        self._channels = channels
        self._tracker = tracker
        self._notifier = notifier
        self._store = store
        self._router = router
        self._clock = clock

    # --- the four co-signed actions ------------------------------------------
    async def hire(
        self, proposal_id: str, terms: HireTerms, *, requester: Requester, channel_id: str | None
    ) -> CoSignOutcome:
        await self.require_channel(channel_id)
        requested = await self._asked(
            requester,
            "hire",
            self._opentrain.hire(proposal_id, terms),
            proposal_id=proposal_id,
            terms=terms.model_dump(mode="json"),
        )
        details = await self._hire_details(requested.approval, terms)
        return await self._adopt(requested.approval, requester, channel_id, details, terms)

    async def fund(
        self, milestone_id: str, *, requester: Requester, channel_id: str | None
    ) -> CoSignOutcome:
        await self.require_channel(channel_id)
        requested = await self._asked(
            requester,
            "fund",
            self._milestone_request(self._opentrain.fund_milestone(milestone_id), milestone_id),
            milestone_id=milestone_id,
        )
        return await self._adopt_with_contract(requested, requester, channel_id)

    async def payout(
        self, milestone_id: str, *, requester: Requester, channel_id: str | None
    ) -> CoSignOutcome:
        await self.require_channel(channel_id)
        requested = await self._asked(
            requester,
            "payout",
            self._milestone_request(self._opentrain.approve_milestone(milestone_id), milestone_id),
            milestone_id=milestone_id,
        )
        return await self._adopt_with_contract(requested, requester, channel_id)

    async def end(
        self, contract_id: str, *, requester: Requester, channel_id: str | None
    ) -> CoSignOutcome | ContractEnded:
        """A contract without funded milestones ends at once (no card); otherwise a co-sign."""
        await self.require_channel(channel_id)
        result = await self._asked(
            requester, "end", self._opentrain.end_contract(contract_id), contract_id=contract_id
        )
        if isinstance(result, ContractEnded):
            return result
        return await self._adopt_with_contract(result, requester, channel_id)

    async def track(
        self,
        approval_id: str,
        *,
        requester: Requester,
        channel_id: str | None,
        just_read: Approval | None = None,
    ) -> CoSignOutcome:
        """Adopt an approval created elsewhere; always read from OpenTrain by id.

        `just_read`: the approval as this request already read it by id (the agent
        spend policy's quote), so it is not read twice.
        """
        await self.require_channel(channel_id)
        read = self._opentrain.get_approval(approval_id) if just_read is None else _now(just_read)
        approval = await self._asked(requester, "track", read, approval_id=approval_id)
        if approval.type is ApprovalType.PROPOSAL_HIRE:
            details = await self._hire_details(approval, None)
        else:
            details = await self._contract_details(approval)
        return await self._adopt(approval, requester, channel_id, details, None)

    async def request_again(self, approval_id: str, *, requester: Requester) -> CoSignOutcome:
        """Re-send a declined or expired request with exactly the same terms."""
        old = await self._store.get_approval(approval_id)
        if old is None:
            raise NotPossible(f"Approval {approval_id} is not tracked by this bot.")
        match old.type:
            case ApprovalType.PROPOSAL_HIRE if old.terms is not None and old.proposal_id:
                return await self.hire(
                    old.proposal_id, old.terms, requester=requester, channel_id=old.channel_id
                )
            case ApprovalType.MILESTONE_FUND if old.milestone_id:
                return await self.fund(
                    old.milestone_id, requester=requester, channel_id=old.channel_id
                )
            case ApprovalType.MILESTONE_APPROVE if old.milestone_id:
                return await self.payout(
                    old.milestone_id, requester=requester, channel_id=old.channel_id
                )
            case ApprovalType.CONTRACT_END if old.contract_id:
                outcome = await self.end(
                    old.contract_id, requester=requester, channel_id=old.channel_id
                )
                if isinstance(outcome, CoSignOutcome):
                    return outcome
                raise NotPossible("The contract ended directly; there is nothing left to approve.")
        raise NotPossible("This request cannot be repeated: its original terms are unknown.")

    async def existing_contract(self, proposal_id: str) -> Contract | None:
        """The contract of an already hired proposal (OpenTrain: read `/contracts?jobId=…`)."""
        proposal = await self._opentrain.get_proposal(proposal_id)
        contracts = await self._opentrain.list_contracts(job_id=proposal.job_id)
        return next((c for c in contracts if c.proposal_id == proposal_id), None)

    # --- drafts of refused hires ------------------------------------------------
    async def save_draft(
        self, proposal_id: str, terms: HireTerms, channel_id: str | None
    ) -> HireDraft:
        now = self._clock.now()
        await forget_stale(self._store, now, kinds=(HIRE_DRAFTS,))
        draft = HireDraft(secrets.token_hex(8), proposal_id, terms, channel_id)
        record = HireDraftRecord(
            proposal_id=proposal_id, terms=terms, channel_id=channel_id, saved_at=now
        )
        await self._store.put_record(HIRE_DRAFTS, draft.draft_id, record)
        return draft

    async def load_draft(self, draft_id: str) -> HireDraft | None:
        record = await self._store.get_record(HIRE_DRAFTS, draft_id)
        if record is None or HIRE_DRAFTS.retention.too_old(record, self._clock.now()):
            return None
        return HireDraft(draft_id, record.proposal_id, record.terms, record.channel_id)

    # --- shared steps -------------------------------------------------------------
    async def _adopt_with_contract(
        self, requested: ApprovalRequested, requester: Requester, channel_id: str | None
    ) -> CoSignOutcome:
        details = await self._contract_details(requested.approval)
        return await self._adopt(requested.approval, requester, channel_id, details, None)

    async def _adopt(
        self,
        approval: Approval,
        requester: Requester,
        channel_id: str | None,
        details: ApprovalDetails,
        terms: HireTerms | None,
    ) -> CoSignOutcome:
        channel = await self._router.resolve(
            explicit=channel_id, job_id=approval.job_id, approval_type=approval.type
        )
        adopted = await self._tracker.adopt(
            approval, requester=requester, channel_id=channel, details=details, terms=terms
        )
        placement = await self.card_placement(adopted.approval.approval_id, wait=True)
        tracked = await self._store.get_approval(approval.id) or adopted.approval
        return CoSignOutcome(tracked, adopted.created, placement)

    async def keep_callback(self, tracked: TrackedApproval, callback: Callback) -> None:
        """Remember an agent's `callbackUrl` on `tracked`, unless it has one already (the first
        stays). An approval that has already ended has it queued at once, in the same write."""
        for _ in range(KEEP_CALLBACK_ATTEMPTS):
            if tracked.callback is not None:
                return
            updated = tracked.evolve(callback=callback)
            if not tracked.status.is_terminal:
                if await self._store.update_approval(updated) is not None:
                    return  # its outcome's write queues the callback with the rest
            else:
                now, status = self._clock.now(), tracked.status
                told = callback_effect(tracked.approval_id, callback.url, now, key=status.value)
                if await self._store.transition(tracked.approval_id, status, updated, [told]):
                    return  # the outbox's next periodic drain delivers it
            current = await self._store.get_approval(tracked.approval_id)
            if current is None:
                return
            tracked = current
        raise RuntimeError(f"could not keep the callback of {tracked.approval_id}")

    async def require_channel(self, channel_id: str | None) -> None:
        """Refuse up front a channel no card can be posted in; join a public one (channels.py).

        Only a channel the request names: routes were checked when they were set, and
        DEFAULT_CHANNEL by `doctor`. DMs (a command in a DM with the bot) need nothing.
        """
        if channel_id is None or not channel_id.startswith(("C", "G")):
            return
        check = await self._channels.prepare(channel_id)
        if not check.usable:
            raise ChannelRefused(
                f"No request was made: {check.problem}", check.error or "channel_not_found"
            )

    async def card_placement(self, approval_id: str, *, wait: bool) -> CardPlacement:
        effect_id = f"{approval_id}:{EffectKind.POST_CARD.value}"
        if wait:
            stored = await self._notifier.wait_landed(effect_id, CARD_WAIT_SECONDS)
        else:
            stored = await self._store.get_effect(effect_id)
        result = (stored.result if stored else None) or {}
        return CardPlacement(
            channel_id=result.get("channel"),
            ts=result.get("ts"),
            permalink=result.get("permalink"),
            error=result.get("error"),
        )

    async def _hire_details(self, approval: Approval, terms: HireTerms | None) -> ApprovalDetails:
        freelancer = job_title = None
        if approval.proposal_id:
            try:
                proposal = await self._opentrain.get_proposal(approval.proposal_id)
                freelancer = proposal.candidate.display_name if proposal.candidate else None
                job_title = proposal.job_title
            except OpenTrainError as exc:
                log.info("proposal details unavailable %s", log_kv(error=exc.code))
        return ApprovalDetails(
            job_title=job_title,
            freelancer_name=freelancer,
            milestone_name=terms.name if terms else None,
            amount_usd=terms.amount if terms else None,
        )

    async def _contract_details(self, approval: Approval) -> ApprovalDetails:
        if not approval.contract_id:
            return ApprovalDetails()
        try:
            contract = await self._opentrain.get_contract(approval.contract_id)
        except OpenTrainError as exc:
            log.info("contract details unavailable %s", log_kv(error=exc.code))
            return ApprovalDetails()
        return contract_details(contract, approval)

    async def _milestone_request(
        self, call: Awaitable[ApprovalRequested], milestone_id: str
    ) -> ApprovalRequested:
        """A fund or payout; a refusal for the milestone's state says what that state is."""
        try:
            return await call
        except Conflict as exc:
            if exc.reason in ("milestone_not_funded", "milestone_not_fundable"):
                await self._note_milestone_state(exc, milestone_id)
            raise

    async def _note_milestone_state(self, error: Conflict, milestone_id: str) -> None:
        """Add `milestoneId` / `milestoneStatus` to `error` (OpenTrain has no milestone read)."""
        try:
            contracts = await self._opentrain.list_contracts()
        except OpenTrainError:
            return
        for milestone in (m for c in contracts for m in c.milestones):
            if milestone.id == milestone_id:
                error.details.update(milestoneId=milestone_id, milestoneStatus=milestone.status)
                return

    async def _asked(
        self, requester: Requester, kind: str, call: Awaitable[T], **what: object
    ) -> T:
        """Make one OpenTrain call and audit it: "request" (with the approval id) or "refused"."""
        details: dict[str, object] = {"kind": kind, **what}
        if requester.note:
            details["note"] = requester.note
        try:
            result = await call
        except OpenTrainError as exc:
            refusal = {"code": exc.code, "reason": exc.reason, "requestId": exc.request_id}
            await self._audit(requester, "refused", None, {**details, **refusal})
            raise
        approval_id: str | None = None
        if isinstance(result, ApprovalRequested):
            approval_id = result.approval.id
        elif isinstance(result, Approval):
            approval_id = result.id
        action = "contract_ended" if isinstance(result, ContractEnded) else "request"
        await self._audit(requester, action, approval_id, details)
        return result

    async def _audit(
        self,
        requester: Requester,
        action: str,
        approval_id: str | None,
        details: dict[str, object],
    ) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action=action,
                actor=requester_actor(requester),
                approval_id=approval_id,
                details=details,
            )
        )


def contract_details(contract: Contract, approval: Approval) -> ApprovalDetails:
    """What a fund/payout/end card shows, from the contract OpenTrain returned."""
    freelancer = contract.freelancer.display_name if contract.freelancer else None
    if approval.type is ApprovalType.CONTRACT_END:
        return ApprovalDetails(
            contract_title=contract.title, freelancer_name=freelancer, amount_usd=escrow(contract)
        )
    milestone = next((m for m in contract.milestones if m.id == approval.milestone_id), None)
    return ApprovalDetails(
        contract_title=contract.title,
        freelancer_name=freelancer,
        milestone_name=milestone.name if milestone else None,
        amount_usd=milestone_amount(milestone, contract) if milestone else None,
    )


async def _now(value: T) -> T:
    return value
