"""The agent API against agents that lie: about who they are, and with bodies built to hurt.

There is no name field: an agent is the token it presents. Any field that tries to say
otherwise is rejected as unknown, and headers that try are ignored — the card names the
token's agent. Every refusal has a clear status, reaches nothing at OpenTrain, and posts
nothing in Slack.

Proven elsewhere, not repeated here (tests/e2e/test_agent_api.py): no token, a wrong token
(nine shapes of it) and no configured tokens get 401; each token speaks for its own agent;
an `approvalUrl` or a `status` in a body is refused; a note over 500 characters, a body
over 64 KiB (with or without Content-Length), duplicate keys, NaN and invalid UTF-8 are
refused; an internal failure never leaks its message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.sandbox.runner import Sandbox
from tests.support.bot_harness import ROOMY_POLICY, SandboxFactory
from tests.support.wait import wait_for

PLANNER = "agent-token-planner-0123456789"
AUDITOR = "agent-token-auditor-9876543210"
HIRING = "C0HIRING"
HIRE = {
    "proposalId": "prop_ada",
    "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450},
}


def bodies(handed_over: str) -> dict[str, dict[str, Any]]:
    """One valid body per endpoint."""
    return {
        "hire": HIRE,
        "fund": {"milestoneId": "ms_batch2"},
        "payout": {"milestoneId": "ms_batch1"},
        "end": {"contractId": "ctr_linus"},
        "approvals": {"approvalId": handed_over},
    }


# Ways an agent might try to name someone else as the requester.
IMPERSONATION = [
    ("agent", "planner"),
    ("agentName", "planner"),
    ("requester", {"kind": "agent", "id": "planner"}),
    ("requestedBy", "planner"),
    ("requesterId", "U0ANA"),
    ("onBehalfOf", "planner"),
    ("as", "planner"),
    ("actor", "agent:planner"),
    ("user", "U0ANA"),
    ("name", "planner"),
]


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    # These tests send dozens of variants a minute; the rate limit has tests of its own.
    return await make_sandbox(
        agent_tokens=f"planner:{PLANNER},auditor:{AUDITOR}",
        agent_policy_file=ROOMY_POLICY,
        slack_rate_limit_scale=100,
    )


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15) as client:
        yield client


async def post(
    http: httpx.AsyncClient, action: str, body: Any, token: str = AUDITOR, **headers: str
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post(
        f"/agent/v1/{action}",
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
    )


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["error"], body
    assert body["requestId"] == response.headers["X-Request-Id"]
    return body


def unknown_fields(body: dict[str, Any]) -> set[str]:
    return {i["field"] for i in body["details"]["issues"] if i["problem"] == "unknown field"}


def reached_opentrain(sandbox: Sandbox, since: int) -> list[str]:
    return [
        f"{e['method']} {e['path']}"
        for e in sandbox.opentrain.requests.since(since)
        if e["path"] != "/updates"
    ]


def posted(sandbox: Sandbox) -> int:
    return sum(len(sandbox.slack.messages(c)) for c in sandbox.slack.state.channels)


async def elsewhere(sandbox: Sandbox) -> str:
    """An approval the agent requested from OpenTrain itself, to hand over."""
    token = sandbox.opentrain.state.seeded["fullToken"]
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {token}"}
    ) as opentrain:
        response = await opentrain.post("/milestones/ms_lidar1/fund")
    assert response.status_code == 202, response.text
    return str(response.json()["approval"]["id"])


async def test_no_field_lets_a_token_speak_for_another_agent(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    handed_over = await elsewhere(sandbox)
    mark, before = len(sandbox.opentrain.requests), posted(sandbox)
    for action, body in bodies(handed_over).items():
        for field, value in IMPERSONATION:
            answer = refused(await post(http, action, {**body, field: value}), 400, "BAD_REQUEST")
            assert unknown_fields(answer) == {field}, (action, field, answer)
    nested = {**HIRE, "milestone": {**HIRE["milestone"], "requester": "planner"}}
    answer = refused(await post(http, "hire", nested), 400, "BAD_REQUEST")
    assert unknown_fields(answer) == {"milestone.requester"}
    assert reached_opentrain(sandbox, mark) == [] and posted(sandbox) == before


async def test_the_card_names_the_token_whatever_the_headers_or_the_note_say(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    response = await post(
        http,
        "fund",
        {"milestoneId": "ms_batch2", "note": "Requested by planner, on behalf of planner"},
        **{"X-Agent": "planner", "X-Requester": "planner", "X-On-Behalf-Of": "planner"},
    )
    assert response.status_code == 202, response.text
    tracked = response.json()["tracked"]
    assert tracked["requester"]["kind"] == "agent" and tracked["requester"]["id"] == "auditor"
    card = await wait_for(
        lambda: next(
            (
                m
                for m in sandbox.slack.messages(HIRING)
                if (m.metadata or {}).get("event_payload", {}).get("approvalId")
                == response.json()["approval"]["id"]
            ),
            None,
        ),
        message="the card",
    )
    shown = json.dumps(card.blocks)
    assert "agent auditor" in shown and "agent planner" not in shown
    audit = await sandbox.services.store.read_audit(approval_id=response.json()["approval"]["id"])
    assert {entry.actor for entry in audit if entry.action == "request"} == {"agent:auditor"}


async def test_two_tokens_at_once_are_no_token(sandbox: Sandbox, http: httpx.AsyncClient) -> None:
    mark = len(sandbox.opentrain.requests)
    for header in (
        f"Bearer {AUDITOR} {PLANNER}",
        f"Bearer {AUDITOR},{PLANNER}",
        f"Bearer {AUDITOR}\tplanner",
    ):
        response = await http.post(
            "/agent/v1/fund", json={"milestoneId": "ms_batch2"}, headers={"Authorization": header}
        )
        refused(response, 401, "UNAUTHORIZED")
    assert reached_opentrain(sandbox, mark) == []


OVERSIZED: list[tuple[str, dict[str, Any], str]] = [
    ("hire", {**HIRE, "proposalId": "p" * 129}, "proposalId"),
    ("hire", {**HIRE, "milestone": {**HIRE["milestone"], "name": "n" * 201}}, "milestone.name"),
    (
        "hire",
        {**HIRE, "milestone": {**HIRE["milestone"], "description": "d" * 3001}},
        "milestone.description",
    ),
    ("hire", {**HIRE, "milestone": {**HIRE["milestone"], "amount": "9" * 400}}, "milestone.amount"),
    ("fund", {"milestoneId": "m" * 5000}, "milestoneId"),
    ("payout", {"milestoneId": "ms_batch1", "channel": "C" + "0" * 40}, "channel"),
    ("end", {"contractId": "ctr_linus", "note": "x" * 60_000}, "note"),
    ("approvals", {"approvalId": "a" * 129}, "approvalId"),
]


async def test_oversized_fields_are_refused_before_opentrain(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    mark, before = len(sandbox.opentrain.requests), posted(sandbox)
    for action, body, field in OVERSIZED:
        answer = refused(await post(http, action, body), 400, "BAD_REQUEST")
        assert field in {issue["field"] for issue in answer["details"]["issues"]}, (field, answer)
        assert len(json.dumps(answer)) < 4000  # the refusal does not echo the huge value back
    # Thousands of unknown keys: one short answer, not one line per key.
    many = {**HIRE, **{f"k{n}": n for n in range(3000)}}
    answer = refused(await post(http, "hire", many), 400, "BAD_REQUEST")
    assert len(answer["details"]["issues"]) <= 20
    # Nesting deep enough to break a recursive parser, well under the size limit.
    deep = b"[" * 30_000 + b"]" * 30_000
    answer = refused(await post(http, "fund", deep), 400, "BAD_REQUEST")
    assert "not valid JSON" in answer["error"]
    assert reached_opentrain(sandbox, mark) == [] and posted(sandbox) == before
