"""Buttons: on cards (request again, add milestone, remind approvers), on private replies
(hire anyway, fund, request payout, end contract, open contract, a job's proposals, hire from
a proposal, its transcript), in reminder DMs (snooze), on policy cards (allow once, refuse)
and inside the hire modal (cost preview).

Every button acks first. A button on a private reply is answered in place of that
reply ("Asking OpenTrain…", then the result), so it cannot be pressed twice; a
button on a public card gets a new private reply and leaves the card alone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot import cards, forms
from bot.explain import NotPossible
from bot.money import parse_amount
from bot.opentrain import NotFound
from bot.policy_requests import Decided
from bot.reminder_times import Reminder
from bot.reminders import SNOOZE_FOR, RemindNow, Snoozed
from bot.roles import Actor
from bot.services import Services
from bot.tracked_approvals import Requester
from handlers.commands import Verb, dispatch, parse_command
from handlers.guard import Listener, Listeners
from handlers.replies import Asked, Replier, deliver_receipt, progress, with_progress
from handlers.steps import end_contract, milestone_modal, open_hire_modal, open_view

log = logging.getLogger(__name__)

# Of the three seconds a trigger lasts, what a transcript waits for OpenTrain.
TRANSCRIPT_WAIT_SECONDS = 2.0


# Link buttons: Slack opens the URL itself and still reports the click, which only needs an ack.
LINK_BUTTONS = (cards.ActionId.OPEN_APPROVAL, cards.ActionId.OPEN_CARD, cards.ActionId.OPEN_LINK)


@dataclass(frozen=True)
class Click:
    user_id: str
    channel_id: str | None
    value: str
    on_private_reply: bool
    team_id: str | None = None  # the clicking user's own team, as the payload says
    trigger_id: str = ""  # opens a modal within three seconds of the click

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
            trigger_id=str(body.get("trigger_id") or ""),
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
        cards.ActionId.REMIND_APPROVERS: _remind_approvers,
        cards.ActionId.SNOOZE_REMINDER: _snooze,
        cards.ActionId.ALLOW_POLICY_REQUEST: _allow_policy_request,
        cards.ActionId.REFUSE_POLICY_REQUEST: _refuse_policy_request,
    }
    for action_id, work in clicks.items():
        app.action(action_id.value)(_click_listener(services, work))
    # On a list of jobs or proposals: the list stays, to pick another.
    keeping: dict[cards.ActionId, ClickWork] = {
        cards.ActionId.OPEN_JOB_PROPOSALS: _job_proposals,
        cards.ActionId.HIRE_PROPOSAL: _hire_proposal,
        cards.ActionId.OPEN_TRANSCRIPT: _open_transcript,
    }
    for action_id, work in keeping.items():
        app.action(action_id.value)(_click_listener(services, work, keep_message=True))

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

    async def amount_typed(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await _refresh_cost_preview(services, body)

    for amount_input in (cards.ActionId.HIRE_AMOUNT, cards.ActionId.MILESTONE_AMOUNT):
        app.action(amount_input.value)(amount_typed)


async def acknowledge(ack: AsyncAck) -> None:
    await ack()


ClickWork = Callable[[Services, Click, Replier], Awaitable[None]]


def _click_listener(services: Services, work: ClickWork, *, keep_message: bool = False) -> Listener:
    """A button that acks, then does `work`, answering on the clicked private reply if any
    (`keep_message`: in a new private message, leaving the clicked one as it is)."""

    async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        click = Click.of(body)
        reply = Replier(respond, replace=False) if keep_message else click.replier(respond)
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
    await end_contract(services, click.value, click.requester, click.channel_id, reply)


async def _open_contract(services: Services, click: Click, reply: Replier) -> None:
    await services.roles.require(click.actor, "read", "see contracts")
    contract = await services.opentrain.get_contract(click.value)
    host = services.settings.opentrain_host
    await reply.send(cards.contract_detail(contract, opentrain_host=host))


async def _add_milestone(services: Services, click: Click, trigger_id: str) -> None:
    await services.roles.require(click.actor, "request", "add milestones")
    view = milestone_modal(click.value, click.channel_id)
    await open_view(services.slack, trigger_id, view)


async def _refresh_cost_preview(services: Services, body: dict[str, Any]) -> None:
    """Re-render the hire or milestone modal with the cost of the amount typed so far."""
    view = body["view"]
    meta = forms.modal_metadata(view.get("private_metadata")) or {}
    values = (view.get("state") or {}).get("values") or {}
    text = str(body["actions"][0].get("value") or "")
    try:
        amount = parse_amount(text, services.settings.max_amount_usd)
    except ValueError:
        amount = None
    metadata = view.get("private_metadata") or ""
    if body["actions"][0].get("action_id") == cards.ActionId.MILESTONE_AMOUNT.value:
        updated = cards.milestone_modal(
            **forms.milestone_prefill(values),
            contract_id=str(meta.get("contractId", "")),
            contract_title=None,
            amount=amount,
            amount_text=text,
            private_metadata=metadata,
        )
    else:
        updated = cards.hire_modal(
            **forms.hire_prefill(values),
            proposal_id=str(meta.get("proposalId", "")),
            freelancer_name=str(meta["freelancer"]) if meta.get("freelancer") else None,
            amount=amount,
            private_metadata=metadata,
            amount_text=text,
        )
    try:
        await services.slack.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:
        # hash_conflict: a newer keystroke already updated the modal; that one wins.
        log.info("cost preview not updated error=%s", exc.response.get("error"))


# --- jobs: Proposals; proposals: Hire… and Transcript ----------------------------------------


async def _job_proposals(services: Services, click: Click, reply: Replier) -> None:
    """The job's proposals: `/opentrain proposals <jobId>` run for the clicking user (the same
    parser, role check and handler)."""
    found, args = parse_command(
        f"{Verb.PROPOSALS.value} {click.value}",
        opentrain_host=services.settings.opentrain_host,
        max_amount=services.settings.max_amount_usd,
    )
    asked = Asked(click.user_id, click.channel_id or "", click.trigger_id, reply, click.team_id)
    await dispatch(services, found, args, asked)


async def _hire_proposal(services: Services, click: Click, reply: Replier) -> None:
    """The hire form, pre-filled with the proposal's bid."""
    await services.roles.require(click.actor, "request", "hire on OpenTrain")
    chosen = forms.modal_metadata(click.value) or {}
    try:
        bid = parse_amount(str(chosen.get("amount") or ""), services.settings.max_amount_usd)
    except ValueError:
        bid = None  # no bid, or one the form cannot take: the person types the amount
    await open_hire_modal(
        services,
        proposal_id=str(chosen.get("proposalId") or ""),
        channel_id=click.channel_id or "",
        trigger_id=click.trigger_id,
        amount=bid,
    )


