"""App Home and the approver-facing buttons: "Remind approvers" on cards, "Snooze 4 h" in DMs."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import cards
from bot.cards import ActionId
from bot.reminder_times import Reminder
from bot.reminders import SNOOZE_FOR, RemindNow, Snoozed
from bot.roles import Actor
from bot.services import Services
from handlers.guard import Listeners
from handlers.replies import Replier

NOBODY_TO_REMIND = "This approval is no longer pending, so there is nobody left to remind."
NO_MORE_REMINDERS = "This approval is no longer pending, so there are no more reminders."


def register(app: Listeners, services: Services) -> None:
    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any]) -> None:
        # Slack sends the same event when the Messages tab is opened.
        if event.get("tab") != "home":
            return
        user_id = str(event["user"])
        await services.notifier.publish_home(user_id, await services.home.view_for(user_id))

    @app.action(ActionId.REMIND_APPROVERS.value)
    async def remind_approvers(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, approval_id = _clicked(body)
        reply = Replier(respond, replace=False)

        async def remind() -> None:
            actor = Actor(user_id, body["user"].get("team_id"))
            await services.roles.require(actor, "read", "remind approvers")
            done = await services.reminders.remind_now(approval_id, by_user=user_id)
            await reply.send(remind_answer(done))

        await reply.guard(remind())

    @app.action(ActionId.SNOOZE_REMINDER.value)
    async def snooze_reminder(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, approval_id = _clicked(body)
        reply = Replier(respond, replace=False)

        async def snooze() -> None:
            await reply.send(snooze_answer(await services.reminders.snooze(approval_id, user_id)))

        await reply.guard(snooze())


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    """(who clicked, the approval id the button carries)."""
    return str(body["user"]["id"]), str(body["actions"][0].get("value") or "")


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
