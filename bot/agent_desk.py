"""What an agent may ask of the bot, whichever door it comes through (the HTTP API in
`bot/agent_api.py`, the MCP server in `bot/agent_mcp.py`).

Each request goes through `services.cosign` behind the agents' spend policy
(`bot/agent_gate.py`), like the Slack commands. An answer is a status and a wire
model (`bot/agent_models.py`); a refusal is `Refused` — `refusal_of` turns every
failure into one, so both doors refuse in the same words, codes and details, and
`audit_refusal` records it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot.agent_asks import AgentAsk
from bot.agent_gate import Awaiting, Denied, Done, RateLimited
from bot.agent_http import Refused, opentrain_refusal, policy_refusal
from bot.agent_models import (
    ApprovalResponse,
    CardRequest,
    ContractEndedResponse,
    EndRequest,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    approval_response,
    policy_request_response,
)
from bot.audit_log import AuditEntry
from bot.callback_urls import CallbackRefused, vet
from bot.cosign import CardPlacement, ChannelRefused, CoSignOutcome
from bot.logs import log_kv
from bot.opentrain import ContractEnded, OpenTrainError
from bot.opentrain.models import HireTerms
from bot.parsing import ID_PATTERN
from bot.services import Services
from bot.spend import Busy, UnknownSubject
from bot.store import StoreUnavailable
from bot.tracked_approvals import TrackedApproval, TrackedStatus

log = logging.getLogger(__name__)

STORE_OUTAGE = (
    "The bot's database is unavailable right now; try again shortly. Repeating the request is "
    "safe: OpenTrain answers it with the same approval."
)
INTERNAL = (
    "The bot failed while handling this request (its logs have the details under this "
    "requestId). Repeating it is safe: OpenTrain answers a repeated co-sign request with the "
    "same approval."
)


@dataclass(frozen=True)
class Answer:
    status: int  # 200, or 202 while a human (or an admin) still has to act
    body: BaseModel


class AgentDesk:
    def __init__(self, services: Services) -> None:
        self._services = services

    # --- requests ----------------------------------------------------------------------
    async def hire(self, agent: str, body: HireRequest) -> Answer:
        terms = HireTerms(
            name=body.milestone.name,
            description=body.milestone.description,
            amount=body.milestone.amount,
            due_date=body.milestone.due_date,
            confirm_not_fit_override=body.confirm_not_fit_override,
        )
        ask = AgentAsk(kind="hire", proposal_id=body.proposal_id, terms=terms)
        return await self._submit(agent, ask, body)

    async def fund(self, agent: str, body: MilestoneRequest) -> Answer:
        return await self._submit(
            agent, AgentAsk(kind="fund", milestone_id=body.milestone_id), body
        )

    async def payout(self, agent: str, body: MilestoneRequest) -> Answer:
        ask = AgentAsk(kind="payout", milestone_id=body.milestone_id)
        return await self._submit(agent, ask, body)

    async def end(self, agent: str, body: EndRequest) -> Answer:
        return await self._submit(agent, AgentAsk(kind="end", contract_id=body.contract_id), body)

    async def hand_over(self, agent: str, body: HandOverRequest) -> Answer:
        return await self._submit(agent, AgentAsk(kind="track", approval_id=body.approval_id), body)

    async def _submit(self, agent: str, ask: AgentAsk, body: CardRequest) -> Answer:
        """Through the spend policy (bot/agent_gate.py), then the answer for what came of it."""
        ask = ask.model_copy(
            update={"channel": body.channel, "note": body.note, "callback_url": body.callback_url}
        )
        await self._check_callback(body.callback_url)  # before anything reaches OpenTrain
        await self._services.cosign.require_channel(body.channel)  # before any OpenTrain read
        match await self._services.gate.submit(agent, ask):
            case Done(outcome=ContractEnded() as ended):
                return Answer(200, ContractEndedResponse(contract_id=ended.contract_id))
            case Done(outcome=CoSignOutcome() as outcome):
                return Answer(202, self._view(outcome.approval, outcome.card))
            case Awaiting(request=request):
                return Answer(202, policy_request_response(request, None))
            case Denied(breach=breach):
                raise Refused(
                    403,
                    "FORBIDDEN",
                    f"Refused by the agent's spend policy: {breach.describe()}.",
                    breach.details(),
                )
        raise AssertionError("every verdict is answered")

    async def _check_callback(self, url: str | None) -> None:
        if url is None:
            return
        try:
            await vet(url, allow_private=self._services.settings.callback_allow_private)
        except CallbackRefused as exc:
            details = {"field": "callbackUrl", "reason": exc.reason}
            raise Refused(400, "BAD_REQUEST", f"callbackUrl: {exc.problem}.", details) from None

    # --- reads ---------------------------------------------------------------------------
    async def approval(self, approval_id: str, wait_seconds: float = 0) -> Answer:
        """What the bot knows of an approval: at once, or once it ended within `wait_seconds`."""
        tracked = await self.tracked(approval_id, wait_seconds)
        placement = await self._services.cosign.card_placement(approval_id, wait=False)
        return Answer(200, self._view(tracked, placement))

    async def pending(self, agent: str) -> list[ApprovalResponse]:
        """The approvals `agent` asked for that are still pending."""
        views = []
        for tracked in await self._services.store.list_approvals(status=TrackedStatus.PENDING):
            if tracked.requester.kind == "agent" and tracked.requester.id == agent:
                card = await self._services.cosign.card_placement(tracked.approval_id, wait=False)
                views.append(self._view(tracked, card))
        return views

    async def tracked(self, approval_id: str, wait_seconds: float = 0) -> TrackedApproval:
        """A tracked approval by id, as soon as it ended or once `wait_seconds` passed (waiting
        on the bot's own outcomes, never on OpenTrain); Refused 400 / 404 at once otherwise."""
        if not ID_PATTERN.match(approval_id):
            raise Refused(400, "BAD_REQUEST", "That is not an approval id.")
        tracked = await self._services.waits.wait(approval_id, wait_seconds)
        if tracked is None:
            raise Refused(
                404,
                "NOT_FOUND",
                f"The bot does not track approval {approval_id}.",
                {"resource": "approvals", "approvalId": approval_id},
            )
        return tracked

    async def policy_request(self, agent: str, request_id: str) -> Answer:
        """An over-limit request waiting for an admin (only the agent that made it sees it)."""
        request = None
        if ID_PATTERN.match(request_id):
            request = await self._services.gate.requests.get(request_id)
        if request is None or request.agent != agent:
            raise Refused(
                404,
                "NOT_FOUND",
                f"There is no request {request_id[:128]} of this agent.",
                {"resource": "requests", "requestId": request_id[:128]},
            )
        approval = None
        if request.approval_id is not None:
            tracked = await self._services.store.get_approval(request.approval_id)
            if tracked is not None:
                placement = await self._services.cosign.card_placement(
                    tracked.approval_id, wait=False
                )
                approval = self._view(tracked, placement)
        return Answer(200, policy_request_response(request, approval))

    def _view(self, tracked: TrackedApproval, placement: CardPlacement) -> ApprovalResponse:
        return approval_response(
            tracked, placement, opentrain_host=self._services.settings.opentrain_host
        )

    # --- refusals ------------------------------------------------------------------------
    def refusal_of(self, exc: Exception, request_id: str) -> Refused:
        """Every failure of an agent's request, in the words and codes both doors answer."""
        if isinstance(exc, Refused):
            return exc
        if isinstance(exc, RateLimited | UnknownSubject | Busy):
            return policy_refusal(exc)
        if isinstance(exc, OpenTrainError):
            return opentrain_refusal(exc)
        if isinstance(exc, ChannelRefused):
            return Refused(422, "CHANNEL_UNAVAILABLE", str(exc), {"reason": exc.error})
        if isinstance(exc, StoreUnavailable):
            log.warning("agent request: store unavailable %s", log_kv(request_id=request_id))
            return Refused(503, "UNAVAILABLE", STORE_OUTAGE, headers={"Retry-After": "5"})
        log.error("agent request failed %s", log_kv(request_id=request_id), exc_info=exc)
        return Refused(500, "INTERNAL_ERROR", INTERNAL)

    async def audit_refusal(
        self, agent: str, refused: Refused, *, door: str, request_id: str, **where: str
    ) -> None:
        """Record an agent's refusal once (OpenTrain's and the policy's are audited where they
        were decided, with the terms); a store outage leaves it to the log line."""
        log.info(
            "agent request refused %s",
            log_kv(agent=agent, door=door, status=refused.status, code=refused.code, **where),
        )
        if refused.details.get("source") == "opentrain":
            return  # bot.cosign audited OpenTrain's refusal, with the request's terms
        if refused.details.get("reason") == "policy_denied":
            return  # bot.agent_gate audited it, with the rule and the amounts
        details: dict[str, Any] = {
            "door": door,
            **where,
            "status": refused.status,
            "code": refused.code,
            "requestId": request_id,
        }
        if isinstance(refused.details.get("reason"), str):
            details["reason"] = refused.details["reason"]
        entry = AuditEntry(
            at=self._services.clock.now(), action="refused", actor=f"agent:{agent}", details=details
        )
        try:
            await self._services.store.append_audit(entry)
        except StoreUnavailable:
            # The refusal itself must still reach the agent; the log line above keeps the trace.
            log.warning("refusal not audited: store unavailable %s", log_kv(request_id=request_id))
