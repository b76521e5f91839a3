"""The `/updates` feed and webhook subscriptions + signed deliveries of the simulator."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from bot.sandbox.opentrain.vocabulary import MilestoneStatus
from tests.support.opentrain_sim import OpenTrainSimHandle, assert_error
from tests.support.wait import wait_for

ALL_TYPES = [
    "proposal.received",
    "proposal.status_changed",
    "message.received",
    "contract.created",
    "milestone.status_changed",
    "payment.pending",
    "approval.confirmed",
    "contract.budget_state_changed",
]


async def _add_proposals(sim: OpenTrainSimHandle, count: int) -> None:
    for n in range(count):
        response = await sim.control.post(
            "/_sim/proposals", json={"firstName": f"Applicant{n}", "lastName": "Example"}
        )
        assert response.status_code == 200


async def _freelancer_says(sim: OpenTrainSimHandle, content: str) -> None:
    response = await sim.control.post(
        "/_sim/messages", json={"conversationId": "conv_linus", "content": content}
    )
    assert response.status_code == 200


# --- /updates ------------------------------------------------------------------------------------


async def test_updates_pages_oldest_first_and_echoes_the_cursor(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    api = opentrain_sim.api()
    empty = (await api.get("/updates")).json()
    assert empty == {"events": [], "nextCursor": None, "hasMore": False}
    await _add_proposals(opentrain_sim, 5)
    pages = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/updates", params=params)).json()
        pages.append(page)
        cursor = page["nextCursor"]
        if not page["hasMore"]:
            break
    assert [[e["id"] for e in p["events"]] for p in pages] == [["1", "2"], ["3", "4"], ["5"]]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert [p["nextCursor"] for p in pages] == ["2", "4", "5"]
    caught_up = (await api.get("/updates", params={"cursor": "5"})).json()
    assert caught_up == {"events": [], "nextCursor": "5", "hasMore": False}
    event = pages[0]["events"][0]
    assert set(event) == {"id", "type", "apiVersion", "createdAt", "resourceId", "jobId", "data"}
    assert (event["type"], event["apiVersion"], event["jobId"]) == (
        "proposal.received",
        "v1",
        "job_dashcam",
    )
    assert event["data"] == {"proposalId": event["resourceId"], "jobId": "job_dashcam"}
    default = (await api.get("/updates")).json()
    assert len(default["events"]) == 5  # default limit 50


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=-1", "cursor"),
    ],
)
async def test_updates_rejects_bad_paging(
    opentrain_sim: OpenTrainSimHandle, query: str, field: str
) -> None:
    response = await opentrain_sim.api().get(f"/updates?{query}")
    assert_error(response, 400, "BAD_REQUEST", field=field)


async def test_updates_limit_bounds_are_inclusive(opentrain_sim: OpenTrainSimHandle) -> None:
    await _add_proposals(opentrain_sim, 2)
    api = opentrain_sim.api()
    one = (await api.get("/updates?limit=1")).json()
    most = (await api.get("/updates?limit=200")).json()
    assert (len(one["events"]), one["hasMore"]) == (1, True)
    assert (len(most["events"]), most["hasMore"]) == (2, False)


async def test_updates_drops_what_the_token_cannot_read(opentrain_sim: OpenTrainSimHandle) -> None:
    await _add_proposals(opentrain_sim, 1)  # proposals:read
    await _freelancer_says(opentrain_sim, "Batch 1 delivered")  # messages:read
    fund = await opentrain_sim.api().post("/milestones/ms_batch2/fund")
    await opentrain_sim.decline(fund.json()["approval"]["id"])  # payments:read
    messages_only = await opentrain_sim.token(["messages:read"])

    def types(page: dict[str, Any]) -> list[str]:
        return [e["type"] for e in page["events"]]

    full = (await opentrain_sim.api().get("/updates")).json()
    readonly = (await opentrain_sim.api("ot_pat_sim_readonly").get("/updates")).json()
    chat = (await opentrain_sim.api(messages_only).get("/updates?limit=1")).json()
    assert types(full) == ["proposal.received", "message.received", "approval.confirmed"]
    assert types(readonly) == ["approval.confirmed"]
    assert readonly["nextCursor"] == "3"
    assert types(chat) == ["message.received"]
    assert chat["hasMore"] is False  # only readable events count towards more
    assert chat["events"][0]["data"]["conversationId"] == "conv_linus"


# --- webhook subscriptions -----------------------------------------------------------------------


async def test_create_list_get_delete_webhook(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    body = {
        "url": "https://hooks.example.com/opentrain",
        "eventTypes": ["approval.confirmed", "approval.confirmed", "proposal.received"],
    }
    created = await api.post("/webhooks", json=body)
    assert created.status_code == 201
    payload = created.json()
    webhook = payload["webhook"]
    assert payload["secret"].startswith("whsec_") and payload["message"]
    assert webhook["eventTypes"] == ["approval.confirmed", "proposal.received"]  # deduplicated
    assert (webhook["status"], webhook["disabledAt"], webhook["disabledReason"]) == (
        "ACTIVE",
        None,
        None,
    )
    second = (await api.post("/webhooks", json={**body, "url": "http://127.0.0.1:9/x"})).json()
    listed = (await api.get("/webhooks")).json()["webhooks"]
    assert [w["id"] for w in listed] == [second["webhook"]["id"], webhook["id"]]  # newest first
    fetched = await api.get(f"/webhooks/{webhook['id']}")
    assert fetched.json() == {"webhook": webhook}
    assert "whsec_" not in fetched.text and "whsec_" not in (await api.get("/webhooks")).text
    deleted = await api.delete(f"/webhooks/{webhook['id']}")
    assert deleted.json() == {"webhook": webhook, "deleted": True}
    assert_error(
        await api.get(f"/webhooks/{webhook['id']}"),
        404,
        "NOT_FOUND",
        resource="webhooks",
        webhookId=webhook["id"],
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/x", "eventTypes": ["approval.confirmed"]}, "url"),
        ({"url": "ftp://hooks.example.com/x", "eventTypes": ["approval.confirmed"]}, "url"),
        ({"url": "/relative", "eventTypes": ["approval.confirmed"]}, "url"),
        ({"url": "https://x.example/" + "a" * 2048, "eventTypes": ["approval.confirmed"]}, "url"),
        ({"eventTypes": ["approval.confirmed"]}, "url"),
        ({"url": "https://x.example/h", "eventTypes": []}, "eventTypes"),
        ({"url": "https://x.example/h", "eventTypes": ["approval.created"]}, "eventTypes"),
        ({"url": "https://x.example/h", "eventTypes": "approval.confirmed"}, "eventTypes"),
    ],
)
async def test_webhook_validation(
    opentrain_sim: OpenTrainSimHandle, body: dict[str, Any], field: str
) -> None:
    response = await opentrain_sim.api().post("/webhooks", json=body)
    assert_error(response, 400, "BAD_REQUEST", field=field)


async def test_webhook_limits_and_scopes(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    body = {"url": "https://hooks.example.com/x", "eventTypes": ["approval.confirmed"]}
    for _ in range(10):
        assert (await api.post("/webhooks", json=body)).status_code == 201
    assert_error(
        await api.post("/webhooks", json=body),
        409,
        "CONFLICT",
        reason="webhook_limit_reached",
    )
    manage_only = await opentrain_sim.token(["webhooks:manage", "proposals:read"])
    assert_error(
        await opentrain_sim.api(manage_only).post(
            "/webhooks", json={**body, "eventTypes": ["proposal.received", "approval.confirmed"]}
        ),
        403,
        "FORBIDDEN",
        requiredScopes=["payments:read"],
    )
    assert_error(
        await opentrain_sim.api("ot_pat_sim_readonly").get("/webhooks"),
        403,
        "FORBIDDEN",
        requiredScopes=["webhooks:manage"],
    )


# --- deliveries ----------------------------------------------------------------------------------


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 answering `statuses` in turn (then the last one)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    hits: list[Hit] = field(default_factory=list)
    release: asyncio.Event | None = None
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(Hit(dict(request.headers), await request.read(), time.monotonic()))
        if self.release is not None:
            await self.release.wait()
        status = self.statuses[min(len(self.hits), len(self.statuses)) - 1]
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    target.url = f"http://{host}:{port}/hook"
    try:
        yield target
    finally:
        if target.release is not None:
            target.release.set()
        await runner.cleanup()


async def _subscribe(sim: OpenTrainSimHandle, url: str, types: list[str]) -> dict[str, Any]:
    response = await sim.api().post("/webhooks", json={"url": url, "eventTypes": types})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _verify(secret: str, hit: Hit) -> int:
    """Check the signature the way a receiver should; returns its timestamp."""
    fields = dict(part.split("=", 1) for part in hit.headers["X-OpenTrain-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.".encode() + hit.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    return int(fields["t"])


async def test_delivery_is_signed_and_carries_the_event_record(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    await _add_proposals(opentrain_sim, 1)  # before the subscription: never delivered
    created = await _subscribe(opentrain_sim, receiver.url, ["proposal.received"])
    await opentrain_sim.advance(3600)  # signatures use the simulator clock
    await _freelancer_says(opentrain_sim, "not subscribed")
    await _add_proposals(opentrain_sim, 2)
    await wait_for(lambda: len(receiver.hits) == 2, timeout=5, message="two deliveries")

    feed = (await opentrain_sim.api().get("/updates")).json()["events"]
    expected = [e for e in feed if e["type"] == "proposal.received"][1:]
    delivered = sorted((json.loads(h.body) for h in receiver.hits), key=lambda e: int(e["id"]))
    assert delivered == expected
    for hit in receiver.hits:
        assert hit.headers["Content-Type"] == "application/json"
        assert hit.headers["User-Agent"] == "OpenTrain-Webhooks/1.0"
        assert hit.headers["X-OpenTrain-Event"] == "proposal.received"
        timestamp = _verify(created["secret"], hit)
        assert abs(timestamp - (time.time() + 3600)) < 60
    assert len({h.headers["X-OpenTrain-Delivery"] for h in receiver.hits}) == 2


async def test_failed_delivery_is_retried_on_schedule_with_the_same_id(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    receiver.statuses = [500, 404, 204]
    created = await _subscribe(opentrain_sim, receiver.url, ["proposal.received"])
    await _add_proposals(opentrain_sim, 1)
    await wait_for(lambda: len(receiver.hits) == 3, timeout=5, message="three attempts")
    assert len({h.headers["X-OpenTrain-Delivery"] for h in receiver.hits}) == 1
    assert len({h.body for h in receiver.hits}) == 1
    # 1 min then 5 min, scaled by 0.001 in tests.
    assert receiver.hits[1].at - receiver.hits[0].at >= 0.06
    assert receiver.hits[2].at - receiver.hits[1].at >= 0.3
    webhook_id = created["webhook"]["id"]
    # The simulator records an attempt once its answer is in, a moment after the receiver saw it.
    attempts = await wait_for(
        lambda: (
            len(opentrain_sim.state.webhooks[webhook_id].attempts) == 3
            and opentrain_sim.state.webhooks[webhook_id].attempts
        ),
        timeout=5,
        message="the third attempt recorded",
    )
    assert [(a.attempt, a.status_code, a.ok) for a in attempts] == [
        (1, 500, False),
        (2, 404, False),
        (3, 204, True),
    ]
    assert opentrain_sim.state.webhooks[webhook_id].consecutive_failures == 0
    assert opentrain_sim.state.deliveries == {}


async def test_ten_consecutive_failures_disable_the_subscription(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    receiver.statuses = [503]
    created = await _subscribe(opentrain_sim, receiver.url, ["proposal.received"])
    webhook_id = created["webhook"]["id"]
    await _add_proposals(opentrain_sim, 2)  # 2 events × 5 attempts = 10 failures

    async def disabled() -> dict[str, Any] | None:
        # Retries are due on the simulator clock: jumping it makes them go out now.
        await opentrain_sim.advance(3 * 3600)
        webhook = (await opentrain_sim.api().get(f"/webhooks/{webhook_id}")).json()["webhook"]
        return dict(webhook) if webhook["status"] == "DISABLED" else None

    webhook = await wait_for(disabled, timeout=10, message="the subscription to be disabled")
    assert webhook["disabledAt"] is not None
    assert webhook["disabledReason"] == "Disabled after repeated delivery failures"
    await wait_for(lambda: not opentrain_sim.state.deliveries, timeout=5, message="nothing owed")
    hits = len(receiver.hits)
    assert hits == 10
    await _add_proposals(opentrain_sim, 1)
    await opentrain_sim.advance(3 * 3600)
    assert opentrain_sim.state.deliveries == {}
    assert len(receiver.hits) == hits


async def test_deliveries_never_hold_up_the_api(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    receiver.release = asyncio.Event()
    await _subscribe(opentrain_sim, receiver.url, ["proposal.received"])
    await _add_proposals(opentrain_sim, 1)
    await wait_for(lambda: receiver.hits, timeout=5, message="the delivery to arrive")
    started = time.monotonic()
    assert (await opentrain_sim.api().get("/auth/me")).status_code == 200
    assert time.monotonic() - started < 1
    receiver.release.set()
    await wait_for(lambda: not opentrain_sim.state.deliveries, timeout=5, message="delivered")


async def test_deleting_a_subscription_drops_what_it_still_owes(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    created = await _subscribe(opentrain_sim, receiver.url, ALL_TYPES)
    await _add_proposals(opentrain_sim, 1)
    await wait_for(lambda: receiver.hits, timeout=5, message="the first attempt")
    await opentrain_sim.api().delete(f"/webhooks/{created['webhook']['id']}")
    assert opentrain_sim.state.deliveries == {}
    hits = len(receiver.hits)
    await opentrain_sim.advance(3 * 3600)
    assert len(receiver.hits) == hits


async def test_duplicated_deliveries_repeat_the_same_delivery(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    await opentrain_sim.configure(webhookDuplicates=True)
    created = await _subscribe(opentrain_sim, receiver.url, ["proposal.received"])
    await _add_proposals(opentrain_sim, 2)
    await wait_for(lambda: len(receiver.hits) == 4, timeout=5, message="two deliveries, twice")
    by_delivery: dict[str, list[bytes]] = {}
    for hit in receiver.hits:
        _verify(created["secret"], hit)
        by_delivery.setdefault(hit.headers["X-OpenTrain-Delivery"], []).append(hit.body)
    assert [len(set(bodies)) for bodies in by_delivery.values()] == [1, 1]
    assert [len(bodies) for bodies in by_delivery.values()] == [2, 2]


async def test_reordered_deliveries_arrive_newest_first(
    opentrain_sim: OpenTrainSimHandle, receiver: Receiver
) -> None:
    await opentrain_sim.configure(webhookReorder=True)
    await _subscribe(opentrain_sim, receiver.url, ALL_TYPES)
    hire = {"milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450}}
    approval = (await opentrain_sim.api().post("/proposals/prop_ada/hire", json=hire)).json()
    await opentrain_sim.confirm(approval["approval"]["id"])  # several events at once
    feed = (await opentrain_sim.api().get("/updates")).json()["events"]
    assert len(feed) >= 3
    await wait_for(lambda: len(receiver.hits) == len(feed), timeout=5, message="every event")
    ids = [int(json.loads(hit.body)["id"]) for hit in receiver.hits]
    assert ids == sorted(ids, reverse=True)
    # A lone event is not held back for long.
    await _add_proposals(opentrain_sim, 1)
    await wait_for(lambda: len(receiver.hits) == len(feed) + 1, timeout=5, message="a lone one")


# --- budget usage -----------------------------------------------------------------------------


async def test_usage_moves_an_hourly_budget_to_low_then_depleted_once_each(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    state = opentrain_sim.state
    contract = state.contracts["ctr_margaret"]  # hourly; nothing funded yet: always OK
    assert (await _usage(opentrain_sim, "ctr_margaret", 5))["state"] == "OK"
    state.add_milestone(
        contract,
        name="Week 1",
        description="10 h",
        amount_usd=Decimal(250),
        volume=Decimal(10),
        status=MilestoneStatus.ACTIVE_FUNDED,
    )
    since = state.events[-1].id if state.events else "0"
    # 5 h already worked of the 10 h now funded: 50 %, still OK.
    low = await _usage(opentrain_sim, "ctr_margaret", 3)  # 80 %
    again = await _usage(opentrain_sim, "ctr_margaret", 1)  # 90 %: still LOW, no event
    depleted = await _usage(opentrain_sim, "ctr_margaret", 2.5)  # 115 %
    assert [low["state"], again["state"], depleted["state"]] == ["LOW", "LOW", "DEPLETED"]
    assert depleted["remainingVolume"] == 0 and depleted["consumedFraction"] == 1.15
    assert depleted["consumed"]["hours"] == 11.5 and depleted["consumed"]["seconds"] == 41400

    api = opentrain_sim.api(opentrain_sim.full_token)
    events = (await api.get("/updates", params={"cursor": since})).json()["events"]
    changes = [e["data"] for e in events if e["type"] == "contract.budget_state_changed"]
    assert [(c["previousState"], c["state"]) for c in changes] == [
        ("OK", "LOW"),
        ("LOW", "DEPLETED"),
    ]
    assert changes[0] | {"consumedFraction": 0.8} == changes[0]
    assert changes[1]["remainingVolume"] == 0 and changes[1]["paymentType"] == "PAY_PER_HOUR"
    contract_read = (await api.get("/contracts/ctr_margaret")).json()["contract"]
    assert contract_read["budget"]["state"] == "DEPLETED"


async def test_usage_is_refused_for_an_unknown_contract_or_no_volume(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    unknown = await opentrain_sim.control.post(
        "/_sim/contracts/ctr_nobody/usage", json={"volume": 1}
    )
    none = await opentrain_sim.control.post(
        "/_sim/contracts/ctr_margaret/usage", json={"volume": 0}
    )
    text = await opentrain_sim.control.post(
        "/_sim/contracts/ctr_margaret/usage", json={"volume": "lots"}
    )
    assert unknown.status_code == 404 and unknown.json()["details"]["contractId"] == "ctr_nobody"
    assert none.status_code == 400 and text.status_code == 400


async def _usage(sim: OpenTrainSimHandle, contract_id: str, volume: float) -> dict[str, Any]:
    response = await sim.control.post(
        f"/_sim/contracts/{contract_id}/usage", json={"volume": volume}
    )
    assert response.status_code == 200, response.text
    budget: dict[str, Any] = response.json()["budget"]
    return budget
