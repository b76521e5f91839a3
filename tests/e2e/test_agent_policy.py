"""Agents' spend policy end to end: limits that deny, limits that ask an admin in Slack, rates.

Every refusal is checked where it matters: the OpenTrain simulator's request log
shows that no write — and, where the policy needs no facts, no request at all —
reached OpenTrain.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cards import POLICY_EVENT_TYPE, ActionId
from bot.opentrain import OpenTrainClient
from bot.opentrain.models import HireTerms
from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.runner import Sandbox
from bot.sandbox.slack.model import Message
from tests.e2e.test_agent_api import (
    Agent,
    assert_envelope,
    assert_schema,
    calls_to_opentrain,
    card_in,
    hire_body,
)
from tests.e2e.test_escalations import say
from tests.e2e.test_links import approval_made_elsewhere
from tests.e2e.test_reminders import move_to
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

PLANNER = "planner-token-0123456789abcdef"
LABELER = "labeler-token-0123456789abcdef"
SCOUT = "scout-token-0123456789abcdefgh"
TOKENS = f"planner:{PLANNER},labeler:{LABELER},scout:{SCOUT}"
HIRING = "C0HIRING"  # DEFAULT_CHANNEL, so also where policy cards go
POLICY = """\
default:
  maxPerRequestUsd: 600
  maxPerDayUsd: 800
  maxPerWeekUsd: 1000
  requestsPerMinute: 30
agents:
  labeler: {overLimit: ask}
  scout: {allowedTypes: [fund], allowedJobs: [job_lidar], requestsPerMinute: 3}
"""


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory, tmp_path: Path) -> Sandbox:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return await make_sandbox(
        agent_tokens=TOKENS, agent_policy_file=str(policy), slack_rate_limit_scale=100
    )


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as client:
        yield client


def writes(sandbox: Sandbox, since: int) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"]) for e in calls_to_opentrain(sandbox, since) if e["method"] != "GET"
    ]


def policy_cards(sandbox: Sandbox) -> list[Message]:
    return [
        m
        for m in sandbox.slack.messages(HIRING)
        if (m.metadata or {}).get("event_type") == POLICY_EVENT_TYPE
    ]


async def policy_card(sandbox: Sandbox, request_id: str, words: str) -> Message:
    """The policy card of `request_id` once it shows `words`."""

    def found() -> Message | None:
        for card in policy_cards(sandbox):
            payload = (card.metadata or {}).get("event_payload") or {}
            if payload.get("requestId") == request_id and words in shown(card):
                return card
        return None

    return await wait_for(found, message=f"policy card of {request_id} showing {words}")


def shown(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


async def click(sandbox: Sandbox, card: Message, action: ActionId, user: str) -> str:
    """Press a policy card's button as `user`; their private answer."""
    before = len(sandbox.slack.ephemerals(user))
    await sandbox.slack.click(
        user_id=user, action_id=action.value, channel_id=HIRING, message_ts=card.ts
    )
    answers = await wait_for(
        lambda: [e for e in sandbox.slack.ephemerals(user)[before:] if "⏳" not in e.text],
        message=f"{user}'s answer",
    )
    return answers[0].text


async def over_the_daily_limit(sandbox: Sandbox, agent: Agent) -> dict[str, Any]:
    """Hire ($504.95), then fund ms_lidar1 ($300): $804.95 > $800 a day."""
    hire = hire_body(milestone={"name": "Batch 1", "amount": "450"})
    assert (await agent.post("hire", hire)).status_code == 202
    mark = len(sandbox.opentrain.requests)
    response = await agent.post("fund", {"milestoneId": "ms_lidar1", "note": "night batch"})
    assert writes(sandbox, mark) == []
    return {"response": response, "mark": mark}


# --- within the policy ------------------------------------------------------------------------


