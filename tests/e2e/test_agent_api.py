"""The agent HTTP API over real HTTP, against both simulators: happy paths, OpenTrain's
refusals passed through, and every auth and validation failure (none reaches OpenTrain)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest

from bot.agent_openapi import openapi_document
from bot.sandbox.runner import Sandbox
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

PLANNER_TOKEN = "agent-token-planner-0123456789"
AUDITOR_TOKEN = "agent-token-auditor-9876543210"
AGENT_TOKENS = f"planner:{PLANNER_TOKEN}, auditor:{AUDITOR_TOKEN}"
HIRING = "C0HIRING"  # the sandbox's DEFAULT_CHANNEL


# --- helpers (shared with the other agent API test modules) ----------------------------------


class Agent:
    """An agent that knows only the bot's URL and its token."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = PLANNER_TOKEN) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def post(self, action: str, body: Any, **headers: str) -> httpx.Response:
        return await self.http.post(
            f"/agent/v1/{action}",
            content=json.dumps(body) if not isinstance(body, bytes) else body,
            headers={"Content-Type": "application/json", **self.headers, **headers},
        )

    async def get_approval(self, approval_id: str) -> httpx.Response:
        return await self.http.get(f"/agent/v1/approvals/{approval_id}", headers=self.headers)

    async def wait_outcome(self, approval_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """Poll GET /agent/v1/approvals/{id} until the bot reports an outcome."""

        async def resolved() -> dict[str, Any] | None:
            response = await self.get_approval(approval_id)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body if body["tracked"]["outcome"] else None

        # A poll every 0.2 s, not wait_for's 0.02 s: each one counts against the agent's rate.
        return await wait_for(
            resolved, timeout=timeout, interval=0.2, message=f"outcome of {approval_id}"
        )


def assert_schema(body: Any, model: str) -> None:
    """`body` matches the component `model` of the published OpenAPI document."""
    schema = {"$ref": f"#/components/schemas/{model}", **openapi_document()}
    jsonschema.validate(body, schema)


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "code", "requestId", "details"}, body
    assert body["code"] == code and body["error"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    assert uuid.UUID(body["requestId"]).version == 4
    assert_schema(body, "ErrorResponse")
    return body


def card_in(sandbox: Sandbox, channel: str, approval_id: str) -> Any:
    """The card for `approval_id` among the channel's top-level messages, if posted."""
    for message in sandbox.slack.messages(channel):
        payload = (message.metadata or {}).get("event_payload") or {}
        if payload.get("approvalId") == approval_id and not message.is_reply:
            return message
    return None


def cards_for(sandbox: Sandbox, approval_id: str) -> list[Any]:
    return [
        card
        for channel in sandbox.slack.state.channels
        if (card := card_in(sandbox, channel, approval_id)) is not None
    ]


def calls_to_opentrain(sandbox: Sandbox, since: int) -> list[dict[str, Any]]:
    """What reached OpenTrain since `since`, leaving out the tracker's own feed polls."""
    return [e for e in sandbox.opentrain.requests.since(since) if e["path"] != "/updates"]


def hire_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "proposalId": "prop_ada",
        "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450.5},
    }
    body.update(changes)
    return body


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(agent_tokens=AGENT_TOKENS)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as client:
        yield client


@pytest.fixture
def agent(http: httpx.AsyncClient) -> Agent:
    return Agent(http)


# --- happy paths --------------------------------------------------------------------------------


