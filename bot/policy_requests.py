"""Agents' requests over a limit that an admin decides in Slack (`overLimit: ask`).

A request waits as a `PolicyRequest` with a policy card in POLICY_CHANNEL
(default DEFAULT_CHANNEL). Nothing reaches OpenTrain until an admin presses
**Allow once**: then the bot makes the stored request exactly as asked, the
normal co-sign card follows and the policy card links to it. **Refuse**, or
24 h without an answer, ends it. Each request is decided once — whichever of
Allow, Refuse and expiry comes first, on any replica — and every decision is
audited. The agent follows it with `GET /agent/v1/requests/{requestId}`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bot.agent_asks import AWAITING, AgentAsk, PolicyRequest, PolicyStatus
from bot.approver_lists import Approvers
from bot.approver_tiers import Tier
from bot.audit_log import AuditEntry
from bot.cards.policy import policy_card
from bot.clock import Clock
from bot.cosign import CoSign, CoSignOutcome
from bot.explain import NotPossible
from bot.money import usd_text
from bot.opentrain import Approval, ContractEnded, OpenTrainError
from bot.outbox import Effect, EffectKind, callback_effect, effect
from bot.policy import SpendPolicy
from bot.routing import Router
from bot.spend import TYPE_OF_APPROVAL, Breach, Quote, Spending, Usage
from bot.store import Store
from bot.store.kinds import POLICY_AWAITING, POLICY_REQUESTS
from bot.tracked_approvals import AgentStanding, Callback, Requester

log = logging.getLogger(__name__)

ASK_FOR = timedelta(hours=24)
APPROVAL_TYPE = {request_type: kind for kind, request_type in TYPE_OF_APPROVAL.items()}
DECISION_TTL = timedelta(days=30)


@dataclass(frozen=True)
class Decided:
    request: PolicyRequest
    by_this: bool  # False: it had been decided (or had expired) before


async def perform(
    cosign: CoSign, ask: AgentAsk, requester: Requester, *, just_read: Approval | None = None
) -> CoSignOutcome | ContractEnded:
    """Make the OpenTrain call `ask` names, through the one co-sign service; the approval
    remembers the ask's `callbackUrl` (an approval already tracked keeps its first one).

    `just_read`: a handed-over approval as this request already read it (see `CoSign.track`).
    """
    made = await _make(cosign, ask, requester, just_read)
    if ask.callback_url and isinstance(made, CoSignOutcome):
        callback = Callback(url=ask.callback_url, agent=requester.id)
        await cosign.keep_callback(made.approval, callback)
    return made


async def _make(
    cosign: CoSign, ask: AgentAsk, requester: Requester, just_read: Approval | None
) -> CoSignOutcome | ContractEnded:
    channel = ask.channel
    match ask.kind:
        case "hire" if ask.proposal_id and ask.terms:
            return await cosign.hire(
                ask.proposal_id, ask.terms, requester=requester, channel_id=channel
            )
        case "fund" if ask.milestone_id:
            return await cosign.fund(ask.milestone_id, requester=requester, channel_id=channel)
        case "payout" if ask.milestone_id:
            return await cosign.payout(ask.milestone_id, requester=requester, channel_id=channel)
        case "end" if ask.contract_id:
            return await cosign.end(ask.contract_id, requester=requester, channel_id=channel)
        case "track" if ask.approval_id:
            return await cosign.track(
                ask.approval_id, requester=requester, channel_id=channel, just_read=just_read
            )
    raise ValueError(f"an agent ask without its subject: {ask.kind}")  # AgentAsk prevents it


def agent_requester(
    agent: str, ask: AgentAsk, usage: Usage, quote: Quote, limit_usd: Decimal
) -> Requester:
    """The agent as requester, with its 24 h standing once this request counts (for its card)."""
    standing = AgentStanding(
        requests=usage.requests_24h + 1,
        used_usd=usage.used_24h + (quote.amount_usd or Decimal(0)),
        limit_usd=limit_usd,
    )
    return Requester(kind="agent", id=agent, note=ask.note, standing=standing)


class PolicyRequests:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        cosign: CoSign,
        spending: Spending,
        policy: SpendPolicy,
        channel: str | None,
        on_effects: Callable[[], None],
        approvers: Approvers | None = None,
        router: Router | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._cosign = cosign
        self._spending = spending
        self._policy = policy
        self._channel = channel
        self._on_effects = on_effects
        self._approvers = approvers
        self._router = router

    @property
    def can_ask(self) -> bool:
        """Whether there is a channel to ask admins in (else over-limit requests are denied)."""
        return self._channel is not None

    async def create(
        self, agent: str, ask: AgentAsk, quote: Quote, breach: Breach
    ) -> PolicyRequest:
        """Store a request and queue its policy card; nothing reaches OpenTrain."""
        now = self._clock.now()
        tier = await self._tier(ask, quote)
        request = PolicyRequest(
            request_id=f"preq_{secrets.token_hex(10)}",
            agent=agent,
            ask=ask,
            type=quote.type,
            what=quote.what,
            subject=quote.subject,
            job_id=quote.job_id,
            rule=breach.rule,
            limit_usd=breach.limit_usd,
            used_usd=breach.used_usd,
            requested_usd=breach.requested_usd,
            created_at=now,
            expires_at=now + ASK_FOR,
            channel_id=self._channel,
            deciders=tier.admins if tier else (),
            tier=tier.amounts() if tier else None,
        )
        await self._save(request)
        await self._store.put_record(POLICY_AWAITING, request.request_id, True)
        await self._queue_card(request, EffectKind.POST_MESSAGE)
        await self._audit(request, "policy_asked", f"agent:{agent}", rule=breach.rule)
        return request

    async def get(self, request_id: str) -> PolicyRequest | None:
        """The request as it stands; one past its 24 h is expired on the spot."""
        request = await self._store.get_record(POLICY_REQUESTS, request_id)
        if request is None:
            return None
        if request.expired_at(self._clock.now()):
            return (await self._expire(request)).request
        return request

    async def allow(self, request_id: str, *, by_user: str) -> Decided:
        """Make the request now, as the agent asked it; the co-sign card follows."""
        request = await self._require(request_id)
        decided = await self._decide(request, "allowed", by_user)
        if not decided.by_this:
            return decided
        request = decided.request
        async with self._spending.hold(request.agent):
            usage = await self._spending.usage(request.agent, repeating=request.subject)
            quote = Quote(
                request.type, request.requested_usd, request.job_id, request.subject, request.what
            )
            limit = self._policy.for_agent(request.agent).max_per_day_usd
            requester = agent_requester(request.agent, request.ask, usage, quote, limit)
            try:
                outcome = await perform(self._cosign, request.ask, requester)
            except OpenTrainError as exc:
                error = {"code": exc.code, "reason": exc.reason, "message": exc.message}
                request = request.evolve(error=error)
            else:
                if isinstance(outcome, ContractEnded):
                    request = request.evolve(contract_ended=True)
                else:
                    request = request.evolve(
                        approval_id=outcome.approval.approval_id,
                        card_channel=outcome.card.channel_id or outcome.approval.channel_id,
                        card_permalink=outcome.card.permalink,
                    )
        await self._save(request)
        await self._tell_decision(request, card_key="done")
        return Decided(request, by_this=True)

    async def refuse(self, request_id: str, *, by_user: str) -> Decided:
        return await self._decide(await self._require(request_id), "refused", by_user)

    async def expire_due(self) -> int:
        """Expire every request that waited 24 h (the scheduler calls this)."""
        expired = 0
        for request_id in await self._store.list_records(POLICY_AWAITING):
            request = await self.get(request_id)
            if request is None or request.status != AWAITING:
                await self._store.delete_record(POLICY_AWAITING, request_id)
                expired += int(request is not None and request.status == "expired")
        return expired

    async def _tier(self, ask: AgentAsk, quote: Quote) -> Tier | None:
        """The approver tier the request's card would have, when that tier names its admins."""
        if self._approvers is None or self._router is None:
            return None
        channel = await self._router.resolve(
            explicit=ask.channel, job_id=quote.job_id, approval_type=APPROVAL_TYPE[quote.type]
        )
        tier = (await self._approvers.placement_for(channel, quote.amount_usd)).tier
        return tier if tier is not None and tier.admins else None

    # --- deciding once ----------------------------------------------------------------
    async def _require(self, request_id: str) -> PolicyRequest:
        request = await self.get(request_id)
        if request is None:
            raise NotPossible(f"The bot knows no request {request_id[:64]}.")
        return request

    async def _expire(self, request: PolicyRequest) -> Decided:
        return await self._decide(request, "expired", None)

    async def _decide(
        self, request: PolicyRequest, wanted: PolicyStatus, by_user: str | None
    ) -> Decided:
        """Record the first decision of `request`; a later one changes nothing.

        `by_this` tells whether `wanted` is what was recorded: an admin's click
        after the 24 h records the expiry instead.
        """
        if request.status != AWAITING:
            return Decided(request, by_this=False)
        now = self._clock.now()
        status = wanted
        if request.expired_at(now):
            status, by_user = "expired", None  # too late: it expired before the click
        claimed = await self._store.claim_key(f"policy-decision:{request.request_id}", DECISION_TTL)
        if not claimed:
            current = await self._store.get_record(POLICY_REQUESTS, request.request_id)
            latest = current or request
            return Decided(latest, by_this=False)
        decided = request.evolve(status=status, decided_by=by_user, decided_at=now)
        await self._save(decided)
        await self._store.delete_record(POLICY_AWAITING, request.request_id)
        actor = f"slack:{by_user}" if by_user else "bot"
        await self._audit(decided, f"policy_{status}", actor)
        if status != "allowed":  # an allowed request is told once it has been made
            await self._tell_decision(decided, card_key=status)
        return Decided(decided, by_this=status == wanted)

    # --- storing and telling ------------------------------------------------------------------
    async def _save(self, request: PolicyRequest) -> None:
        await self._store.put_record(POLICY_REQUESTS, request.request_id, request)

    async def _queue_card(self, request: PolicyRequest, kind: EffectKind, key: str = "") -> None:
        await self._queue([self._card(request, kind, key)])

    async def _tell_decision(self, request: PolicyRequest, *, card_key: str) -> None:
        """The policy card shows the decision and the agent's `callbackUrl` hears it (one write)."""
        told = [self._card(request, EffectKind.UPDATE_MESSAGE, card_key)]
        if request.ask.callback_url:
            subject, now = f"policy:{request.request_id}", self._clock.now()
            told.append(callback_effect(subject, request.ask.callback_url, now, key=request.status))
        await self._queue(told)

    def _card(self, request: PolicyRequest, kind: EffectKind, key: str) -> Effect | None:
        if request.channel_id is None:
            return None
        subject = f"policy:{request.request_id}"
        message = policy_card(request, now=self._clock.now()).as_kwargs()
        payload = {"channel": request.channel_id, "message": message}
        if kind is EffectKind.UPDATE_MESSAGE:
            payload["post"] = f"{subject}:{EffectKind.POST_MESSAGE.value}"
        return effect(subject, kind, self._clock.now(), key=key, payload=payload)

    async def _queue(self, effects: list[Effect | None]) -> None:
        queued = [item for item in effects if item is not None]
        if queued:
            await self._store.enqueue_effects(queued)
            self._on_effects()

    async def _audit(
        self, request: PolicyRequest, action: str, actor: str, **extra: object
    ) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action=action,
                actor=actor,
                approval_id=request.approval_id,
                details={
                    "requestId": request.request_id,
                    "agent": request.agent,
                    "type": request.type,
                    "requestedUsd": usd_text(request.requested_usd),
                    **extra,
                },
            )
        )
