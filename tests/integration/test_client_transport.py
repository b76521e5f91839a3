"""OpenTrainClient over real HTTP against a scripted aiohttp server on 127.0.0.1:0.

Each test scripts the server's answers; the server records every request it
sees, so retry counts, waits and resent bytes are checked from the other side
of the wire.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.opentrain import (
    ApprovalRequested,
    ContractEnded,
    HireTerms,
    InternalError,
    OpenTrainClient,
    OpenTrainUnavailable,
    RateLimited,
)
from tests.support.wait import wait_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "opentrain"
TOKEN = "ot_pat_pub123_TOPSECRETVALUE"
HIRE_TERMS = HireTerms(
    name="First labeling batch",
    description="Label the first 5,000 posts per the guidelines",
    amount=Decimal("300.00"),
)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def reply(payload: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)


def envelope(status: int, code: str, **details: Any) -> web.Response:
    body = {"error": f"scripted {code}", "code": code, "requestId": "req-42", "details": details}
    return reply(body, status)


@dataclass(frozen=True)
class Seen:
    method: str
    raw_path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float


Handler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]
MakeClient = Callable[..., OpenTrainClient]


class ScriptedOpenTrain:
    """Answers with `handler(request, n)` where n counts requests from 1; records each."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.handler: Handler | None = None
        self.base_url = ""
        # Hanging handlers wait on this instead of sleeping; teardown releases them.
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(
                request.method,
                request.raw_path.split("?")[0],
                dict(request.query),
                dict(request.headers),
                body,
                time.monotonic(),
            )
        )
        assert self.handler is not None, "test did not script the server"
        return await self.handler(request, len(self.seen))

    async def hang(self) -> web.Response:
        await asyncio.wait_for(self.release.wait(), timeout=10)
        return reply({})

    def gaps(self) -> list[float]:
        return [later.at - earlier.at for earlier, later in pairwise(self.seen)]


@pytest.fixture
async def server() -> AsyncIterator[ScriptedOpenTrain]:
    scripted = ScriptedOpenTrain()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    scripted.base_url = f"http://127.0.0.1:{port}"
    yield scripted
    scripted.release.set()
    await runner.cleanup()


