"""Done when: an agent with only the bot's URL and its token runs hire → fund → payout → end
through the bot; each co-sign lands as a card in the right channel, a human confirms each in
OpenTrain, and the agent learns every outcome by polling GET /agent/v1/approvals/{id}."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.runner import Sandbox
from tests.e2e.test_agent_api import AGENT_TOKENS, Agent, assert_schema, card_in
from tests.support.bot_harness import ROOMY_POLICY, SandboxFactory
from tests.support.wait import wait_for

HIRING, GENERAL = "C0HIRING", "C0GENERAL"


async def co_sign(
    sandbox: Sandbox, agent: Agent, action: str, body: dict[str, Any], channel: str
) -> dict[str, Any]:
    """Request through the bot, check the card, let the human confirm, wait for the outcome."""
    response = await agent.post(action, body)
    assert response.status_code == 202, response.text
    requested = response.json()
    assert_schema(requested, "ApprovalResponse")
    approval_id = requested["approval"]["id"]
    assert requested["card"]["channel"] == channel, (action, requested["card"])
    assert card_in(sandbox, channel, approval_id) is not None

    sandbox.opentrain.state.confirm(approval_id)  # the human, in OpenTrain
    done = await agent.wait_outcome(approval_id)
    assert done["tracked"]["status"] == "confirmed"
    assert done["approval"]["status"] == "confirmed"

    def settled() -> bool:
        card = card_in(sandbox, channel, approval_id)
        replies = sandbox.slack.replies(channel, card.ts)
        return "Review & confirm" not in json.dumps(card.blocks) and len(replies) == 1

    await wait_for(settled, message=f"{action} card updated with one thread reply")
    result: dict[str, Any] = done["tracked"]["outcome"]["result"]
    return result


async def test_the_whole_lifecycle_through_the_bot(make_sandbox: SandboxFactory) -> None:
    # Roomy: waiting for four outcomes polls more than the default 30 requests a minute.
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS, agent_policy_file=ROOMY_POLICY)
    # An admin sends contract ends to #general; everything else uses DEFAULT_CHANNEL (#hiring).
    await sandbox.slack.send_command(
        command="/opentrain",
        text="route end <#C0GENERAL|general>",
        user_id="U0ANA",
        channel_id=HIRING,
    )
    await wait_for(sandbox.services.store.list_routes, message="the end route")

    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as http:
        agent = Agent(http)
        hired = await co_sign(
            sandbox,
            agent,
            "hire",
            {
                "proposalId": "prop_ada",
                "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": "450"},
                "note": "Ada had the best sample",
            },
            HIRING,
        )
        contract_id = hired["contractId"]
        assert hired["hired"] is True

        # The next milestone is a direct write (no co-sign, no money): a human adds it in
        # OpenTrain, outside the bot.
        async with httpx.AsyncClient(
            base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {FULL_TOKEN}"}
        ) as opentrain:
            created = await opentrain.post(
                f"/contracts/{contract_id}/milestones",
                json={"name": "Batch 2", "description": "5k boxes", "amountUsd": 250},
            )
        assert created.status_code == 201, created.text
        milestone_id = created.json()["milestone"]["id"]

        funded = await co_sign(
            sandbox, agent, "fund", {"milestoneId": milestone_id, "channel": GENERAL}, GENERAL
        )
        assert funded["invoiceId"]
        paid = await co_sign(sandbox, agent, "payout", {"milestoneId": milestone_id}, HIRING)
        assert paid["payoutTransactionId"]
        # Batch 1 is still in escrow, so ending the contract is a co-sign too.
        ended = await co_sign(sandbox, agent, "end", {"contractId": contract_id}, GENERAL)
        assert ended == {"contractEnded": True}

    contract = sandbox.opentrain.state.contracts[contract_id]
    assert contract.status.value == "ended"
    milestone = sandbox.opentrain.state.milestones[milestone_id]
    assert milestone.status.value == "PAID"
    cards = [
        m
        for channel in (HIRING, GENERAL)
        for m in sandbox.slack.messages(channel)
        if (m.metadata or {}).get("event_payload", {}).get("approvalId")
    ]
    assert len(cards) == 4
    assert all("agent planner" in json.dumps(card.blocks) for card in cards)