async def test_within_the_policy_the_card_shows_the_agent_and_its_usage(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    agent = Agent(http, PLANNER)
    first = await agent.post("fund", {"milestoneId": "ms_batch2"})
    assert first.status_code == 202, first.text
    second = await agent.post("payout", {"milestoneId": "ms_batch1"})
    assert second.status_code == 202, second.text
    card = card_in(sandbox, HIRING, second.json()["approval"]["id"])
    assert "planner · 2 requests · $700.00 of $800.00 in 24 h" in shown(card)
    # Asking again for the same funding is answered with the same approval, never counted twice.
    again = await agent.post("fund", {"milestoneId": "ms_batch2"})
    assert again.status_code == 202 and again.json() == first.json()


# --- deny ---------------------------------------------------------------------------------------


async def test_over_the_per_request_limit_is_denied_before_anything_reaches_opentrain(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    mark = len(sandbox.opentrain.requests)
    big = hire_body(milestone={"name": "Batch 1", "amount": "600"})  # $669.95 with fees
    body = assert_envelope(await Agent(http, PLANNER).post("hire", big), 403, "FORBIDDEN")
    assert body["details"] == {
        "reason": "policy_denied",
        "rule": "maxPerRequestUsd",
        "limitUsd": "600.00",
        "usedUsd": None,
        "requestedUsd": "669.95",
    }
    assert "$669.95" in body["error"]
    assert calls_to_opentrain(sandbox, mark) == []  # a hire's cost needs no read
    assert sandbox.opentrain.state.approvals == {}
    [denied] = [e for e in await sandbox.services.store.read_audit() if e.actor == "agent:planner"]
    assert denied.action == "policy_denied" and denied.details["rule"] == "maxPerRequestUsd"


async def test_over_the_daily_then_the_weekly_limit_is_denied(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    agent = Agent(http, PLANNER)
    over = await over_the_daily_limit(sandbox, agent)
    body = assert_envelope(over["response"], 403, "FORBIDDEN")
    assert body["details"]["rule"] == "maxPerDayUsd"
    assert body["details"]["usedUsd"] == "504.95" and body["details"]["requestedUsd"] == "300.00"

    # A day later the hire no longer counts for the day, but still for the week.
    await move_to(sandbox, sandbox.opentrain.state.now() + timedelta(hours=25))
    assert (await agent.post("fund", {"milestoneId": "ms_lidar2"})).status_code == 202  # $200
    mark = len(sandbox.opentrain.requests)
    denied = await agent.post("fund", {"milestoneId": "ms_lidar1"})  # $300: $1,004.95 > $1,000
    body = assert_envelope(denied, 403, "FORBIDDEN")
    assert body["details"]["rule"] == "maxPerWeekUsd"
    assert body["details"]["usedUsd"] == "704.95"
    assert writes(sandbox, mark) == []


async def test_types_and_jobs_outside_the_policy_are_denied(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    scout = Agent(http, SCOUT)
    mark = len(sandbox.opentrain.requests)
    body = assert_envelope(
        await scout.post("payout", {"milestoneId": "ms_batch1"}), 403, "FORBIDDEN"
    )
    assert body["details"]["rule"] == "allowedTypes"
    assert calls_to_opentrain(sandbox, mark) == []  # decided before any read

    body = assert_envelope(await scout.post("fund", {"milestoneId": "ms_batch2"}), 403, "FORBIDDEN")
    assert body["details"]["rule"] == "allowedJobs"  # ms_batch2 is on job_dashcam
    assert writes(sandbox, mark) == []
    allowed = await scout.post("fund", {"milestoneId": "ms_lidar2"})  # job_lidar
    assert allowed.status_code == 202, allowed.text


async def test_requests_per_minute_are_limited_before_anything_else(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    scout = Agent(http, SCOUT)  # 3 a minute
    for _ in range(3):
        assert (await scout.get_approval("apr_unknown")).status_code == 404
    mark = len(sandbox.opentrain.requests)
    limited = await scout.post("fund", {"milestoneId": "ms_lidar2"})
    body = assert_envelope(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["Retry-After"]) >= 1
    assert body["details"]["reason"] == "rate_limited"
    assert calls_to_opentrain(sandbox, mark) == []
    # Another agent is not slowed down by it.
    assert (await Agent(http, PLANNER).get_approval("apr_unknown")).status_code == 404


# --- ask ------------------------------------------------------------------------------------------


async def test_ask_then_allow_makes_the_request_and_links_its_card(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    labeler = Agent(http, LABELER)
    over = await over_the_daily_limit(sandbox, labeler)
    response = over["response"]
    assert response.status_code == 202, response.text
    asked = response.json()
    assert_schema(asked, "PolicyRequestResponse")
    assert asked["status"] == "awaiting_policy_approval" and asked["requestId"]
    assert asked["policy"] == {
        "rule": "maxPerDayUsd",
        "limitUsd": "800.00",
        "usedUsd": "504.95",
        "requestedUsd": "300.00",
    }
    request_id = asked["requestId"]
    card = await policy_card(sandbox, request_id, "Waiting for an admin")
    text = shown(card)
    assert "labeler" in text and "$300.00" in text and "$800.00" in text
    assert "night batch" in text and "maxPerDayUsd" in text

    # Ben is no admin: refused privately, nothing changes, nothing reaches OpenTrain.
    refusal = await click(sandbox, card, ActionId.ALLOW_POLICY_REQUEST, "U0BEN")
    assert "Only the workspace's admins and owners can allow" in refusal
    polled = await labeler.http.get(f"/agent/v1/requests/{request_id}", headers=labeler.headers)
    assert polled.json()["status"] == "awaiting_policy_approval"
    assert writes(sandbox, over["mark"]) == []

    answer = await click(sandbox, card, ActionId.ALLOW_POLICY_REQUEST, "U0ANA")
    assert "Allowed once" in answer
    assert writes(sandbox, over["mark"]) == [("POST", "/milestones/ms_lidar1/fund")]
    polled = await labeler.http.get(f"/agent/v1/requests/{request_id}", headers=labeler.headers)
    done = polled.json()
    assert_schema(done, "PolicyRequestResponse")
    assert done["status"] == "allowed" and done["decidedAt"]
    approval_id = done["approval"]["approval"]["id"]
    assert done["approval"]["tracked"]["requester"]["id"] == "labeler"
    cosign_card = card_in(sandbox, HIRING, approval_id)
    assert cosign_card is not None
    assert "labeler · 2 requests · $804.95 of $800.00 in 24 h" in shown(cosign_card)
    updated = await policy_card(sandbox, request_id, "Allowed once")
    assert "<@U0ANA>" in shown(updated)
    assert str(done["approval"]["card"]["permalink"]) in shown(updated)
    assert "allow-policy-request" not in shown(updated)  # its buttons are gone

    # A late press (a client that has not seen the update yet) changes nothing.
    late = await sandbox.services.gate.requests.refuse(request_id, by_user="U0ANA")
    assert not late.by_this and late.request.status == "allowed"
    assert writes(sandbox, over["mark"]) == [("POST", "/milestones/ms_lidar1/fund")]
    # Another agent cannot read the request.
    other = Agent(http, PLANNER)
    gone = await other.http.get(f"/agent/v1/requests/{request_id}", headers=other.headers)
    assert_envelope(gone, 404, "NOT_FOUND")
    actions = [e.action for e in await sandbox.services.store.read_audit()]
    assert "policy_asked" in actions and "policy_allowed" in actions


async def test_ask_then_refuse_reaches_nothing(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    labeler = Agent(http, LABELER)
    over = await over_the_daily_limit(sandbox, labeler)
    request_id = over["response"].json()["requestId"]
    card = await policy_card(sandbox, request_id, "Waiting for an admin")
    assert "Refused" in await click(sandbox, card, ActionId.REFUSE_POLICY_REQUEST, "U0ANA")
    await policy_card(sandbox, request_id, "Refused")
    polled = await labeler.http.get(f"/agent/v1/requests/{request_id}", headers=labeler.headers)
    assert polled.json()["status"] == "refused" and polled.json()["approval"] is None
    # Too late to allow it now, even from a client still showing the buttons.
    late = await sandbox.services.gate.requests.allow(request_id, by_user="U0ANA")
    assert not late.by_this and late.request.status == "refused"
    assert writes(sandbox, over["mark"]) == []


async def test_a_request_nobody_answers_expires_after_24_hours(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    labeler = Agent(http, LABELER)
    over = await over_the_daily_limit(sandbox, labeler)
    request_id = over["response"].json()["requestId"]
    await policy_card(sandbox, request_id, "Waiting for an admin")
    await move_to(sandbox, sandbox.opentrain.state.now() + timedelta(hours=24, minutes=1))
    await sandbox.services.gate.requests.expire_due()
    card = await policy_card(sandbox, request_id, "Expired")
    polled = await labeler.http.get(f"/agent/v1/requests/{request_id}", headers=labeler.headers)
    assert polled.json()["status"] == "expired"
    assert "allow-policy-request" not in shown(card)
    late = await sandbox.services.gate.requests.allow(request_id, by_user="U0ANA")
    assert not late.by_this and late.request.status == "expired"
    assert writes(sandbox, over["mark"]) == []


async def test_a_handed_over_hire_is_over_the_limit_its_amount_unknown(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    async with OpenTrainClient(sandbox.opentrain.origin, FULL_TOKEN) as opentrain:
        terms = HireTerms(name="Batch 1", description="10k boxes", amount=Decimal(450))
        approval = (await opentrain.hire("prop_ada", terms)).approval.model_dump(by_alias=True)
    mark = len(sandbox.opentrain.requests)
    answer = await Agent(http, PLANNER).post("approvals", {"approvalId": approval["id"]})
    body = assert_envelope(answer, 403, "FORBIDDEN")
    assert body["details"]["rule"] == "maxPerRequestUsd"
    assert body["details"]["requestedUsd"] is None
    assert "POST /agent/v1/hire" in body["error"]
    assert writes(sandbox, mark) == [] and card_in(sandbox, HIRING, approval["id"]) is None

    # A handed-over funding has a known amount, and counts like any other request.
    funding = await approval_made_elsewhere(sandbox, "/milestones/ms_lidar1/fund")
    answer = await Agent(http, PLANNER).post("approvals", {"approvalId": funding["id"]})
    assert answer.status_code == 202, answer.text
    usage = await sandbox.services.gate.spending.usage("planner")
    assert usage.requests_24h == 1 and usage.used_24h == 300


async def test_an_approver_tier_with_admins_decides_its_requests(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    # Requests of $250 and more: Lei approves, and only Kai decides agents' requests over a limit.
    await say(sandbox, "approvers set global over 250 <@U0LEI|lei>")
    await say(sandbox, "approvers admins global over 250 <@U0KAI|kai>")
    labeler = Agent(http, LABELER)
    over = await over_the_daily_limit(sandbox, labeler)  # the $300 request is the one asked
    request_id = over["response"].json()["requestId"]
    card = await policy_card(sandbox, request_id, "Decided by <@U0KAI>")
    assert "approver tier for $250.00 and more" in shown(card)

    # Ana is the workspace's admin, but this tier names its own: refused, nothing reached.
    refusal = await click(sandbox, card, ActionId.ALLOW_POLICY_REQUEST, "U0ANA")
    assert "Only these people can allow an agent's request of $250.00 and more" in refusal
    assert "U0KAI" in refusal
    assert writes(sandbox, over["mark"]) == []
    stored = await sandbox.services.gate.requests.get(request_id)
    assert stored is not None and stored.status == "awaiting_policy_approval"

    assert "Allowed once" in await click(sandbox, card, ActionId.ALLOW_POLICY_REQUEST, "U0KAI")
    assert writes(sandbox, over["mark"]) == [("POST", "/milestones/ms_lidar1/fund")]
    refused = [e for e in await sandbox.services.store.read_audit() if e.action == "refused"]
    assert [(e.actor, e.details["need"]) for e in refused] == [("slack:U0ANA", "listed")]
