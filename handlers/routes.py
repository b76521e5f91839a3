"""`/opentrain route …`: where cards go (issue 5).

`route <jobId|hire|fund|payout|end> #channel` stores a route after checking the
bot can post there; `route list` shows them; `route remove <key>` forgets one.
Changes are audited by the router; only admins get here for them (handlers/commands.py).
Failures (Slack) reach the command's one error handler.
"""

from __future__ import annotations

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import cards, parsing
from bot.routing import describe_key, route_key
from bot.services import Services


async def route_command(
    services: Services, parsed: parsing.Route, user_id: str, respond: AsyncRespond
) -> None:
    actor = f"slack:{user_id}"
    match parsed:
        case parsing.Route(action="set", target=str(target), channel_id=str(channel_id)):
            check = await services.channels.prepare(channel_id)
            if check.problem:
                await respond(**cards.notice(f"Route not saved. {check.problem}").as_kwargs())
                return
            key = route_key(target)
            await services.router.set_route(key, channel_id, actor=actor, at=services.clock.now())
            where = check.shown
            await respond(
                **cards.notice(
                    f"Cards for {describe_key(key)} now go to {where} when a request names no "
                    f"channel of its own. Undo with /opentrain route remove {target}"
                ).as_kwargs()
            )
        case parsing.Route(action="remove", target=str(target)):
            key = route_key(target)
            removed = await services.router.remove_route(key, actor=actor, at=services.clock.now())
            text = (
                f"Route for {describe_key(key)} removed."
                if removed
                else f"There was no route for {describe_key(key)}; see /opentrain route list"
            )
            await respond(**cards.notice(text).as_kwargs())
        case _:
            await respond(**cards.routes_view(await services.router.routes()).as_kwargs())