async def _open_transcript(services: Services, click: Click, reply: Replier) -> None:
    """The AI interview's transcript in a modal; OpenTrain gets two of the trigger's seconds."""
    await services.roles.require(click.actor, "request", "read interview transcripts")
    try:
        async with asyncio.timeout(TRANSCRIPT_WAIT_SECONDS):
            interview = await services.opentrain.get_interview(click.value)
    except TimeoutError:
        raise NotPossible(
            "OpenTrain is slow to send the transcript; press Transcript again."
        ) from None
    except NotFound:
        await reply.send(cards.notice(f"Proposal {click.value} has no AI interview transcript."))
        return
    await open_view(
        services.slack, click.trigger_id, cards.transcript_modal(interview, who="Candidate")
    )


# --- approvers: "Remind approvers" on a card, "Snooze 4 h" in a reminder DM ----------------

NOBODY_TO_REMIND = "This approval is no longer pending, so there is nobody left to remind."
NO_MORE_REMINDERS = "This approval is no longer pending, so there are no more reminders."


async def _remind_approvers(services: Services, click: Click, reply: Replier) -> None:
    await services.roles.require(click.actor, "read", "remind approvers")
    done = await services.reminders.remind_now(click.value, by_user=click.user_id)
    await reply.send(remind_answer(done))


async def _snooze(services: Services, click: Click, reply: Replier) -> None:
    await reply.send(snooze_answer(await services.reminders.snooze(click.value, click.user_id)))


def remind_answer(done: RemindNow) -> cards.SlackMessage:
    if done.status == "not_pending":
        return cards.notice(NOBODY_TO_REMIND)
    return cards.reminders_sent(done.reminded, done.throttled_until)


def snooze_answer(snoozed: Snoozed) -> cards.SlackMessage:
    if not snoozed.pending:
        return cards.notice(NO_MORE_REMINDERS)
    hours = int(SNOOZE_FOR.total_seconds() // 3600)
    upcoming = snoozed.next_reminder
    if upcoming is None or snoozed.tz is None:
        return cards.notice(f"Snoozed for {hours} h. There are no more reminders for this one.")
    when = _local(upcoming, snoozed.tz)
    if upcoming.final:
        return cards.notice(f"Snoozed for {hours} h. The last reminder still comes {when}.")
    return cards.notice(f"Snoozed for {hours} h. Your next reminder comes {when}.")


def _local(reminder: Reminder, tz: tzinfo) -> str:
    """In the approver's own time zone: a notice cannot carry Slack's date tokens."""
    local = reminder.due_at.astimezone(tz)
    return f"{local:%a %d %b at %H:%M} ({tz})"


# --- policy cards: an agent's request over its limits, decided by an admin -------------------


async def _allow_policy_request(services: Services, click: Click, reply: Replier) -> None:
    await _decide(services, click, reply, allow=True)


async def _refuse_policy_request(services: Services, click: Click, reply: Replier) -> None:
    await _decide(services, click, reply, allow=False)


async def _decide(services: Services, click: Click, reply: Replier, *, allow: bool) -> None:
    verb = "allow" if allow else "refuse"
    requests = services.gate.requests
    asked = await requests.get(click.value)
    if asked is not None and asked.deciders:  # its approver tier names who decides
        what = f"{verb} an agent's request of {asked.tier}"
        await services.roles.require(click.actor, "listed", what, asked.deciders)
    else:
        await services.roles.require(
            click.actor, "admin", f"{verb} an agent's request over its limits"
        )
    if allow:
        decided = await with_progress(
            requests.allow(click.value, by_user=click.user_id),
            lambda: reply.send(progress("Allowed once; asking OpenTrain…")),
        )
    else:
        decided = await requests.refuse(click.value, by_user=click.user_id)
    await reply.send(cards.notice(_decided(decided)))


def _decided(decided: Decided) -> str:
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
