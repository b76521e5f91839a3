"""`/opentrain approvers …` and `/opentrain audit …`; roles are checked before (commands.py)."""

from __future__ import annotations

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import cards, parsing
from bot.approvers import Change
from bot.roles import Actor
from bot.services import Services

CHANGES: dict[str, Change] = {"set": "set", "add": "add", "remove": "remove"}


async def approvers_command(
    services: Services,
    parsed: parsing.Approvers,
    user_id: str,
    channel_id: str,
    respond: AsyncRespond,
) -> None:
    """Show the approvers, after setting, adding or removing some when asked to."""
    change = CHANGES.get(parsed.action)
    if change is not None:
        scope = parsed.scope or channel_id
        await services.approvers.change(scope, change, parsed.members, by_user=user_id)
    configured = await services.approvers.all()
    await respond(**cards.approvers_view(configured, channel_id=channel_id).as_kwargs())


async def audit_command(
    services: Services, parsed: parsing.Audit, user_id: str, respond: AsyncRespond
) -> None:
    """One approval's history, oldest first; someone who is not an admin sees only the
    history of approvals carded in channels they are in (as with `pending`)."""
    entries = await services.store.read_audit(approval_id=parsed.approval_id)
    if entries and not await services.roles.is_admin(Actor(user_id)):
        approval = await services.store.get_approval(parsed.approval_id)
        channel = approval.channel_id if approval else None
        if channel is None or user_id not in await services.people.channel_members(channel):
            entries = []
    await respond(**cards.audit_view(parsed.approval_id, entries).as_kwargs())
