"""`/opentrain policy` and the buttons on policy cards (an agent's request over its limits).

Only admins may press **Allow once** or **Refuse**; anyone else gets a private
refusal naming who can, and nothing changes. The click is answered privately;
the card itself changes through the outbox, like every bot message.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import cards
from bot.cards.policy import AgentRow, policy_view
from bot.policy_requests import Decided
from bot.roles import Actor
from bot.services import Services
from handlers.guard import Listeners
from handlers.replies import Replier, progress, with_progress


async def policy_message(services: Services) -> cards.SlackMessage:
    """The agents' effective spend policy and each agent's usage (admins only)."""
    gate = services.gate
    rows = []
    for agent in sorted(services.settings.agent_tokens):
        usage = await gate.spending.usage(agent)
        rows.append(
            AgentRow(
                agent=agent,
                limits=gate.policy.for_agent(agent).describe(),
                requests_24h=usage.requests_24h,
                used_24h=usage.used_24h,
                used_7d=usage.used_7d,
            )
        )
    return policy_view(rows, source=gate.policy.source)


def register(app: Listeners, services: Services) -> None:
    @app.action(cards.ActionId.ALLOW_POLICY_REQUEST.value)
    async def allow(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        reply = Replier(respond, replace=False)
        await reply.guard(_decide(services, body, reply, allow=True))

    @app.action(cards.ActionId.REFUSE_POLICY_REQUEST.value)
    async def refuse(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        reply = Replier(respond, replace=False)
        await reply.guard(_decide(services, body, reply, allow=False))


async def _decide(services: Services, body: dict[str, Any], reply: Replier, *, allow: bool) -> None:
    user = body["user"]
    actor = Actor(str(user["id"]), user.get("team_id"))
    verb = "allow" if allow else "refuse"
    await services.roles.require(actor, "admin", f"{verb} an agent's request over its limits")
    request_id = str(body["actions"][0].get("value") or "")
    requests = services.gate.requests
    if allow:
        decided = await with_progress(
            requests.allow(request_id, by_user=actor.user_id),
            lambda: reply.send(progress("Allowed once; asking OpenTrain…")),
        )
    else:
        decided = await requests.refuse(request_id, by_user=actor.user_id)
    await reply.send(cards.notice(_answer(decided)))


def _answer(decided: Decided) -> str:
    request = decided.request
    if not decided.by_this:
        return f"That request was already {request.status.replace('_', ' ')}; nothing changed."
    if request.status == "refused":
        return f"Refused. Nothing reached OpenTrain; agent {request.agent} sees it as refused."
    if request.error:
        reason = request.error.get("reason") or request.error.get("code")
        return f"Allowed, but OpenTrain refused the request ({reason}); nothing is pending."
    if request.contract_ended:
        return "Allowed. The contract held no escrow, so OpenTrain ended it at once."
    return "Allowed once. The co-sign card is posted; a human still confirms it in OpenTrain."
