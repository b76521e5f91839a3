"""What an agent asked the bot to do, and a request waiting for an admin — pure data.

An agent's request over its spend limit (with `overLimit: ask`) waits for an
admin in Slack (`bot/policy_requests.py`). The `AgentAsk` inside it is kept
so that, once allowed, it is made exactly as it was asked.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from bot.opentrain.models import HireTerms
from bot.policy import RequestType

AskKind = Literal["hire", "fund", "payout", "end", "track"]
PolicyStatus = Literal["awaiting_policy_approval", "allowed", "refused", "expired"]
AWAITING: PolicyStatus = "awaiting_policy_approval"


class AgentAsk(BaseModel):
    """One agent request to the bot: which co-sign, on what, with which card."""

    model_config = ConfigDict(frozen=True)

    kind: AskKind
    proposal_id: str | None = None  # hire
    terms: HireTerms | None = None  # hire
    milestone_id: str | None = None  # fund, payout
    contract_id: str | None = None  # end
    approval_id: str | None = None  # track: an approval the agent created itself
    channel: str | None = None
    note: str | None = None
    callback_url: str | None = None  # checked when asked, and again at each delivery

    @model_validator(mode="after")
    def _names_its_subject(self) -> AgentAsk:
        subject = {
            "hire": self.proposal_id and self.terms,
            "fund": self.milestone_id,
            "payout": self.milestone_id,
            "end": self.contract_id,
            "track": self.approval_id,
        }[self.kind]
        if not subject:
            raise ValueError(f"a {self.kind} request needs what it is about")
        return self


class PolicyRequest(BaseModel):
    """An agent's request over a limit, waiting for (or decided by) an admin in Slack."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    agent: str
    ask: AgentAsk
    type: RequestType
    what: str  # in words: "fund milestone Batch 2 on Dashcam labeling"
    subject: str  # see `bot.spend.Quote.subject`
    job_id: str | None = None
    rule: str  # the policy field it exceeds, e.g. maxPerDayUsd
    limit_usd: Decimal | None = None
    used_usd: Decimal | None = None
    requested_usd: Decimal | None = None
    status: PolicyStatus = AWAITING
    created_at: AwareDatetime
    expires_at: AwareDatetime
    channel_id: str | None = None  # where its policy card is
    # The admins of the approver tier its amount reaches, when that tier names any: only
    # they decide it (else the admins do). `tier`: its amounts ("$1,000.00 and more").
    deciders: tuple[str, ...] = ()
    tier: str | None = None
    decided_by: str | None = None  # Slack user id of the admin
    decided_at: AwareDatetime | None = None
    approval_id: str | None = None  # once allowed: the co-sign approval it produced
    card_channel: str | None = None  # … and where that approval's card went
    card_permalink: str | None = None
    contract_ended: bool = False  # once allowed: the contract ended at once (no escrow)
    error: dict[str, Any] | None = None  # once allowed: OpenTrain refused the call

    def evolve(self, **changes: Any) -> PolicyRequest:
        return self.model_copy(update=changes)

    def expired_at(self, now: datetime) -> bool:
        return self.status == AWAITING and now >= self.expires_at
