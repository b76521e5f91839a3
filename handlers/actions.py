"""Buttons: on cards (request again, add milestone), on private replies (hire anyway, fund,
request payout, end contract, open contract) and inside the hire modal (cost preview).

Every button acks first. A button on a private reply is answered in place of that
reply ("Asking OpenTrain…", then the result), so it cannot be pressed twice; a
button on a public card gets a new private reply and leaves the card alone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import cards, forms
from bot.approvals import Requester, parse_amount
from bot.explain import NotPossible
from bot.roles import Actor
from bot.services import Services
from handlers import commands
from handlers.guard import Listener, Listeners
from handlers.replies import Replier, deliver_receipt

log = logging.getLogger(__name__)


# Link buttons: Slack opens the URL itself and still reports the click, which only needs an ack.
LINK_BUTTONS = (cards.ActionId.OPEN_APPROVAL, cards.ActionId.OPEN_CARD, cards.ActionId.OPEN_LINK)


@dataclass(frozen=True)
class Click:
    user_id: str
    channel_id: str | None
    value: str
    on_private_reply: bool
    team_id: str | None = None  # the clicking user's own team, as the payload says

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        action = body["actions"][0]
        channel = (body.get("channel") or {}).get("id")
        container = body.get("container") or {}
        team = body["user"].get("team_id")
        return cls(
            user_id=str(body["user"]["id"]),
            channel_id=str(channel) if channel else None,
            value=str(action.get("value") or ""),
            on_private_reply=bool(container.get("is_ephemeral")),
            team_id=str(team) if team else None,
        )

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.team_id)

    @property
    def requester(self) -> Requester:
        return Requester(kind="slack", id=self.user_id)

    def replier(self, respond: AsyncRespond) -> Replier:
        return Replier(respond, replace=self.on_private_reply)


def register(app: Listeners, services: Services) -> None:
    for action_id in LINK_BUTTONS:
        app.action(action_id.value)(acknowledge)

    clicks: dict[cards.ActionId, ClickWork] = {
        cards.ActionId.REQUEST_AGAIN: _request_again,
        cards.ActionId.HIRE_ANYWAY: _hire_anyway,
        cards.ActionId.FUND_MILESTONE: _fund_milestone,
        cards.ActionId.REQUEST_PAYOUT: _request_payout,
        cards.ActionId.END_CONTRACT: _end_contract,
    }
    for action_id, work in clicks.items():
        app.action(action_id.value)(_click_listener(services, work))

    @app.action(cards.ActionId.OPEN_CONTRACT.value)
    async def open_contract(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = Click.of(body)
        # A new private message, so the list it was opened from stays to pick another.
        reply = Replier(respond, replace=False)
        await reply.guard(_open_contract(services, click, reply))

    @app.action(cards.ActionId.ADD_MILESTONE.value)
    async def add_milestone(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = Click.of(body)
        reply = Replier(respond, replace=False)
        await reply.guard(_add_milestone(services, click, str(body["trigger_id"])))

    @app.action(cards.ActionId.HIRE_AMOUNT.value)
    async def hire_amount_typed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await _refresh_cost_preview(services, body)


async def acknowledge(ack: AsyncAck) -> None:
    await ack()


ClickWork = Callable[[Services, Click, Replier], Awaitable[None]]


def _click_listener(services: Services, work: ClickWork) -> Listener:
    """A button that acks, then does `work`, answering on the clicked private reply if any."""

    async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = Click.of(body)
        reply = click.replier(respond)
        await reply.guard(work(services, click, reply))

    return listener


async def _request_again(services: Services, click: Click, reply: Replier) -> None:
    await services.roles.require(click.actor, "request", "request money moves")
    await reply.progress("Asking OpenTrain again with the same terms…")
    outcome = await services.cosign.request_again(click.value, requester=click.requester)
    await deliver_receipt(reply.send, services, outcome)


async def _hire_anyway(services: Services, click: Click, reply: Replier) -> None:
    await services.roles.require(click.actor, "request", "hire on OpenTrain")
    draft = await services.cosign.load_draft(click.value)
    if draft is None:
        raise NotPossible("That hire request is no longer known; run `/opentrain hire` again.")
    await reply.progress(f"Asking OpenTrain to hire on proposal {draft.proposal_id} anyway…")
    terms = draft.terms.model_copy(update={"confirm_not_fit_override": True})
    outcome = await services.cosign.hire(
        draft.proposal_id,
        terms,
        requester=click.requester,
        channel_id=draft.channel_id or click.channel_id,
    )
    await deliver_receipt(reply.send, services, outcome)


async def _fund_milestone(services: Services, click: Click, reply: Replier) -> None:
    await _on_milestone(services, "fund", click, reply)


async def _request_payout(services: Services, click: Click, reply: Replier) -> None:
    await _on_milestone(services, "payout", click, reply)


async def _on_milestone(services: Services, action: str, click: Click, reply: Replier) -> None:
    what = "fund milestones" if action == "fund" else "release payouts"
    await services.roles.require(click.actor, "request", what)
    if action == "fund":
        await reply.progress(f"Asking OpenTrain to fund milestone {click.value}…")
        outcome = await services.cosign.fund(
            click.value, requester=click.requester, channel_id=click.channel_id
        )
    else:
        await reply.progress(f"Asking OpenTrain to release the payout of {click.value}…")
        outcome = await services.cosign.payout(
            click.value, requester=click.requester, channel_id=click.channel_id
        )
    await deliver_receipt(reply.send, services, outcome)


async def _end_contract(services: Services, click: Click, reply: Replier) -> None:
    await services.roles.require(click.actor, "request", "end contracts")
    await reply.progress(f"Asking OpenTrain to end contract {click.value}…")
    await commands.end_contract(services, click.value, click.requester, click.channel_id, reply)


async def _open_contract(services: Services, click: Click, reply: Replier) -> None:
    await services.roles.require(click.actor, "read", "see contracts")
    contract = await services.opentrain.get_contract(click.value)
    await reply.send(cards.contract_detail(contract))


async def _add_milestone(services: Services, click: Click, trigger_id: str) -> None:
    await services.roles.require(click.actor, "request", "add milestones")
    view = commands.milestone_modal(click.value, click.channel_id)
    await commands.open_view(services.slack, trigger_id, view)


async def _refresh_cost_preview(services: Services, body: dict[str, Any]) -> None:
    """Re-render the hire modal with the cost of the amount typed so far."""
    view = body["view"]
    meta = forms.modal_metadata(view.get("private_metadata")) or {}
    text = str(body["actions"][0].get("value") or "")
    try:
        amount = parse_amount(text, services.settings.max_amount_usd)
    except ValueError:
        amount = None
    updated = cards.hire_modal(
        **forms.hire_prefill((view.get("state") or {}).get("values") or {}),
        proposal_id=str(meta.get("proposalId", "")),
        amount=amount,
        private_metadata=view.get("private_metadata") or "",
        amount_text=text,
    )
    try:
        await services.slack.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:
        # hash_conflict: a newer keystroke already updated the modal; that one wins.
        log.info("cost preview not updated error=%s", exc.response.get("error"))
