"""Approval links on a foreign host are never linked, whoever supplies them.

An agent or a pasted message cannot choose the link: the bot reads each approval by id
from OpenTrain. And when OpenTrain's own answer carries an `approvalUrl` that is not on
the configured host (here the simulator is made to return one, through its state),
every card, answer, reminder, unfurl and Home tab shows "link withheld" instead of a
button — nothing anywhere in Slack points at the foreign host.

Proven elsewhere, not repeated here: tests/e2e/test_agent_api.py refuses an `approvalUrl`
field in an agent's body and keeps a note's link off the card; tests/e2e/test_links.py
ignores pasted links on other hosts; tests/e2e/test_commands.py refuses `/opentrain track`
of a link to another host; tests/unit/test_cards_safety.py checks the host rule itself
(ports, userinfo, schemes).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import pytest

from bot.cards import ActionId
from bot.sandbox.runner import Sandbox
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import CHANNEL, USER, Bot, hire_values
from tests.support.slack_scan import shown, tokens, urls
from tests.support.wait import wait_for

FOREIGN = "https://opentrain.evil.example"
AGENT_TOKEN = "agent-token-planner-0123456789"


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    sandbox = await make_sandbox(agent_tokens=f"planner:{AGENT_TOKEN}", slack_rate_limit_scale=100)
    return Bot(sandbox)


async def as_agent(sandbox: Sandbox, action: str, body: dict[str, object]) -> str:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15) as http:
        answer = await http.post(
            f"/agent/v1/{action}", json=body, headers={"Authorization": f"Bearer {AGENT_TOKEN}"}
        )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["approval"]["id"])


async def made_elsewhere(sandbox: Sandbox, path: str) -> str:
    token = sandbox.opentrain.state.seeded["fullToken"]
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {token}"}
    ) as opentrain:
        response = await opentrain.post(path)
    assert response.status_code == 202, response.text
    return str(response.json()["approval"]["id"])


async def test_opentrain_returning_a_foreign_approval_url_gets_no_link_anywhere(bot: Bot) -> None:
    sandbox, state = bot.sandbox, bot.sandbox.opentrain.state
    # From now on OpenTrain hands out approval links on another host.
    state.public_origin = FOREIGN

    view = await bot.modal("hire prop_ada 450")
    await bot.submit(view, hire_values())
    await bot.command("payout ms_batch1")
    funded = await as_agent(sandbox, "fund", {"milestoneId": "ms_batch2"})
    handed = await made_elsewhere(sandbox, "/contracts/ctr_linus/end")
    await as_agent(sandbox, "approvals", {"approvalId": handed})
    tracked = await made_elsewhere(sandbox, "/milestones/ms_lidar1/fund")
    await bot.command(f"track {tracked}")
    # A person pastes the link on our host: the bot reads the approval by id — and OpenTrain's
    # answer names the other host.
    pasted = await made_elsewhere(sandbox, "/milestones/ms_lidar2/fund")
    await sandbox.slack.driver.post_user_message(
        user_id=USER, channel_id=CHANNEL, text=f"{sandbox.opentrain.origin}/approvals/{pasted}"
    )
    cards = await wait_for(lambda: len(bot.cards()) == 6 and bot.cards(), message="six cards")
    assert all(a.url.startswith(FOREIGN) for a in state.approvals.values())

    # Outcomes re-read the approval (still foreign); reminders, lists and Home show it too.
    await bot.command(f"approvers set <#{CHANNEL}|hiring> <@U0BEN|ben>")
    state.confirm(funded)
    await wait_for(
        lambda: "Confirmed" in json.dumps(bot.card(funded).blocks), message="the confirmed card"
    )
    card = bot.card(handed)
    assert card is not None
    await bot.click(card, ActionId.REMIND_APPROVERS)
    await wait_for(lambda: sandbox.slack.dms("U0BEN"), message="the reminder DM")
    await bot.command("pending")
    await sandbox.slack.driver.open_home(USER)
    await wait_for(lambda: sandbox.slack.state.home_view(USER), message="the Home tab")
    await sandbox.services.notifier.drain()

    for approval_id in (str((m.metadata or {})["event_payload"]["approvalId"]) for m in cards):
        current = bot.card(approval_id)
        assert current is not None
        if approval_id != funded:  # a resolved card offers no link, withheld or not
            assert "Approval link withheld" in json.dumps(current.blocks), current.blocks
    foreign = urlsplit(FOREIGN).netloc
    for where, url in urls(sandbox.slack.state):
        assert urlsplit(url).netloc != foreign, (where, url)
    for item in shown(sandbox.slack.state):
        if item.kind == "plain_text":
            continue
        for token in tokens(item.text):
            assert foreign not in token, item
