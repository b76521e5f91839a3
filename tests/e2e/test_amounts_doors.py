"""A decimal comma (`1,50`) is refused at every door — the `/opentrain hire` command, the hire
and milestone modals, and the agent API — with the amount it probably meant, and nothing
reaches OpenTrain (read back from the simulator's request log)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.cards import BlockId
from tests.e2e.test_agent_api import Agent, assert_envelope, hire_body
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import Bot, hire_values, milestone_values

MEANT = "Did you mean 1.50?"
AGENT_TOKEN = "agent-token-amounts-0123456789abcdef"


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return Bot(await make_sandbox(agent_tokens=f"planner:{AGENT_TOKEN}"))


@pytest.fixture
async def agent(bot: Bot) -> AsyncIterator[Agent]:
    async with httpx.AsyncClient(base_url=bot.sandbox.bot_url, timeout=15.0) as http:
        yield Agent(http, AGENT_TOKEN)


async def test_the_hire_command_refuses_a_decimal_comma(bot: Bot) -> None:
    delivery = await bot.command("hire prop_ada 1,50 Test")
    assert delivery.ok
    reply = await bot.answer()
    assert MEANT in reply.text
    assert "/opentrain hire" in reply.text  # the usage line: what to type instead
    assert not bot.sandbox.slack.state.open_views()
    assert await bot.writes() == [] and bot.approvals() == []


async def test_the_hire_modal_refuses_a_decimal_comma(bot: Bot) -> None:
    view = await bot.modal("hire prop_ada")
    submitted = await bot.submit(view, hire_values(amount="1,5"))
    assert submitted.ok and submitted.response_action == "errors"
    assert view.errors is not None and MEANT in view.errors[BlockId.HIRE_AMOUNT.value]
    assert not view.closed
    assert await bot.writes() == [] and bot.approvals() == []


async def test_the_milestone_modal_refuses_a_decimal_comma(bot: Bot) -> None:
    view = await bot.modal("milestone ctr_linus")
    submitted = await bot.submit(view, milestone_values(amount="1,5"))
    assert submitted.ok and submitted.response_action == "errors"
    assert view.errors is not None and MEANT in view.errors[BlockId.MILESTONE_AMOUNT.value]
    assert not view.closed
    assert await bot.writes() == []


async def test_the_agent_api_refuses_a_decimal_comma(bot: Bot, agent: Agent) -> None:
    body = hire_body(milestone={"name": "Batch 1", "amount": "1,50"})
    answer = assert_envelope(await agent.post("hire", body), 400, "BAD_REQUEST")
    [issue] = answer["details"]["issues"]
    assert issue["field"] == "milestone.amount"
    assert MEANT in issue["problem"]
    assert await bot.writes() == [] and bot.approvals() == []
