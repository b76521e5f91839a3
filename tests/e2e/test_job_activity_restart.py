"""A job's activity across restarts: a new bot on the same store announces what happened
while it was down, and a feed read again from the start (a lost cursor, a new leader that
replays a page) posts nothing twice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain.model import ProposalStatus
from bot.store.kinds import Topic
from tests.support.processes import CHANNEL, Deployment, effect_posts
from tests.support.wait import wait_for


def new_proposal(env: Deployment, first_name: str) -> None:
    env.opentrain.state.add_demo_proposal(
        first_name, "Restart", status=ProposalStatus.UNREVIEWED, bid_amount_usd=Decimal(400)
    )


def notices(env: Deployment, first_name: str) -> list[str]:
    return [m.ts for m in env.slack.messages(CHANNEL) if f"{first_name} R." in m.text]


async def test_proposals_while_down_are_announced_once_even_when_the_feed_is_replayed(
    env: Deployment, store_settings: dict[str, Any]
) -> None:
    first = await env.start_bot(**store_settings)
    await first.services.activity.subscribe(
        "job_dashcam", CHANNEL, frozenset({Topic.PROPOSALS}), by="U0ANA"
    )
    new_proposal(env, "Before")
    await wait_for(lambda: notices(env, "Before"), message="the first notice")
    await first.stop()

    new_proposal(env, "During")  # nobody watches
    new_proposal(env, "Meanwhile")
    second = await env.start_bot(**store_settings)
    for name in ("During", "Meanwhile"):
        await wait_for(lambda n=name: notices(env, n), message=f"the notice for {name}")
    await second.settle()

    await second.services.store.set_cursor("0")  # the whole history read again
    await second.settle()

    for name in ("Before", "During", "Meanwhile"):
        assert len(notices(env, name)) == 1, name
    assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())
