"""Steps that listeners of more than one kind take: open a modal, end a contract."""

from __future__ import annotations

import json
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import cards
from bot.explain import NotPossible
from bot.opentrain import ContractEnded
from bot.services import Services
from bot.tracked_approvals import Requester
from handlers.replies import Replier, deliver_receipt

log = logging.getLogger(__name__)


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


async def open_view(client: AsyncWebClient, trigger_id: str, view: View) -> None:
    """Open a modal; its trigger expires three seconds after the person acted."""
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.warning("modal not opened error=%s", error)
        raise NotPossible(
            f"Slack could not open the form (`{error}`); run the command again."
        ) from exc
