"""Routing end to end: `/opentrain route …` manages stored routes (checked, audited), and agent
requests land by precedence: explicit channel → job route → type route → DEFAULT_CHANNEL."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from bot.sandbox.runner import Sandbox
from bot.sandbox.slack.model import Channel
from tests.e2e.test_agent_api import AGENT_TOKENS, Agent, card_in
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

ADMIN = "U0ANA"
OTHER = "U0BEN"
HIRING, GENERAL, LIDAR = "C0HIRING", "C0GENERAL", "C0LIDAR"


async def route(sandbox: Sandbox, text: str, user: str = ADMIN) -> str:
    """Run `/opentrain route …` and return the private answer's text and blocks."""
    seen = len(sandbox.slack.ephemerals(user))
    result = await sandbox.slack.send_command(
        command="/opentrain", text=f"route {text}", user_id=user, channel_id=HIRING
    )
    assert result.status == 200
    answers = await wait_for(
        lambda: sandbox.slack.ephemerals(user)[seen:], message=f"answer to route {text}"
    )
    return json.dumps({"text": answers[0].text, "blocks": answers[0].blocks}, ensure_ascii=False)


async def test_routes_are_managed_and_decide_where_agent_cards_go(
    make_sandbox: SandboxFactory,
) -> None:
    # Ben may start requests (and so read) but is no admin: he may list routes, not change them.
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS, allowed_requesters=f"{ADMIN},{OTHER}")
    state = sandbox.slack.state
    # A private channel the bot was invited to is a fine place for cards.
    state.add_channel(Channel(LIDAR, "lidar", "private", {ADMIN, state.bot_user_id}, 0))

    assert "Route not saved" in await route(sandbox, "hire <#C0PRIVATE>")
    assert "is archived" in await route(sandbox, "hire <#C0ARCHIVED|old>")
    refusal = await route(sandbox, "fund <#C0GENERAL|general>", user=OTHER)
    assert "Only the workspace's admins and owners can change routes" in refusal
    assert await sandbox.services.store.list_routes() == {}

    answer = await route(sandbox, "fund <#C0GENERAL|general>")
    assert "fund requests now go to #general" in answer
    assert "now go to #lidar" in await route(sandbox, f"job_lidar <#{LIDAR}|lidar>")
    assert await sandbox.services.store.list_routes() == {
        "type:milestone_fund": GENERAL,
        "job:job_lidar": LIDAR,
    }
    listed = await route(sandbox, "list", user=OTHER)  # requesters may read routes
    assert "<#C0GENERAL>" in listed and "<#C0LIDAR>" in listed

    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as http:
        agent = Agent(http)
        requests: list[tuple[str, dict[str, Any], str]] = [
            ("payout", {"milestoneId": "ms_batch1"}, HIRING),  # nothing matches: default
            ("fund", {"milestoneId": "ms_batch2"}, GENERAL),  # the type's route
            ("fund", {"milestoneId": "ms_lidar1"}, LIDAR),  # the job's route beats the type's
            ("fund", {"milestoneId": "ms_lidar2", "channel": HIRING}, HIRING),  # explicit wins
        ]
        for action, body, channel in requests:
            response = await agent.post(action, body)
            assert response.status_code == 202, response.text
            answer_body = response.json()
            assert answer_body["card"]["channel"] == channel, (body, answer_body["card"])
            assert card_in(sandbox, channel, answer_body["approval"]["id"]) is not None

        assert "removed" in await route(sandbox, "remove fund")
        assert "There was no route" in await route(sandbox, "remove fund")
        await route(sandbox, "remove job_lidar")
        ot = sandbox.opentrain.state
        extra = ot.add_milestone(
            ot.contracts["ctr_margaret"],
            name="C",
            description="Sequence C",
            amount_usd=Decimal(100),
        )
        response = await agent.post("fund", {"milestoneId": extra.id})
        assert response.json()["card"]["channel"] == HIRING  # routes gone: the default again

    audit = [
        (e.action, e.actor, e.details)
        for e in await sandbox.services.store.read_audit()
        if e.action.startswith("route_")
    ]
    assert audit == [
        ("route_set", f"slack:{ADMIN}", {"key": "type:milestone_fund", "channel": GENERAL}),
        ("route_set", f"slack:{ADMIN}", {"key": "job:job_lidar", "channel": LIDAR}),
        ("route_removed", f"slack:{ADMIN}", {"key": "type:milestone_fund"}),
        ("route_removed", f"slack:{ADMIN}", {"key": "job:job_lidar"}),
    ]
    assert await sandbox.services.store.list_routes() == {}
