"""The agents' MCP door at /mcp, driven by the official `mcp` client over streamable HTTP:
the same tokens, policy, validation and answers as the HTTP agent API."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from bot.mcp_stdio import bot_client
from bot.sandbox.runner import Sandbox
from tests.e2e.test_agent_api import AGENT_TOKENS, PLANNER_TOKEN, card_in
from tests.support.bot_harness import ROOMY_POLICY, SandboxFactory
from tests.support.wait import wait_for

HIRING = "C0HIRING"


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(agent_tokens=AGENT_TOKENS, agent_policy_file=ROOMY_POLICY)


@asynccontextmanager
async def mcp_client(sandbox: Sandbox, token: str = PLANNER_TOKEN) -> AsyncIterator[Client]:
    async with bot_client(sandbox.bot_url, token) as client:
        yield client


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def envelope(result: Any) -> dict[str, Any]:
    """A tool error's envelope: the SDK's "Error executing tool <name>: " and then the JSON."""
    assert result.is_error
    prefix, _, text = result.content[0].text.partition(": ")
    assert prefix.startswith("Error executing tool ")
    data: dict[str, Any] = json.loads(text)
    return data


async def writes(sandbox: Sandbox) -> list[dict[str, Any]]:
    """What the bot asked OpenTrain to change."""
    return [r for r in sandbox.opentrain.requests.since(0) if r["method"] != "GET"]


async def test_tools_say_a_human_confirms_and_the_bot_moves_no_money(sandbox: Sandbox) -> None:
    async with mcp_client(sandbox) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) >= {
        "request_hire",
        "request_fund",
        "request_payout",
        "request_end",
        "hand_over_approval",
        "get_approval",
        "list_pending",
        "get_request",
        "wait_for_outcome",
    }
    for tool in tools.values():
        assert "human must confirm" in (tool.description or "")
        assert "never moves money" in (tool.description or "")
    hire = tools["request_hire"].input_schema
    assert set(hire["required"]) == {"proposalId", "milestone"}
    # Results are the HTTP API's bodies, schema and all (the client checks answers against it).
    approval = tools["get_approval"].output_schema or {}
    assert {"approval", "tracked", "card"} <= set(approval["properties"])
    pending = tools["list_pending"].output_schema or {}
    assert pending["properties"]["approvals"]["type"] == "array"


async def test_request_fund_posts_the_card_and_get_approval_reads_it(sandbox: Sandbox) -> None:
    async with mcp_client(sandbox) as client:
        requested = structured(await client.call_tool("request_fund", {"milestoneId": "ms_batch2"}))
        approval_id = requested["approval"]["id"]
        assert requested["card"]["channel"] == HIRING
        await wait_for(lambda: card_in(sandbox, HIRING, approval_id), message="the card")
        read = structured(await client.call_tool("get_approval", {"approvalId": approval_id}))
        pending = structured(await client.call_tool("list_pending", {}))
    assert read["approval"]["id"] == approval_id and read["tracked"]["status"] == "pending"
    assert [a["approval"]["id"] for a in pending["approvals"]] == [approval_id]


async def test_refusals_carry_the_apis_envelope(sandbox: Sandbox) -> None:
    async with mcp_client(sandbox) as client:
        bad = envelope(
            await client.call_tool(
                "request_hire",
                {"proposalId": "prop_ada", "milestone": {"name": "x", "amount": "1,50"}},
            )
        )
        missing = envelope(await client.call_tool("get_approval", {"approvalId": "apr_nope"}))
        other = envelope(await client.call_tool("get_request", {"requestId": "req_nope"}))
    assert bad["code"] == "BAD_REQUEST" and bad["status"] == 400
    assert missing["code"] == "NOT_FOUND" and missing["details"]["approvalId"] == "apr_nope"
    assert other["code"] == "NOT_FOUND" and other["details"]["resource"] == "requests"
    assert await writes(sandbox) == []


async def test_a_bad_token_is_refused_before_anything(sandbox: Sandbox) -> None:
    before = len(sandbox.opentrain.requests.since(0))
    with pytest.raises(Exception):  # noqa: B017 - the client fails to connect at all
        async with mcp_client(sandbox, token="not-a-token") as client:
            await client.call_tool("request_fund", {"milestoneId": "ms_batch2"})
    reached = [r for r in sandbox.opentrain.requests.since(before) if r["path"] != "/updates"]
    assert reached == []  # only the bot's own feed poll


async def test_the_stdio_door_relays_the_bots_tools(sandbox: Sandbox) -> None:
    """`python -m bot mcp --stdio`, launched as agents launch MCP servers, talks to the bot."""
    env = {
        **os.environ,
        "COSIGN_URL": sandbox.bot_url,
        "COSIGN_AGENT_TOKEN": PLANNER_TOKEN,
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "bot", "mcp", "--stdio"], env=env
    )
    async with Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        requested = structured(await client.call_tool("request_fund", {"milestoneId": "ms_batch2"}))
    assert "wait_for_outcome" in tools
    await wait_for(lambda: card_in(sandbox, HIRING, requested["approval"]["id"]), message="card")


async def test_wait_for_outcome_answers_when_the_human_confirms(sandbox: Sandbox) -> None:
    async with mcp_client(sandbox) as client:
        requested = structured(await client.call_tool("request_fund", {"milestoneId": "ms_batch2"}))
        approval_id = requested["approval"]["id"]
        waiting = asyncio.create_task(
            client.call_tool("wait_for_outcome", {"approvalId": approval_id, "timeoutSeconds": 120})
        )
        await wait_for(lambda: card_in(sandbox, HIRING, approval_id), message="the card")
        assert not waiting.done()
        sandbox.opentrain.state.confirm(approval_id)  # the human, in OpenTrain
        confirmed_at = time.monotonic()
        done = structured(await asyncio.wait_for(waiting, timeout=60))
    assert done["tracked"]["status"] == "confirmed"
    assert time.monotonic() - confirmed_at < 30  # the outcome, not the 120 s timeout


async def test_wait_for_outcome_reports_progress_and_the_state_at_its_timeout(
    sandbox: Sandbox,
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with mcp_client(sandbox) as client:
        requested = structured(await client.call_tool("request_fund", {"milestoneId": "ms_batch2"}))
        approval_id = requested["approval"]["id"]
        still = structured(
            await client.call_tool(
                "wait_for_outcome",
                {"approvalId": approval_id, "timeoutSeconds": 2},
                progress_callback=progress,
            )
        )
    assert still["tracked"]["status"] == "pending"
    assert seen and all(total == 2 for _, total, _ in seen)
    assert "still pending" in (seen[0][2] or "")


async def test_over_its_limit_an_agent_is_asked_to_wait_for_an_admin(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    """The spend policy is the HTTP API's: over a limit, `ask` holds the request for an admin."""
    policy = tmp_path / "policy.yaml"
    policy.write_text("default:\n  maxPerRequestUsd: 600\n  overLimit: ask\n", encoding="utf-8")
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS, agent_policy_file=str(policy))
    hire = {"proposalId": "prop_ada", "milestone": {"name": "Big batch", "amount": "700.00"}}
    async with mcp_client(sandbox) as client:
        asked = structured(await client.call_tool("request_hire", hire))
        request_id = asked["requestId"]
        read = structured(await client.call_tool("get_request", {"requestId": request_id}))
    assert asked["status"] == read["status"] == "awaiting_policy_approval"
    assert asked["policy"]["rule"] == "maxPerRequestUsd"
    assert await writes(sandbox) == []  # nothing reaches OpenTrain before an admin allows it