@pytest.fixture
async def make_client(
    server: ScriptedOpenTrain,
) -> AsyncIterator[MakeClient]:
    clients: list[OpenTrainClient] = []

    def make(**overrides: Any) -> OpenTrainClient:
        options: dict[str, Any] = {
            "timeout": 2.0,
            "max_attempts": 4,
            "retry_budget_seconds": 5.0,
            "backoff_base": 0.01,
            **overrides,
        }
        client = OpenTrainClient(server.base_url + "/", TOKEN, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


def script(
    server: ScriptedOpenTrain, *answers: Callable[[], Awaitable[web.StreamResponse]]
) -> None:
    """Answer the n-th request with answers[n-1]; the last answer repeats."""

    async def handler(_: web.Request, n: int) -> web.StreamResponse:
        return await answers[min(n, len(answers)) - 1]()

    server.handler = handler


def answer(
    response: Callable[[], web.StreamResponse],
) -> Callable[[], Awaitable[web.StreamResponse]]:
    async def respond() -> web.StreamResponse:
        return response()

    return respond


APPROVAL = answer(lambda: reply(fixture("approvals-get-confirmed.json")))
UNAVAILABLE_503 = answer(lambda: envelope(503, "INTERNAL_ERROR"))


# --- retries on GETs ----------------------------------------------------------------


async def test_get_retries_503_then_succeeds(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, UNAVAILABLE_503, UNAVAILABLE_503, APPROVAL)
    approval = await make_client().get_approval("apr_1")
    assert approval.id == "<APPROVAL_ID>"
    assert len(server.seen) == 3
    assert {seen.raw_path for seen in server.seen} == {"/api/public/v1/approvals/apr_1"}


async def test_gives_up_after_max_attempts(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, UNAVAILABLE_503)
    with pytest.raises(InternalError) as caught:
        await make_client(max_attempts=3).get_approval("apr_1")
    assert caught.value.status == 503
    assert caught.value.request_id == "req-42"
    assert len(server.seen) == 3


async def test_retry_after_header_is_honoured(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(
        server,
        answer(
            lambda: reply({"error": "slow", "code": "RATE_LIMITED"}, 429, **{"Retry-After": "0.2"})
        ),
        APPROVAL,
    )
    await make_client().get_approval("apr_1")
    assert len(server.seen) == 2
    assert server.gaps()[0] >= 0.19  # backoff alone would be ~0.01 s


async def test_retry_after_seconds_in_the_body_is_honoured(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, answer(lambda: envelope(429, "RATE_LIMITED", retryAfterSeconds=0.15)), APPROVAL)
    await make_client().get_approval("apr_1")
    assert len(server.seen) == 2
    assert server.gaps()[0] >= 0.14


async def test_wait_longer_than_the_budget_raises_rate_limited_at_once(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, answer(lambda: envelope(429, "RATE_LIMITED", retryAfterSeconds=60)))
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        await make_client(retry_budget_seconds=5).fund_milestone("ms_1")
    assert time.monotonic() - started < 2
    assert caught.value.retry_after_seconds == 60
    assert len(server.seen) == 1


async def test_a_500_on_a_co_sign_request_is_asked_again_with_the_same_bytes(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    """OpenTrain may have created the approval before failing; asking again returns it."""
    script(
        server,
        answer(lambda: envelope(500, "INTERNAL_ERROR")),
        answer(lambda: reply(fixture("milestone-fund-202.json"), 202)),
    )
    requested = await make_client().fund_milestone("ms_1")
    assert requested.approval.id == fixture("milestone-fund-202.json")["approval"]["id"]
    assert len(server.seen) == 2 and server.seen[0].body == server.seen[1].body


async def test_a_500_on_a_direct_write_is_not_retried(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, answer(lambda: envelope(500, "INTERNAL_ERROR")))
    with pytest.raises(InternalError):
        await make_client().create_milestone("c_1", description="more", amount_usd=Decimal(5))
    assert len(server.seen) == 1


async def test_non_json_502_gives_a_clean_error(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>" + "<p>nginx</p>" * 200 + "</body></html>"
    script(server, answer(lambda: web.Response(status=502, text=html, content_type="text/html")))
    with pytest.raises(InternalError) as caught:
        await make_client(max_attempts=2).get_contract("c_1")
    assert str(caught.value) == "OpenTrain answered HTTP 502 Bad Gateway (code=INTERNAL_ERROR)"
    assert len(server.seen) == 2


# --- timeouts ----------------------------------------------------------------------------


async def test_timeouts_end_in_unavailable_after_bounded_attempts(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, server.hang)
    with pytest.raises(OpenTrainUnavailable) as caught:
        await make_client(timeout=0.2, max_attempts=3).get_approval("apr_1")
    assert caught.value.status is None
    assert "timed out" in str(caught.value)
    assert "3 attempts" in str(caught.value)
    await wait_for(lambda: len(server.seen) >= 3, timeout=2, message="three attempts")
    assert len(server.seen) == 3


async def test_hire_retried_after_a_timeout_resends_identical_bytes(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, server.hang, answer(lambda: reply(fixture("hire-202.json"), 202)))
    requested = await make_client(timeout=0.2).hire("prop_1", HIRE_TERMS)
    assert isinstance(requested, ApprovalRequested)
    assert requested.approval.proposal_id == "<PROPOSAL_ID>"
    first, second = server.seen
    assert first.body == second.body == HIRE_TERMS.request_body()
    assert first.raw_path == "/api/public/v1/proposals/prop_1/hire"
    assert first.headers["Content-Type"] == "application/json"


# --- direct writes only retry when the request never left ----------------------------------


async def test_create_milestone_is_not_retried_after_a_503(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, UNAVAILABLE_503)
    with pytest.raises(InternalError):
        await make_client().create_milestone("c_1", description="Batch 2")
    assert len(server.seen) == 1


async def test_create_milestone_is_not_retried_after_a_timeout(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, server.hang)
    with pytest.raises(OpenTrainUnavailable):
        await make_client(timeout=0.2).create_milestone("c_1", description="Batch 2")
    assert len(server.seen) == 1


class RefuseFirstConnection(httpx.AsyncBaseTransport):
    """Fails the first request as if the connection were refused, then uses real HTTP."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.refused = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.refused:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_create_milestone_is_retried_after_a_refused_connection(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, answer(lambda: reply(fixture("milestone-create-201.json"), 201)))
    transport = RefuseFirstConnection()
    documented = fixture("milestone-create-request-body.json")
    milestone = await make_client(transport=transport).create_milestone(
        "c_1",
        name=documented["name"],
        description=documented["description"],
        amount_usd=Decimal("300.00"),
        due_date=date(2026, 7, 15),
    )
    assert milestone.status == "NOT_FUNDED"
    assert transport.refused == 1
    [seen] = server.seen
    assert seen.raw_path == "/api/public/v1/contracts/c_1/milestones"
    assert seen.body == compact(documented)


# --- what goes on the wire --------------------------------------------------------------------


async def test_ids_are_quoted_so_they_cannot_escape_their_path(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, APPROVAL)
    client = make_client()
    await client.get_approval("../x")
    await client.get_approval("..")
    await client.get_approval("a b?c#d")
    assert [seen.raw_path for seen in server.seen] == [
        "/api/public/v1/approvals/..%2Fx",
        "/api/public/v1/approvals/%2E%2E",
        "/api/public/v1/approvals/a%20b%3Fc%23d",
    ]


async def test_query_parameters_skip_what_was_not_given(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, answer(lambda: reply(fixture("contracts-list.json"))))
    client = make_client()
    contracts = await client.list_contracts(status="active", job_id="job 1")
    await client.list_contracts()
    assert contracts[0].milestones[0].amount_usd == Decimal("300")
    assert server.seen[0].query == {"status": "active", "jobId": "job 1"}
    assert server.seen[1].query == {}


async def test_end_contract_direct_and_co_signed(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(
        server,
        answer(lambda: reply(fixture("contract-end-200.json"))),
        answer(lambda: reply(fixture("contract-end-202-concept.json"), 202)),
    )
    client = make_client()
    ended = await client.end_contract("c_1")
    co_signed = await client.end_contract("c_1")
    assert isinstance(ended, ContractEnded)
    assert ended.status == "ended"
    assert isinstance(co_signed, ApprovalRequested)
    assert co_signed.approval.type.value == "contract_end"


async def test_iter_updates_follows_has_more(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    event = fixture("updates-poll.json")["events"][1]

    async def pages(request: web.Request, _: int) -> web.Response:
        cursor = int(request.query.get("cursor", "0"))
        return reply({"events": [event], "nextCursor": str(cursor + 2), "hasMore": cursor < 4})

    server.handler = pages
    seen_pages = [page async for page in make_client().iter_updates(limit=2)]
    assert [page.next_cursor for page in seen_pages] == ["2", "4", "6"]
    assert [seen.query.get("cursor") for seen in server.seen] == [None, "2", "4"]
    assert {seen.query["limit"] for seen in server.seen} == {"2"}


async def test_iter_updates_stops_when_the_cursor_does_not_move(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(server, answer(lambda: reply({"events": [], "nextCursor": "7", "hasMore": True})))
    pages = [page async for page in make_client().iter_updates(cursor="7")]
    assert len(pages) == 1
    assert len(server.seen) == 1


async def test_webhook_and_message_bodies_match_the_documented_examples(
    server: ScriptedOpenTrain, make_client: MakeClient
) -> None:
    script(
        server,
        answer(lambda: reply(fixture("webhook-create.json"), 201)),
        answer(lambda: reply(fixture("messages-send-201.json"), 201)),
    )
    client = make_client()
    hook = fixture("webhook-create-request-body.json")
    created = await client.create_webhook(hook["url"], hook["eventTypes"])
    message = fixture("messages-send-request-body.json")
    sent = await client.send_message(message["conversationId"], message["content"])
    assert created.secret.get_secret_value() == "whsec_<SECRET>"
    assert sent.content == message["content"]
    assert server.seen[0].body == compact(hook)
    assert server.seen[1].body == compact(message)


async def test_token_is_sent_but_never_shown(
    server: ScriptedOpenTrain, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script(server, UNAVAILABLE_503)
    client = make_client(max_attempts=3)
    with pytest.raises(InternalError) as caught:
        await client.get_approval("apr_1")
    assert server.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    retries = [r for r in caplog.records if r.name == "bot.opentrain"]
    assert len(retries) == 2
    assert all(r.levelno == logging.INFO for r in retries)
    assert "attempt=1" in retries[0].getMessage()
    assert "cause=http_503" in retries[0].getMessage()
    secret = TOKEN.split("_")[-1]
    assert secret not in repr(client)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert secret not in caplog.text
