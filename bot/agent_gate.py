"""Every agent request passes the spend policy before any write reaches OpenTrain.

In order, cheapest first:
1. requests per minute (`admit`, every authenticated request counts) → 429;
2. the request's type is allowed for the agent — decided before any OpenTrain read;
3. a quote (what a human would confirm, for which job), read from OpenTrain;
4. in the agent's turn (one request at a time per agent, on any replica): its
   usage, the decision, and — when it fits — the co-sign request itself.
Over an amount limit the agent's `overLimit` says: `deny` (403, nothing
reaches OpenTrain) or `ask` (an admin decides in Slack, `bot/policy_requests.py`).
Types and jobs outside the policy are always denied. Denials are audited here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.agent_asks import AgentAsk, PolicyRequest
from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.cosign import CoSign, CoSignOutcome
from bot.logs import log_kv
from bot.money import usd_text
from bot.opentrain import ContractEnded, OpenTrainError
from bot.policy import AgentPolicy, SpendPolicy
from bot.policy_requests import PolicyRequests, agent_requester, perform
from bot.spend import Breach, Quote, Spending, check
from bot.store import Store

log = logging.getLogger(__name__)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"over the agent's requests per minute; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Done:
    """Within the policy: the co-sign request was made."""

    outcome: CoSignOutcome | ContractEnded


@dataclass(frozen=True)
class Denied:
    breach: Breach


@dataclass(frozen=True)
class Awaiting:
    """Over a limit with `overLimit: ask`: an admin decides in Slack."""

    request: PolicyRequest


Verdict = Done | Denied | Awaiting


class AgentGate:
    def __init__(
        self,
        *,
        policy: SpendPolicy,
        spending: Spending,
        requests: PolicyRequests,
        cosign: CoSign,
        store: Store,
        clock: Clock,
    ) -> None:
        self.policy = policy
        self.spending = spending
        self.requests = requests
        self._cosign = cosign
        self._store = store
        self._clock = clock

    def admit(self, agent: str) -> None:
        """Count one authenticated request; RateLimited when the agent is over its rate."""
        per_minute = self.policy.for_agent(agent).requests_per_minute
        retry_after = self.spending.count_request(agent, per_minute)
        if retry_after is not None:
            raise RateLimited(retry_after)

    async def submit(self, agent: str, ask: AgentAsk) -> Verdict:
        limits = self.policy.for_agent(agent)
        if ask.kind != "track" and ask.kind not in limits.allowed_types:
            wrong_type = Breach("allowedTypes", None, None, None, askable=False)
            return await self._denied(agent, ask, ask.kind, wrong_type)
        quote = await self._quote(agent, ask, limits)
        async with self.spending.hold(agent):
            usage = await self.spending.usage(agent, repeating=quote.subject)
            breach = check(limits, quote, usage)
            if breach is None:
                requester = agent_requester(agent, ask, usage, quote, limits.max_per_day_usd)
                made = await perform(self._cosign, ask, requester, just_read=quote.approval)
                return Done(made)
        if breach.askable and limits.over_limit == "ask" and self.requests.can_ask:
            return Awaiting(await self.requests.create(agent, ask, quote, breach))
        return await self._denied(agent, ask, quote.type, breach)

    async def _quote(self, agent: str, ask: AgentAsk, limits: AgentPolicy) -> Quote:
        """What `ask` would move (OpenTrain reads only); a failed read is audited, then raised."""
        try:
            match ask:
                case AgentAsk(kind="hire", proposal_id=str(proposal), terms=terms) if terms:
                    return await self.spending.quote_hire(
                        proposal, terms, need_job=bool(limits.allowed_jobs)
                    )
                case AgentAsk(kind="fund" | "payout" as kind, milestone_id=str(milestone)):
                    return await self.spending.quote_milestone(kind, milestone)
                case AgentAsk(kind="end", contract_id=str(contract)):
                    return await self.spending.quote_end(contract)
                case AgentAsk(approval_id=str(approval_id)):
                    return await self.spending.quote_approval(approval_id)
        except OpenTrainError as exc:
            await self._audit(
                agent, "refused", kind=ask.kind, code=exc.code, reason=exc.reason, step="quote"
            )
            raise
        raise ValueError(f"an agent ask without its subject: {ask.kind}")  # AgentAsk prevents it

    async def _denied(self, agent: str, ask: AgentAsk, kind: str, breach: Breach) -> Denied:
        log.info("agent request over policy %s", log_kv(agent=agent, rule=breach.rule, kind=kind))
        await self._audit(
            agent,
            "policy_denied",
            kind=kind,
            rule=breach.rule,
            limitUsd=usd_text(breach.limit_usd),
            usedUsd=usd_text(breach.used_usd),
            requestedUsd=usd_text(breach.requested_usd),
            **({"note": ask.note} if ask.note else {}),
        )
        return Denied(breach)

    async def _audit(self, agent: str, action: str, **details: object) -> None:
        await self._store.append_audit(
            AuditEntry(at=self._clock.now(), action=action, actor=f"agent:{agent}", details=details)
        )
