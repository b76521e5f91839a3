"""The set-up and record commands: `approvers`, `route`, `audit`, `policy`, `subscribe`,
`unsubscribe`, `subscriptions`.

Their roles are checked before they run (the command table in handlers/commands.py);
changes are audited by the services they call.
"""

from __future__ import annotations

from bot import cards, parsing
from bot.approver_lists import Change
from bot.cards import activity
from bot.cards.policy import AgentRow, policy_view
from bot.roles import Actor
from bot.routing import describe_key, route_key
from bot.services import Services
from handlers.replies import Asked

CHANGES: dict[str, Change] = {"set": "set", "add": "add", "remove": "remove"}


async def approvers(services: Services, parsed: parsing.Approvers, asked: Asked) -> None:
    """Show the approver tiers, after changing one when asked to (a tier's members, its
    escalation delay, or who decides agents' requests over a limit at it)."""
    scope, by_user, lists = parsed.scope or asked.channel_id, asked.user_id, services.approvers
    change = CHANGES.get(parsed.action)
    if change is not None:
        await lists.change(scope, change, parsed.members, over=parsed.over, by_user=by_user)
    elif parsed.action == "escalate":
        after, off = parsed.after, parsed.off
        await lists.set_escalation(scope, parsed.over, after, off=off, by_user=by_user)
    elif parsed.action == "admins":
        await lists.set_admins(scope, parsed.over, parsed.members, by_user=by_user)
    configured = await lists.all()
    view = cards.approvers_view(
        configured, channel_id=asked.channel_id, escalate_after=lists.escalate_after
    )
    await asked.reply.send(view)


async def audit(services: Services, parsed: parsing.ApprovalRef, asked: Asked) -> None:
    """One approval's history, oldest first; someone who is not an admin sees only the
    history of approvals carded in channels they are in (as with `pending`)."""
    entries = await services.store.read_audit(approval_id=parsed.approval_id)
    if entries and not await services.roles.is_admin(Actor(asked.user_id)):
        approval = await services.store.get_approval(parsed.approval_id)
        channel = approval.channel_id if approval else None
        if channel is None or asked.user_id not in await services.people.channel_members(channel):
            entries = []
    await asked.reply.send(cards.audit_view(parsed.approval_id, entries))


async def route(services: Services, parsed: parsing.Route, asked: Asked) -> None:
    """`route <jobId|type> #channel` stores a route after checking the bot can post there;
    `route list` shows them; `route remove <key>` forgets one."""
    actor = f"slack:{asked.user_id}"
    match parsed:
        case parsing.Route(action="set", target=str(target), channel_id=str(channel_id)):
            check = await services.channels.prepare(channel_id)
            if check.problem:
                await asked.reply.send(cards.notice(f"Route not saved. {check.problem}"))
                return
            key = route_key(target)
            await services.router.set_route(key, channel_id, actor=actor, at=services.clock.now())
            await asked.reply.send(
                cards.notice(
                    f"Cards for {describe_key(key)} now go to {check.shown} when a request names "
                    f"no channel of its own. Undo with /opentrain route remove {target}"
                )
            )
        case parsing.Route(action="remove", target=str(target)):
            key = route_key(target)
            removed = await services.router.remove_route(key, actor=actor, at=services.clock.now())
            text = (
                f"Route for {describe_key(key)} removed."
                if removed
                else f"There was no route for {describe_key(key)}; see /opentrain route list"
            )
            await asked.reply.send(cards.notice(text))
        case _:
            await asked.reply.send(cards.routes_view(await services.router.routes()))


async def policy(services: Services, args: parsing.NoArgs, asked: Asked) -> None:
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
    await asked.reply.send(policy_view(rows, source=gate.policy.source))


async def subscribe(services: Services, parsed: parsing.Subscribe, asked: Asked) -> None:
    """Tie a job's activity to this channel, after checking the job is the account's (a read)
    and that the bot can post here; nothing is saved otherwise."""
    await services.opentrain.list_proposals(parsed.job_id, limit=1)
    check = await services.channels.prepare(asked.channel_id)
    if check.problem:
        await asked.reply.send(cards.notice(f"Not subscribed. {check.problem}"))
        return
    subscription = await services.activity.subscribe(
        parsed.job_id, asked.channel_id, parsed.topics, by=asked.user_id
    )
    await asked.reply.send(activity.subscribed(parsed.job_id, subscription))


async def unsubscribe(services: Services, parsed: parsing.JobRef, asked: Asked) -> None:
    removed = await services.activity.unsubscribe(parsed.job_id, by=asked.user_id)
    text = (
        f"Job {parsed.job_id} is no longer followed; its activity is not posted anywhere now."
        if removed
        else f"Job {parsed.job_id} was not subscribed; see /opentrain subscriptions"
    )
    await asked.reply.send(cards.notice(text))


async def subscriptions(services: Services, args: parsing.NoArgs, asked: Asked) -> None:
    """Every job subscription (admins), else the ones posting in this channel."""
    admin = await services.roles.is_admin(Actor(asked.user_id))
    channel = None if admin else asked.channel_id
    found = await services.activity.subscriptions(channel)
    await asked.reply.send(activity.subscriptions_list(found, channel=channel))
