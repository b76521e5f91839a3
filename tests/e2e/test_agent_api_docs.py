"""Every curl example in the README's agent API section, sent as written (through httpx) to a
sandbox bot: the documented status, and the documented body's shape and key values."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.agent_openapi import openapi_document
from bot.sandbox.opentrain.seed import FULL_TOKEN
from tests.e2e.test_agent_api import AGENT_TOKENS, AUDITOR_TOKEN, PLANNER_TOKEN
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

DOC = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)
STATUS = re.compile(r"^→ `(\d{3}) ", re.M)
VARIABLE = re.compile(r"\$(\w+)")
# Leaves whose documented value must match exactly; the rest (ids, times) only in shape.
EXACT = {"code", "reason", "field", "problem", "type", "kind", "ended", "contractId", "status"}


@dataclass
class Example:
    command: str
    status: int
    body: Any | None  # the documented answer, when the doc shows one


def examples() -> list[Example]:
    text = DOC.read_text()
    found: list[Example] = []
    blocks = list(FENCE.finditer(text))
    for index, block in enumerate(blocks):
        if block.group(1) != "sh" or "curl" not in block.group(2):
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        tail = text[block.end() : following.start() if following else len(text)]
        status = STATUS.search(tail)
        assert status, f"no → `status` after: {block.group(2)}"
        body = None
        if following is not None and following.group(1) == "json":
            body = json.loads(following.group(2))
        found.append(Example(block.group(2), int(status.group(1)), body))
    return found


def as_request(command: str, variables: dict[str, str]) -> tuple[str, str, dict[str, str], Any]:
    """(method, url, headers, body) of a curl command as a POSIX shell would run it."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl"
    method, url, headers, data = None, None, {}, None
    words = [VARIABLE.sub(lambda m: variables[m.group(1)], word) for word in words[1:]]
    while words:
        word = words.pop(0)
        if word == "-sS":
            continue
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(": ")
            headers[name] = value
        elif word == "-d":
            data = words.pop(0)
        else:
            assert url is None and word.startswith("http"), word
            url = word
    assert url is not None
    return method or ("POST" if data is not None else "GET"), url, headers, data


def assert_like(actual: Any, documented: Any, where: str = "body") -> None:
    if isinstance(documented, dict):
        assert isinstance(actual, dict) and set(actual) == set(documented), (where, actual)
        for key, value in documented.items():
            if key in EXACT and not isinstance(value, dict | list):
                assert actual[key] == value, (f"{where}.{key}", actual[key])
            else:
                assert_like(actual[key], value, f"{where}.{key}")
    elif isinstance(documented, list):
        assert isinstance(actual, list) and len(actual) == len(documented), (where, actual)
        for position, (got, shown) in enumerate(zip(actual, documented, strict=True)):
            assert_like(got, shown, f"{where}[{position}]")
    else:
        assert (actual is None) == (documented is None), (where, actual)


async def test_every_curl_example_in_the_docs(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS)
    # The hand-over example needs an approval the agent requested from OpenTrain itself.
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {FULL_TOKEN}"}
    ) as opentrain:
        own = await opentrain.post("/milestones/ms_batch1/approve")
    variables = {
        "BOT_URL": sandbox.bot_url,
        "AGENT_TOKEN": PLANNER_TOKEN,
        "APPROVAL_ID": own.json()["approval"]["id"],
    }
    documented = examples()
    assert len(documented) >= 9
    waits = sandbox.services.waits
    async with httpx.AsyncClient(timeout=90.0) as http:
        for example in documented:
            method, url, headers, data = as_request(example.command, variables)
            asked = asyncio.create_task(http.request(method, url, headers=headers, content=data))
            waiting = "waitSeconds=" in url
            if waiting:
                # The example waits for the human: be the human, once the bot is waiting.
                await wait_for(lambda: waits.waiting == 1, message="the example waiting")
                sandbox.opentrain.state.confirm(variables["APPROVAL_ID"])
            response = await asked
            assert response.status_code == example.status, (example.command, response.text)
            if waiting:
                assert response.json()["tracked"]["outcome"]["status"] == "confirmed"
            if example.body is not None:
                assert_like(response.json(), example.body)
    handed_over = await sandbox.services.store.get_approval(variables["APPROVAL_ID"])
    assert handed_over is not None and handed_over.requester.note == "Payout for batch 1"


# --- the OpenAPI document: every status each endpoint answers --------------------------------

TIGHT_POLICY = "agents:\n  auditor: {requestsPerMinute: 1}\n"
# What the code answers besides success on the reads: the endpoint wrapper's 401, 429, 500
# and 503 (a store outage: tests/faults/test_store_faults.py), and each read's own refusals.
READ_STATUSES = {"401", "429", "500", "503"}


