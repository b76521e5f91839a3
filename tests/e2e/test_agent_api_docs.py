"""Every curl example in the README's agent API section, sent as written (through httpx) to a
sandbox bot: the documented status, and the documented body's shape and key values."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.sandbox.opentrain.seed import FULL_TOKEN
from tests.e2e.test_agent_api import AGENT_TOKENS, PLANNER_TOKEN
from tests.support.bot_harness import SandboxFactory

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
    async with httpx.AsyncClient(timeout=15.0) as http:
        for example in documented:
            method, url, headers, data = as_request(example.command, variables)
            response = await http.request(method, url, headers=headers, content=data)
            assert response.status_code == example.status, (example.command, response.text)
            if example.body is not None:
                assert_like(response.json(), example.body)
    handed_over = await sandbox.services.store.get_approval(variables["APPROVAL_ID"])
    assert handed_over is not None and handed_over.requester.note == "Payout for batch 1"
