"""`/opentrain …`: parse → call a bot service → reply (ephemeral unless it is a card).

Slack allows three seconds for the acknowledgement and OpenTrain may take
longer, so the acknowledgement itself carries the first answer: a usage error
or `help` (nothing else to do), or "Asking OpenTrain…" for commands that call
it. The work continues after the ack and its result replaces that line through
the command's `response_url`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, assert_never

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot import cards, parsing
from bot.approvals import Requester, TrackedStatus
from bot.doctor import opentrain_checks
from bot.explain import NotPossible
from bot.opentrain import ContractEnded
from bot.roles import Actor, Need
from bot.services import Services
from handlers.admin import approvers_command, audit_command
from handlers.guard import Listeners
from handlers.policy import policy_message
from handlers.replies import Replier, deliver_receipt, error_message, progress
from handlers.routes import route_command

log = logging.getLogger(__name__)


def register(app: Listeners, services: Services) -> None:
    @app.command("/opentrain")
    async def opentrain(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            parsed = parsing.parse_command(
                str(command.get("text") or ""),
                opentrain_host=services.settings.opentrain_host,
                max_amount=services.settings.max_amount_usd,
            )
        except parsing.UsageError as exc:
            await ack(**error_message(exc).as_kwargs())
            return
        first = first_answer(parsed)
        await ack(**(first.as_kwargs() if first is not None else {}))
        reply = Replier(respond, replace=True)
        await reply.guard(dispatch(services, parsed, command, reply))


def first_answer(parsed: parsing.Command) -> cards.SlackMessage | None:
    """What the acknowledgement shows at once; None when the answer comes later."""
    match parsed:
        case parsing.Simple(action="help"):
            return cards.help_message()
        case parsing.OnMilestone(action="fund", milestone_id=milestone_id):
            return progress(f"Asking OpenTrain to fund milestone {milestone_id}…")
        case parsing.OnMilestone(action="payout", milestone_id=milestone_id):
            return progress(f"Asking OpenTrain to release the payout of {milestone_id}…")
        case parsing.OnContract(action="end", contract_id=contract_id):
            return progress(f"Asking OpenTrain to end contract {contract_id}…")
        case parsing.OnContract(action="contract", contract_id=contract_id):
            return progress(f"Asking OpenTrain for contract {contract_id}…")
        case parsing.Contracts():
            return progress("Asking OpenTrain for your contracts…")
        case parsing.Track(approval_id=approval_id):
            return progress(f"Reading approval {approval_id} from OpenTrain…")
        case parsing.Simple(action="status"):
            return progress("Checking the OpenTrain account, token and billing…")
    return None


async def dispatch(
    services: Services,
    parsed: parsing.Command,
    command: dict[str, Any],
    reply: Replier,
) -> None:
    user_id = str(command["user_id"])
    channel_id = str(command["channel_id"])
    requester = Requester(kind="slack", id=user_id)
    actor = Actor(user_id)
    needed = required_role(parsed)
    if needed is not None:
        await services.roles.require(actor, *needed)
    match parsed:
        case parsing.Simple(action="help"):
            return  # answered in the acknowledgement
        case parsing.Hire():
            await open_view(
                services.slack, str(command["trigger_id"]), hire_modal(parsed, channel_id)
            )
        case parsing.OnMilestone(action=action, milestone_id=milestone_id):
            run = services.cosign.fund if action == "fund" else services.cosign.payout
            outcome = await run(milestone_id, requester=requester, channel_id=channel_id)
            await deliver_receipt(reply.send, services, outcome)
        case parsing.OnContract(action="end", contract_id=contract_id):
            await end_contract(services, contract_id, requester, channel_id, reply)
        case parsing.OnContract(action="milestone", contract_id=contract_id):
            view = milestone_modal(contract_id, channel_id)
            await open_view(services.slack, str(command["trigger_id"]), view)
        case parsing.OnContract(action="contract", contract_id=contract_id):
            contract = await services.opentrain.get_contract(contract_id)
            await reply.send(cards.contract_detail(contract))
        case parsing.Contracts(status=status):
            contracts = await services.opentrain.list_contracts(status=status)
            await reply.send(cards.contracts_list(contracts, status=status))
        case parsing.Track(approval_id=approval_id):
            outcome = await services.cosign.track(
                approval_id, requester=requester, channel_id=channel_id
            )
            await deliver_receipt(reply.send, services, outcome)
        case parsing.Simple(action="pending"):
            await reply.send(await pending_message(services, actor))
        case parsing.Simple(action="policy"):
            await reply.send(await policy_message(services))
        case parsing.Simple(action="status"):
            checks = await opentrain_checks(
                services.opentrain,
                services.settings.ot_api_base_url,
                webhook_secret_set=services.settings.ot_webhook_secret is not None,
            )
            await reply.send(cards.status_report(checks))
        case parsing.Route():
            await route_command(services, parsed, user_id, reply.respond)
        case parsing.Approvers():
            await approvers_command(services, parsed, user_id, channel_id, reply.respond)
        case parsing.Audit():
            await audit_command(services, parsed, user_id, reply.respond)


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


def required_role(parsed: parsing.Command) -> tuple[Need, str] | None:
    """The role a command needs, and what it does in words (for a refusal); None: anyone."""
    match parsed:
        case parsing.Simple(action="help"):
            return None
        case parsing.Hire():
            return "request", "hire on OpenTrain"
        case parsing.OnMilestone(action="fund"):
            return "request", "fund milestones"
        case parsing.OnMilestone():
            return "request", "release payouts"
        case parsing.OnContract(action="end"):
            return "request", "end contracts"
        case parsing.OnContract(action="milestone"):
            return "request", "add milestones"
        case parsing.OnContract() | parsing.Contracts():
            return "read", "see contracts"
        case parsing.Track():
            return "read", "track approvals"
        case parsing.Simple(action="status"):
            return "read", "check the OpenTrain account"
        case parsing.Simple(action="policy"):
            return "admin", "see the agents' spend policy"
        case parsing.Simple():
            return "read", "see pending approvals"
        case parsing.Approvers(action="show"):
            return "read", "see approvers"
        case parsing.Approvers():
            return "admin", "change approvers"
        case parsing.Route(action="list"):
            return "read", "see routes"
        case parsing.Route():
            return "admin", "change routes"
        case parsing.Audit():
            return "read", "read the audit trail"
    assert_never(parsed)


async def pending_message(services: Services, actor: Actor) -> cards.SlackMessage:
    """Pending approvals; someone who is not an admin sees those of their own channels only."""
    pending = await services.store.list_approvals(status=TrackedStatus.PENDING)
    if not await services.roles.is_admin(actor):
        channels = {a.channel_id for a in pending if a.channel_id}
        visible = {c for c in channels if actor.user_id in await services.people.channel_members(c)}
        pending = [a for a in pending if a.channel_id in visible]
    permalinks = {a.approval_id: a.card_permalink for a in pending if a.card_permalink}
    return cards.pending_list(pending, now=services.clock.now(), permalinks=permalinks)


def hire_modal(hire: parsing.Hire, channel_id: str) -> View:
    metadata = json.dumps({"proposalId": hire.proposal_id, "channelId": channel_id})
    return cards.hire_modal(
        proposal_id=hire.proposal_id,
        name=hire.name,
        amount=hire.amount,
        private_metadata=metadata,
    )


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
