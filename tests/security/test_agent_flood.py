"""Strangers flooding the agent API: they grow nothing and are soon turned away.

A request without a valid token is never audited and reaches neither the store nor OpenTrain;
its log lines are sampled (10 a minute per address, then a count). After 20 failed
authentications in a minute from one address, that address gets 429 with `Retry-After` before
its token is even looked at — even a right token, so a guess made while blocked tells nothing.

The flood comes from 127.0.0.2 (Linux answers the whole 127/8 on loopback) while the agents
call from 127.0.0.1, so an agent elsewhere is seen to be unaffected; the limiter's finer points
are in tests/unit/test_abuse.py, and the window passing is shown with an AgentApi on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from bot.abuse import FailureLimiter, SampledLog
from bot.agent_api import PREFIX, AgentApi
from bot.sandbox.runner import Sandbox
from tests.support.bot_harness import SandboxFactory

PLANNER = "agent-token-planner-0123456789"
AUDITOR = "agent-token-auditor-9876543210"
WRONG = "agent-token-wrong-000000000000000"
FLOOD = 2000
CONCURRENCY = 200  # blocked answers are held ~1 s: 2 000 take ~10 s
ALLOWED_FAILURES = 20
STRANGER_ADDRESS = "127.0.0.2"
HIRE = {
    "proposalId": "prop_ada",
    "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450},
}
# (method, path, body) and the Authorization headers a stranger tries, taken in turn.
TARGETS: list[tuple[str, str, Any]] = [
    ("POST", "hire", HIRE),
    ("POST", "fund", {"milestoneId": "ms_batch2"}),
    ("POST", "approvals", {"approvalId": "apr_x"}),
    ("GET", "approvals/apr_x", None),
]
STRANGER_HEADERS: list[dict[str, str]] = [
    {},
    {"Authorization": f"Bearer {WRONG}"},
    {"Authorization": f"Bearer {PLANNER[:-1]}"},
    {"Authorization": "Bearer"},
    {"Authorization": f"Basic {PLANNER}"},
    {"Authorization": PLANNER},
    # Counted against the connection's address, whatever the caller claims to be.
    {"Authorization": f"Bearer {WRONG}", "X-Forwarded-For": "198.51.100.23"},
    {"Authorization": f"Bearer {WRONG}", "X-Real-IP": "198.51.100.24", "Forwarded": "for=x"},
]


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(agent_tokens=f"planner:{PLANNER},auditor:{AUDITOR}")


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=30, limits=limits) as client:
        yield client


@dataclass(frozen=True)
class Footprint:
    """Everything a request could have left behind in the store."""

    audit: int
    effects: int
    approvals: int
    pages: int


async def footprint(sandbox: Sandbox) -> Footprint:
    store = sandbox.services.store
    database = sandbox.services.settings.database_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        (pages,) = db.execute("PRAGMA page_count").fetchone()
    return Footprint(
        audit=len(await store.read_audit()),
        effects=await store.count_effects(),
        approvals=await store.count_approvals(),
        pages=int(pages),
    )


async def opentrain_calls(http: httpx.AsyncClient, sandbox: Sandbox, since: int) -> list[str]:
    """Requests the OpenTrain simulator received since `since`, apart from the feed polls."""
    answer = await http.get(f"{sandbox.opentrain.origin}/_sim/requests", params={"since": since})
    requests = answer.raise_for_status().json()["requests"]
    return [f"{r['method']} {r['path']}" for r in requests if r["path"] != "/updates"]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive, from either client
    body: dict[str, Any]

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(response.status_code, response.headers, response.json())


async def stranger(session: aiohttp.ClientSession, origin: str, index: int) -> Answer:
    # aiohttp's client for the flood: httpx's pool slows to ~10 ms a request at 50 in flight.
    method, path, body = TARGETS[index % len(TARGETS)]
    headers = STRANGER_HEADERS[index // len(TARGETS) % len(STRANGER_HEADERS)]
    url = f"{origin}{PREFIX}/{path}"
    async with session.request(method, url, json=body, headers=headers) as response:
        return Answer(response.status, response.headers, await response.json())


def assert_refused(answer: Answer | httpx.Response, status: int, code: str) -> dict[str, Any]:
    answer = Answer.of(answer) if isinstance(answer, httpx.Response) else answer
    assert answer.status == status, answer
    assert answer.body["code"] == code and answer.body["error"], answer
    assert answer.body["requestId"] == answer.headers["X-Request-Id"]
    return answer.body


def assert_rate_limited(answer: Answer | httpx.Response, at_most: int = 60) -> int:
    body = assert_refused(answer, 429, "RATE_LIMITED")
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= at_most and body["details"] == {"retryAfterSeconds": wait}, body
    return wait


def refusal_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "bot.agent_api" and record.getMessage().startswith("agent request ref")
    ]


async def test_a_flood_of_strangers_grows_nothing_and_is_turned_away(
    sandbox: Sandbox, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.agent_api")
    before = await footprint(sandbox)
    mark = len((await http.get(f"{sandbox.opentrain.origin}/_sim/requests")).json()["requests"])
    connections = aiohttp.TCPConnector(limit=CONCURRENCY, local_addr=(STRANGER_ADDRESS, 0))
    async with aiohttp.ClientSession(connector=connections) as session:
        answers = await asyncio.gather(
            *(stranger(session, sandbox.bot_url, i) for i in range(FLOOD))
        )
        # Once blocked, the address is not heard at all: even a right token waits (documented).
        planner = {"Authorization": f"Bearer {PLANNER}"}
        right = await session.get(f"{sandbox.bot_url}{PREFIX}/approvals/apr_x", headers=planner)
        assert_rate_limited(Answer(right.status, right.headers, await right.json()))

    statuses = [a.status for a in answers]
    assert statuses.count(401) == ALLOWED_FAILURES  # counting is synchronous: exactly 20 heard
    assert statuses.count(429) == FLOOD - ALLOWED_FAILURES
    for answer in answers:
        if answer.status == 401:
            assert_refused(answer, 401, "UNAUTHORIZED")
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert_rate_limited(answer)
    assert await footprint(sandbox) == before
    assert await opentrain_calls(http, sandbox, mark) == []
    assert "agent:unauthenticated" not in {
        e.actor for e in await sandbox.services.store.read_audit()
    }
    lines = refusal_lines(caplog)
    assert 1 <= len(lines) <= 11, lines  # 10 a minute per address, then one telling the count
    assert all(f"agent=unauthenticated client={STRANGER_ADDRESS} " in line for line in lines)

    # An agent at another address is served as ever; the OpenAPI document stays open.
    assert (await http.get(f"{PREFIX}/openapi.json")).status_code == 200
    served = await http.post(
        f"{PREFIX}/fund",
        json={"milestoneId": "ms_batch2"},
        headers={"Authorization": f"Bearer {PLANNER}"},
    )
    assert served.status_code == 202, served.text
    assert "POST /milestones/ms_batch2/fund" in await opentrain_calls(http, sandbox, mark)


async def test_a_refusal_needs_no_body_so_none_is_read(
    sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    """The answer comes before the body: a stranger cannot make the bot wait for 10 MB."""
    host, port = sandbox.bot_url.removeprefix("http://").split(":")

    async def head_only(token: str) -> bytes:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                f"POST {PREFIX}/hire HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 10000000\r\n\r\n{".encode()
            )
            await writer.drain()
            return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        finally:
            writer.close()

    for _ in range(ALLOWED_FAILURES):
        assert (await head_only(WRONG)).startswith(b"HTTP/1.1 401 ")
    assert (await head_only(WRONG)).startswith(b"HTTP/1.1 429 ")
    assert (await head_only(PLANNER)).startswith(b"HTTP/1.1 429 ")


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def api_on_fake_clock(sandbox: Sandbox) -> AsyncIterator[tuple[str, FakeClock]]:
    """The agent API over the sandbox's services, with its limits on a clock the test moves."""
    clock = FakeClock()
    api = AgentApi(
        sandbox.services,
        failures=FailureLimiter(clock=clock),
        refusal_log=SampledLog(clock=clock),
    )
    app = web.Application()
    app.router.add_post(f"{PREFIX}/fund", api.endpoint(api.fund))
    app.router.add_get(f"{PREFIX}/approvals/{{approval_id}}", api.endpoint(api.get_approval))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", clock
    await runner.cleanup()