def operation(method: str, path: str) -> dict[str, Any]:
    """The document's operation a request to `path` (a concrete URL path) falls under."""
    for template, operations in openapi_document()["paths"].items():
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in operations:
            found: dict[str, Any] = operations[method.lower()]
            return found
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def documents(method: str, path: str, status: int) -> bool:
    """The operation lists `status`, itself or by its range (`4XX`)."""
    responses = operation(method, path)["responses"]
    return str(status) in responses or f"{status // 100}XX" in responses


def test_the_wait_is_documented_on_the_approval_read() -> None:
    get_approval = operation("GET", "/agent/v1/approvals/apr_1")
    [wait] = [p for p in get_approval["parameters"] if p["name"] == "waitSeconds"]
    assert wait["in"] == "query" and wait["required"] is False
    assert wait["schema"] == {"type": "integer", "minimum": 0, "maximum": 60, "default": 0}
    assert "waitSeconds" in get_approval["responses"]["400"]["description"]
    statuses = {"200", "400", "404", *READ_STATUSES}
    assert set(get_approval["responses"]) == statuses
    assert set(operation("GET", "/agent/v1/requests/r_1")["responses"]) == statuses - {"400"}
    for action in ("hire", "fund", "payout", "end", "approvals"):
        responses = operation("POST", f"/agent/v1/{action}")["responses"]
        must = {"202", "400", "401", "403", "404", "413", "422", "429", "500", "502", "503"}
        assert must <= set(responses), (action, must - set(responses))


async def test_every_status_an_endpoint_answers_is_documented(
    make_sandbox: SandboxFactory, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(TIGHT_POLICY, encoding="utf-8")
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS, agent_policy_file=str(policy))
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {FULL_TOKEN}"}
    ) as opentrain:
        # A hire the agent asked OpenTrain for itself: the bot cannot know its amount (403).
        hire = await opentrain.post(
            "/proposals/prop_ada/hire", json={"milestone": {"name": "B", "amount": 100}}
        )
    assert hire.status_code == 202, hire.text
    planner = {"Authorization": f"Bearer {PLANNER_TOKEN}"}
    auditor = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    funding = {"milestoneId": "ms_batch2"}
    seen: list[tuple[str, str, int]] = []
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=30.0) as http:

        async def expect(
            status: int, method: str, path: str, body: Any = None, headers: Any = None
        ) -> httpx.Response:
            content = body if isinstance(body, bytes) or body is None else json.dumps(body)
            response = await http.request(
                method,
                path,
                content=content,
                headers={
                    "Content-Type": "application/json",
                    **(planner if headers is None else headers),
                },
            )
            assert response.status_code == status, (method, path, response.text)
            assert documents(method, path.partition("?")[0], status), (method, path, status)
            seen.append((method, path, status))
            return response

        funded = await expect(202, "POST", "/agent/v1/fund", funding)
        approval_id = funded.json()["approval"]["id"]
        await expect(200, "POST", "/agent/v1/end", {"contractId": "ctr_margaret"})
        await expect(400, "POST", "/agent/v1/fund", [])
        await expect(401, "POST", "/agent/v1/fund", funding, {"Authorization": "Bearer no"})
        hand_over = {"approvalId": hire.json()["approval"]["id"]}
        await expect(403, "POST", "/agent/v1/approvals", hand_over)
        await expect(404, "POST", "/agent/v1/fund", {"milestoneId": "ms_nobody_has"})
        await expect(413, "POST", "/agent/v1/fund", b"{" + b" " * 70_000 + b"}")
        await expect(422, "POST", "/agent/v1/fund", {**funding, "channel": "C0NOWHERE"})
        await expect(409, "POST", "/agent/v1/payout", funding)  # OpenTrain's, passed through
        await expect(202, "POST", "/agent/v1/fund", funding, auditor)
        await expect(429, "POST", "/agent/v1/fund", funding, auditor)

        approval = f"/agent/v1/approvals/{approval_id}"
        await expect(200, "GET", approval)
        await expect(200, "GET", f"{approval}?waitSeconds=0")
        await expect(400, "GET", "/agent/v1/approvals/not%20an%20id")
        await expect(400, "GET", f"{approval}?waitSeconds=61")
        await expect(401, "GET", approval, headers={})
        await expect(404, "GET", "/agent/v1/approvals/apr_nobody_tracks?waitSeconds=60")
        await expect(429, "GET", approval, headers=auditor)
        await expect(401, "GET", "/agent/v1/requests/req_1", headers={})
        await expect(404, "GET", "/agent/v1/requests/req_nobody_made")
        await expect(200, "GET", "/agent/v1/openapi.json", headers={"X": "no token"})
    # Each provoked, and found documented; 500 and 503 need a failing bot or store.
    assert {status for _, _, status in seen} == {200, 202, 400, 401, 403, 404, 409, 413, 422, 429}