async def test_hire_posts_a_card_with_the_agent_and_its_note(
    sandbox: Sandbox, agent: Agent
) -> None:
    mark = len(sandbox.opentrain.requests)
    response = await agent.post("hire", hire_body(note="Best sample of the three"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert_schema(body, "ApprovalResponse")
    approval_id = body["approval"]["id"]
    assert body["approval"]["type"] == "proposal_hire"
    assert body["approval"]["status"] == "pending"
    assert body["approval"]["approvalUrl"] == f"{sandbox.opentrain.origin}/approvals/{approval_id}"
    assert body["tracked"] == {
        "status": "pending",
        "requester": {"kind": "agent", "id": "planner", "note": "Best sample of the three"},
        "outcome": None,
    }
    card = card_in(sandbox, HIRING, approval_id)
    assert card is not None
    assert body["card"]["channel"] == HIRING and body["card"]["ts"] == card.ts
    assert body["card"]["permalink"] and body["card"]["error"] is None
    rendered = json.dumps(card.blocks)
    assert "agent planner" in rendered and "Best sample of the three" in rendered
    assert "$450.50" in rendered and "$45.05" in rendered and "$505.50" in rendered
    # The bot sent exactly the agent's terms, with exact cents.
    hires = [e for e in calls_to_opentrain(sandbox, mark) if e["method"] == "POST"]
    assert [(e["path"], json.loads(e["body"])) for e in hires] == [
        (
            "/proposals/prop_ada/hire",
            {"milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450.5}},
        )
    ]


async def test_each_token_speaks_for_its_own_agent(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    response = await Agent(http, AUDITOR_TOKEN).post("fund", {"milestoneId": "ms_batch2"})
    assert response.status_code == 202, response.text
    assert response.json()["tracked"]["requester"]["id"] == "auditor"
    card = card_in(sandbox, HIRING, response.json()["approval"]["id"])
    assert "agent auditor" in json.dumps(card.blocks)


async def test_fund_payout_and_end_with_escrow_are_co_signs(sandbox: Sandbox, agent: Agent) -> None:
    requests = [
        ("fund", {"milestoneId": "ms_batch2", "channel": "C0GENERAL"}, "milestone_fund"),
        ("payout", {"milestoneId": "ms_batch1"}, "milestone_approve"),
        ("end", {"contractId": "ctr_linus"}, "contract_end"),
    ]
    for action, body, approval_type in requests:
        response = await agent.post(action, body)
        assert response.status_code == 202, response.text
        answer = response.json()
        assert_schema(answer, "ApprovalResponse")
        assert answer["approval"]["type"] == approval_type
        channel = body.get("channel", HIRING)
        assert answer["card"]["channel"] == channel
        assert card_in(sandbox, channel, answer["approval"]["id"]) is not None


async def test_ending_a_contract_without_escrow_needs_no_card(
    sandbox: Sandbox, agent: Agent
) -> None:
    before = len(sandbox.slack.messages(HIRING))
    response = await agent.post("end", {"contractId": "ctr_margaret"})
    assert response.status_code == 200, response.text
    assert response.json() == {"ended": True, "contractId": "ctr_margaret"}
    assert_schema(response.json(), "ContractEndedResponse")
    assert sandbox.opentrain.state.contracts["ctr_margaret"].status.value == "ended"
    assert len(sandbox.slack.messages(HIRING)) == before


async def test_the_same_request_twice_gives_one_card_and_the_same_answer(
    sandbox: Sandbox, agent: Agent
) -> None:
    first = await agent.post("fund", {"milestoneId": "ms_batch2"})
    second = await agent.post("fund", {"milestoneId": "ms_batch2", "channel": "C0GENERAL"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(cards_for(sandbox, first.json()["approval"]["id"])) == 1


async def test_get_reports_the_tracked_status_and_then_the_outcome(
    sandbox: Sandbox, agent: Agent
) -> None:
    requested = (await agent.post("payout", {"milestoneId": "ms_batch1"})).json()
    approval_id = requested["approval"]["id"]
    current = await agent.get_approval(approval_id)
    assert current.status_code == 200
    assert current.json() == requested  # nothing changed since: the same rendering

    sandbox.opentrain.state.confirm(approval_id)
    done = await agent.wait_outcome(approval_id)
    assert_schema(done, "ApprovalResponse")
    assert done["tracked"]["status"] == "confirmed"
    assert done["approval"]["status"] == "confirmed"
    assert done["tracked"]["outcome"]["result"]["payoutTransactionId"]
    assert done["tracked"]["outcome"]["resolvedAt"]
    assert done["card"] == requested["card"]


async def test_get_of_an_untracked_approval_is_404(sandbox: Sandbox, agent: Agent) -> None:
    body = assert_envelope(await agent.get_approval("apr_nope"), 404, "NOT_FOUND")
    assert body["details"] == {"resource": "approvals", "approvalId": "apr_nope"}
    assert_envelope(await agent.get_approval("not%20an%20id"), 400, "BAD_REQUEST")


async def test_a_channel_the_bot_cannot_post_in_is_refused_before_opentrain(
    sandbox: Sandbox, agent: Agent
) -> None:
    for channel, error in [("C0PRIVATE", "channel_not_found"), ("C0ARCHIVED", "is_archived")]:
        mark = len(sandbox.opentrain.requests)
        response = await agent.post("fund", {"milestoneId": "ms_batch2", "channel": channel})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["code"] == "CHANNEL_UNAVAILABLE" and body["details"]["reason"] == error
        assert body["error"].startswith("No request was made")
        if channel == "C0PRIVATE":
            assert "invite me: /invite @OpenTrain co-sign" in body["error"]  # who can fix it
        assert calls_to_opentrain(sandbox, mark) == []  # nothing asked of OpenTrain
        assert sandbox.slack.messages(channel) == [] or channel == "C0ARCHIVED"


async def test_a_public_channel_the_bot_is_not_in_is_joined_before_the_card(
    sandbox: Sandbox, agent: Agent
) -> None:
    labeling = sandbox.slack.state.channels["C0LABELING"]
    assert sandbox.slack.state.bot_user_id not in labeling.members
    response = await agent.post("fund", {"milestoneId": "ms_batch2", "channel": "C0LABELING"})
    assert response.status_code == 202, response.text
    approval_id = response.json()["approval"]["id"]
    await wait_for(lambda: card_in(sandbox, "C0LABELING", approval_id), message="card posted")
    assert sandbox.slack.state.bot_user_id in labeling.members


async def test_no_channel_anywhere_is_explained(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS, default_channel=None)
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as http:
        response = await Agent(http).post("fund", {"milestoneId": "ms_batch2"})
    assert response.status_code == 202, response.text
    card = response.json()["card"]
    assert card["error"] == "no_channel" and "DEFAULT_CHANNEL" in card["hint"]


async def approval_made_by_the_agent(sandbox: Sandbox, path: str) -> str:
    """The agent calls OpenTrain itself (same account, not through the bot)."""
    token = sandbox.opentrain.state.seeded["fullToken"]
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {token}"}
    ) as opentrain:
        response = await opentrain.post(path)
    assert response.status_code == 202, response.text
    return str(response.json()["approval"]["id"])


async def test_handing_over_an_approval_twice_gives_one_card(
    sandbox: Sandbox, agent: Agent
) -> None:
    approval_id = await approval_made_by_the_agent(sandbox, "/milestones/ms_batch1/approve")
    mark = len(sandbox.opentrain.requests)
    first = await agent.post("approvals", {"approvalId": approval_id, "note": "payout time"})
    second = await agent.post("approvals", {"approvalId": approval_id, "channel": "C0GENERAL"})
    assert first.status_code == second.status_code == 202, second.text
    assert first.json() == second.json()
    assert first.json()["tracked"]["requester"] == {
        "kind": "agent",
        "id": "planner",
        "note": "payout time",
    }
    assert len(cards_for(sandbox, approval_id)) == 1
    assert card_in(sandbox, HIRING, approval_id) is not None
    reads = [e["path"] for e in calls_to_opentrain(sandbox, mark) if e["method"] == "GET"]
    # Re-read by id every time (the spend policy's quote is the read the adoption uses).
    assert reads.count(f"/approvals/{approval_id}") == 2

    unknown = await agent.post("approvals", {"approvalId": "apr_unknown"})
    assert assert_envelope(unknown, 404, "NOT_FOUND")["details"]["source"] == "opentrain"


def links_in(blocks: Any) -> list[str]:
    """Every URL a card links to: button urls and <url|label> links in mrkdwn."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("url"), str):
                found.append(node["url"])
            if node.get("type") == "mrkdwn":
                found.extend(re.findall(r"<(https?://[^|>]+)", node.get("text", "")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found


async def test_an_agent_cannot_get_a_phishing_link_onto_a_card(
    sandbox: Sandbox, agent: Agent
) -> None:
    note = (
        "Confirm at <https://opentrain.evil.example/approvals/x|OpenTrain> or https://evil.example"
    )
    response = await agent.post("fund", {"milestoneId": "ms_batch2", "note": note})
    assert response.status_code == 202, response.text
    approval_id = response.json()["approval"]["id"]
    card = card_in(sandbox, HIRING, approval_id)
    links = links_in(card.blocks)
    assert f"{sandbox.opentrain.origin}/approvals/{approval_id}" in links
    assert [link for link in links if "evil" in link] == []
    assert "evil" not in " ".join(
        block["text"]["text"]
        for block in card.blocks
        if block.get("text", {}).get("type") == "mrkdwn"
    )


# --- OpenTrain's refusals pass through ------------------------------------------------------------


async def test_opentrain_conflicts_pass_through_with_their_details(
    sandbox: Sandbox, agent: Agent
) -> None:
    body = assert_envelope(
        await agent.post("payout", {"milestoneId": "ms_batch2"}), 409, "CONFLICT"
    )
    assert body["details"]["reason"] == "milestone_not_funded"
    assert body["details"]["source"] == "opentrain"
    assert body["details"]["opentrainRequestId"] != body["requestId"]

    sandbox.opentrain.state.patch_account(payment_method_on_file=False, available_cents=0)
    body = assert_envelope(await agent.post("hire", hire_body()), 409, "CONFLICT")
    assert body["details"]["reason"] == "payment_method_required"
    assert body["details"]["billingUrl"].startswith(sandbox.opentrain.origin)

    body = assert_envelope(await agent.post("fund", {"milestoneId": "ms_nope"}), 404, "NOT_FOUND")
    assert body["details"]["resource"] == "milestones"
    assert sandbox.slack.messages(HIRING) == []


async def test_an_unclaimed_account_is_told_to_claim_not_to_mint_a_token(
    sandbox: Sandbox, agent: Agent
) -> None:
    """OpenTrain refuses the pre-claim token on the scope; the agent learns the real fix."""
    sandbox.opentrain.state.patch_account(claimed=False)
    for kind, body in (("hire", hire_body()), ("fund", {"milestoneId": "ms_batch2"})):
        refused = assert_envelope(await agent.post(kind, body), 403, "FORBIDDEN")
        assert refused["details"]["reason"] == "account_claim_required"
        assert refused["details"]["claimUrl"] == f"{sandbox.opentrain.origin}/claim"
        assert refused["details"]["requiredScopes"]  # what OpenTrain said, kept
    assert sandbox.opentrain.state.approvals == {}
    assert sandbox.slack.messages(HIRING) == []


async def test_opentrain_rate_limits_hold_every_request_until_retry_after(
    sandbox: Sandbox, agent: Agent
) -> None:
    sandbox.opentrain.faults.add(
        _fault(path="/milestones/*/fund", status=429, retry_after=120, count=1)
    )
    response = await agent.post("fund", {"milestoneId": "ms_batch2"})
    assert_envelope(response, 429, "RATE_LIMITED")
    assert response.headers["Retry-After"] == "120"
    # OpenTrain asked for two minutes: the next request waits, unasked.
    again = await agent.post("fund", {"milestoneId": "ms_batch2"})
    assert_envelope(again, 429, "RATE_LIMITED")
    assert 100 <= int(again.headers["Retry-After"]) <= 120
    asked = [r for r in sandbox.opentrain.requests.since(0) if r["path"].startswith("/milestones")]
    assert len(asked) == 1


async def test_opentrain_failures_become_json_envelopes(sandbox: Sandbox, agent: Agent) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    # Retry-After: 0 lets the client use its attempts at once instead of backing off.
    sandbox.opentrain.faults.add(
        _fault(path="/milestones/*/fund", status=502, raw_body=page, retry_after=0)
    )
    response = await agent.post("fund", {"milestoneId": "ms_batch2"})
    body = assert_envelope(response, 502, "INTERNAL_ERROR")
    assert body["details"]["source"] == "opentrain" and "<html" not in response.text
    assert sandbox.opentrain.state.approvals == {}


async def test_a_bad_bot_token_at_opentrain_is_not_the_agents_401(
    make_sandbox: SandboxFactory,
) -> None:
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS, ot_api_token="ot_pat_sim_revoked")
    async with httpx.AsyncClient(base_url=sandbox.bot_url) as http:
        body = assert_envelope(
            await Agent(http).post("fund", {"milestoneId": "ms_batch2"}), 502, "UNAUTHORIZED"
        )
    assert body["details"]["source"] == "opentrain"


async def test_a_bot_failure_is_a_500_envelope_without_internals(
    sandbox: Sandbox, agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(sandbox.services.cosign, "fund", broken)
    body = assert_envelope(
        await agent.post("fund", {"milestoneId": "ms_batch2"}), 500, "INTERNAL_ERROR"
    )
    assert "hunter2" not in json.dumps(body) and "Repeating it is safe" in body["error"]


def _fault(**spec: Any) -> Any:
    from bot.sandbox.faults import FaultSpec

    return FaultSpec.model_validate(spec)


# --- authentication ------------------------------------------------------------------------------

BAD_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer wrong-token",
    f"Basic {PLANNER_TOKEN}",
    f"Bearer {PLANNER_TOKEN.upper()}",
    f"Bearer {PLANNER_TOKEN[:-1]}",
    f"Bearer {PLANNER_TOKEN}x",
    PLANNER_TOKEN,
]


async def test_missing_or_wrong_tokens_get_401_and_nothing_is_done(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    mark = len(sandbox.opentrain.requests)
    # 18 failures: under the 20 a minute that get an address turned away (tests/security).
    for authorization in BAD_AUTHORIZATIONS:
        headers = {"Authorization": authorization} if authorization is not None else {}
        response = await http.post("/agent/v1/hire", json=hire_body(), headers=headers)
        assert_envelope(response, 401, "UNAUTHORIZED")
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), authorization
        response = await http.get("/agent/v1/approvals/apr_x", headers=headers)
        assert_envelope(response, 401, "UNAUTHORIZED")
    assert calls_to_opentrain(sandbox, mark) == []
    # A stranger's refusals are only logged: anyone who reaches the port could grow the store.
    assert await sandbox.services.store.read_audit() == []


async def test_no_configured_tokens_means_no_access(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox()
    async with httpx.AsyncClient(base_url=sandbox.bot_url) as http:
        response = await Agent(http).post("fund", {"milestoneId": "ms_batch2"})
    assert_envelope(response, 401, "UNAUTHORIZED")


async def test_the_openapi_document_is_served_without_auth(http: httpx.AsyncClient) -> None:
    response = await http.get("/agent/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == openapi_document()


# --- validation --------------------------------------------------------------------------------


INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("hire", hire_body(approvalUrl="https://evil.example/approvals/x"), "approvalUrl"),
    ("hire", hire_body(milestone={"name": "B", "amount": 0}), "milestone.amount"),
    ("hire", hire_body(milestone={"name": "B", "amount": "1.001"}), "milestone.amount"),
    ("hire", hire_body(milestone={"name": "B", "amount": 100001}), "milestone.amount"),
    (
        "hire",
        hire_body(milestone={"name": "B", "amount": 5, "dueDate": "2000-01-01"}),
        "milestone.dueDate",
    ),
    ("hire", hire_body(milestone={"amount": 5}), "milestone.name"),
    ("hire", hire_body(note="n" * 501), "note"),
    ("hire", hire_body(proposalId="../../approvals"), "proposalId"),
    ("fund", {"milestoneId": "ms_batch2", "channel": "#general"}, "channel"),
    ("fund", {"milestoneId": "ms_batch2", "milestone_id": "x"}, "milestone_id"),
    ("payout", {}, "milestoneId"),
    ("end", {"contractId": None}, "contractId"),
    ("approvals", {"approvalId": "apr_1", "approvalUrl": "https://evil.example"}, "approvalUrl"),
    ("approvals", {"approvalId": "apr_1", "status": "confirmed"}, "status"),
]
UNREADABLE_BODIES = [
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b'["fund"]', "JSON object"),
    (b'{"milestoneId": "ms_1", "milestoneId": "ms_2"}', "duplicate key"),
    (b'{"milestoneId": NaN}', "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
]


async def test_invalid_bodies_are_refused_before_opentrain(sandbox: Sandbox, agent: Agent) -> None:
    mark = len(sandbox.opentrain.requests)
    for action, body, field in INVALID_BODIES:
        answer = assert_envelope(await agent.post(action, body), 400, "BAD_REQUEST")
        assert field in {issue["field"] for issue in answer["details"]["issues"]}, answer
    for raw, problem in UNREADABLE_BODIES:
        answer = assert_envelope(await agent.post("fund", raw), 400, "BAD_REQUEST")
        assert problem in answer["error"], (raw, answer)
    assert calls_to_opentrain(sandbox, mark) == []
    assert sandbox.opentrain.state.approvals == {}
    refused = [e for e in await sandbox.services.store.read_audit() if e.action == "refused"]
    assert len(refused) == len(INVALID_BODIES) + len(UNREADABLE_BODIES)
    assert {(e.actor, e.details["code"]) for e in refused} == {("agent:planner", "BAD_REQUEST")}


async def test_bodies_over_64_kib_are_refused(
    sandbox: Sandbox, agent: Agent, http: httpx.AsyncClient
) -> None:
    mark = len(sandbox.opentrain.requests)
    big = json.dumps(hire_body(note="x" * 70_000)).encode()
    assert_envelope(await agent.post("hire", big), 413, "PAYLOAD_TOO_LARGE")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length to trust
        for _ in range(80):
            yield b" " * 1024

    response = await http.post(
        "/agent/v1/hire",
        content=chunked(),
        headers={**agent.headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert calls_to_opentrain(sandbox, mark) == []