async def test_the_address_is_heard_again_once_its_failures_leave_the_window(
    sandbox: Sandbox,
    api_on_fake_clock: tuple[str, FakeClock],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.agent_api")
    url, clock = api_on_fake_clock
    planner = {"Authorization": f"Bearer {PLANNER}"}
    async with httpx.AsyncClient(base_url=url, timeout=15) as http:
        for _ in range(ALLOWED_FAILURES):
            wrong = await http.get(f"{PREFIX}/approvals/apr_x", headers={"Authorization": WRONG})
            assert_refused(wrong, 401, "UNAUTHORIZED")
        fund = {"milestoneId": "ms_batch2"}
        assert (
            assert_rate_limited(await http.post(f"{PREFIX}/fund", json=fund, headers=planner)) == 60
        )
        clock.now += 59.5
        assert (
            assert_rate_limited(await http.post(f"{PREFIX}/fund", json=fund, headers=planner)) == 1
        )
        clock.now += 0.5
        heard = await http.post(f"{PREFIX}/fund", json=fund, headers=planner)
        assert heard.status_code == 202, heard.text
        assert heard.json()["tracked"]["requester"]["id"] == "planner"
        # A success clears nothing, but the old failures have left the window by themselves.
        assert_refused(await http.get(f"{PREFIX}/approvals/apr_x"), 401, "UNAUTHORIZED")

    lines = refusal_lines(caplog)
    strangers = [line for line in lines if "agent=unauthenticated" in line]
    # 20 failures and 2 blocked requests in the first minute: 10 written, 12 counted, and the
    # first line of the next minute says so.
    assert len(strangers) == 11, strangers
    assert "suppressed=12" in strangers[-1] and "status=401" in strangers[-1]
    assert not any("suppressed=" in line for line in strangers[:-1])
