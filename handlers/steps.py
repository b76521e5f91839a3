"""Steps that listeners take beside answering: open a modal (the hire form names the
freelancer once OpenTrain said who it is), end a contract."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import cards
from bot.explain import NotPossible
from bot.logs import log_kv
from bot.opentrain import ContractEnded, OpenTrainError
from bot.services import Services
from bot.tracked_approvals import Requester
from handlers.replies import Replier, deliver_receipt

log = logging.getLogger(__name__)

# Of the three seconds a trigger lasts, what the hire form waits for the freelancer's name.
NAME_WAIT_SECONDS = 1.0


async def end_contract(
    services: Services,
    contract_id: str,
    requester: Requester,
    channel_id: str | None,
    reply: Replier,
) -> None:
    """A contract without funded milestones ends at once (no card); otherwise a co-sign."""
    result = await services.cosign.end(contract_id, requester=requester, channel_id=channel_id)
    if isinstance(result, ContractEnded):
        await reply.send(
            cards.notice(
                f"🏁 Contract {contract_id} had no funded milestones, so OpenTrain ended it "
                "directly — no approval was needed and no money moved."
            )
        )
    else:
        await deliver_receipt(reply.send, services, result)


def milestone_modal(contract_id: str, channel_id: str | None) -> View:
    metadata = json.dumps({"contractId": contract_id, "channelId": channel_id})
    return cards.milestone_modal(
        contract_id=contract_id, contract_title=None, private_metadata=metadata
    )


async def open_hire_modal(
    services: Services,
    *,
    proposal_id: str,
    channel_id: str,
    trigger_id: str,
    name: str = "",
    amount: Decimal | None = None,
) -> None:
    """Open the hire form, naming the freelancer when OpenTrain says who it is in time.

    The trigger lasts three seconds, so OpenTrain gets one of them; a slower or refused
    read opens the form without the name (the hire itself says the rest). Naming it in
    the first render, not by a later update, leaves no update to race the person's typing.
    """
    freelancer = await _freelancer(services, proposal_id)
    meta = {"proposalId": proposal_id, "channelId": channel_id}
    if freelancer:
        meta["freelancer"] = freelancer
    view = cards.hire_modal(
        proposal_id=proposal_id,
        name=name,
        amount=amount,
        freelancer_name=freelancer,
        private_metadata=json.dumps(meta),
    )
    await open_view(services.slack, trigger_id, view)


async def _freelancer(services: Services, proposal_id: str) -> str | None:
    try:
        async with asyncio.timeout(NAME_WAIT_SECONDS):
            proposal = await services.opentrain.get_proposal(proposal_id)
    except (OpenTrainError, TimeoutError) as exc:
        log.info("hire form opened without the freelancer %s", log_kv(error=type(exc).__name__))
        return None
    return proposal.candidate.display_name if proposal.candidate else None


async def open_view(client: AsyncWebClient, trigger_id: str, view: View) -> dict[str, Any]:
    """Open a modal (its trigger expires three seconds after the person acted); the view
    as Slack opened it, with its `id` and `hash`."""
    try:
        response = await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("modal not opened error=%s", error)
        raise NotPossible(
            f"Slack could not open the form (`{error}`); run the command again."
        ) from exc
    opened = response.get("view")
    return opened if isinstance(opened, dict) else {}
