"""`POST /opentrain/webhook`: real deliveries from the OpenTrain simulator ring the doorbell so a
card updates at once (the poll interval is an hour); tampered, stale, replayed and duplicate
deliveries are refused or ignored; without OT_WEBHOOK_SECRET the route does not exist."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.doctor import opentrain_checks
from bot.opentrain.webhooks import sign
from bot.sandbox.runner import Sandbox
from bot.tracked_approvals import Requester
from bot.webhook_cli import run_webhooks
from tests.e2e.test_agent_api import card_in
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

HIRING = "C0HIRING"
HOUR = 3600.0


@dataclass
class Captured:
    """Deliveries as the simulator sent them, on their way to the bot."""

    deliveries: list[tuple[bytes, dict[str, str], int]] = field(default_factory=list)


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    # An hour between feed polls: anything faster than that is the webhook's doing.
    return await make_sandbox(ot_poll_interval_seconds=HOUR)


@pytest.fixture
async def captured(sandbox: Sandbox) -> AsyncIterator[Captured]:
    """A pass-through in front of the bot that records each delivery's exact bytes."""
    record = Captured()
    bot = httpx.AsyncClient(base_url=sandbox.bot_url)

    async def relay(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-opentrain")}
        answer = await bot.post("/opentrain/webhook", content=body, headers=headers)
        record.deliveries.append((body, headers, answer.status_code))
        return web.Response(status=answer.status_code, body=answer.content)

    app = web.Application()
    app.router.add_post("/opentrain/webhook", relay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    await subscribe(sandbox, f"http://127.0.0.1:{port}/opentrain/webhook")
    yield record
    await runner.cleanup()
    await bot.aclose()


async def subscribe(sandbox: Sandbox, url: str) -> None:
    """`python -m bot webhooks register --url …`, then set the secret it printed — read by
    the receiver at request time, since the bot's port is known only once it runs."""
    lines: list[str] = []
    args = argparse.Namespace(webhook_command="register", url=url)
    settings = sandbox.services.settings
    status = await run_webhooks(settings, args, out=lines.append)
    assert status == 0, lines
    secret = next(line.split("=", 1)[1] for line in lines if "OT_WEBHOOK_SECRET=" in line)
    settings.ot_webhook_secret = SecretStr(secret)


def secret_of(sandbox: Sandbox) -> str:
    secret = sandbox.services.settings.ot_webhook_secret
    assert secret is not None
    return secret.get_secret_value()


async def pending_card(sandbox: Sandbox, milestone_id: str = "ms_batch2") -> str:
    outcome = await sandbox.services.cosign.fund(
        milestone_id, requester=Requester(kind="slack", id="U0ANA"), channel_id=HIRING
    )
    approval_id = outcome.approval.approval_id
    await wait_for(lambda: card_in(sandbox, HIRING, approval_id), message="card")
    return approval_id


def resolved_card(sandbox: Sandbox, approval_id: str) -> bool:
    card = card_in(sandbox, HIRING, approval_id)
    return card is not None and "Review & confirm" not in json.dumps(card.blocks)


async def deliver(
    sandbox: Sandbox, body: bytes, signature: str | None, delivery: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-OpenTrain-Event": "approval.confirmed"}
    if signature is not None:
        headers["X-OpenTrain-Signature"] = signature
    if delivery is not None:
        headers["X-OpenTrain-Delivery"] = delivery
    async with httpx.AsyncClient(base_url=sandbox.bot_url) as http:
        return await http.post("/opentrain/webhook", content=body, headers=headers)


def event(approval_id: str = "apr_1") -> bytes:
    data = {"approvalId": approval_id, "status": "confirmed"}
    record = {"id": "42", "type": "approval.confirmed", "resourceId": approval_id, "data": data}
    return json.dumps(record).encode()


def bot_now(sandbox: Sandbox) -> int:
    return int(sandbox.services.clock.now().timestamp())


# --- real deliveries ------------------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["webhookDuplicates", "webhookReorder"])
async def test_duplicated_or_reordered_deliveries_land_each_outcome_once(
    sandbox: Sandbox, captured: Captured, switch: str
) -> None:
    """At-least-once and unordered (opentrain-api.md §13), as the simulator can be set to."""
    state = sandbox.opentrain.state
    state.config = state.config.patched({switch: True})
    declined, confirmed = [await pending_card(sandbox, m) for m in ("ms_batch2", "ms_lidar1")]
    state.decline(declined)
    state.confirm(confirmed)  # several events at once: the milestone's and the approval's

    def replies(approval_id: str) -> list[Any]:
        return list(card_in(sandbox, HIRING, approval_id).live_replies())

    for approval_id in (declined, confirmed):
        await wait_for(lambda a=approval_id: resolved_card(sandbox, a), message="outcome")
        await wait_for(lambda a=approval_id: replies(a), message="outcome reply")
    await wait_for(lambda: not state.deliveries, message="every delivery answered")
    ids = [headers["X-OpenTrain-Delivery"] for _, headers, _ in captured.deliveries]
    events = [int(json.loads(body)["id"]) for body, _, _ in captured.deliveries]
    if switch == "webhookDuplicates":
        assert len(ids) == 2 * len(set(ids))
    else:
        assert events != sorted(events)  # some arrived before an earlier event
    for approval_id in (declined, confirmed):
        assert len(replies(approval_id)) == 1, approval_id


async def test_a_delivery_updates_the_card_without_waiting_for_the_poll(
    sandbox: Sandbox, captured: Captured
) -> None:
    approval_id = await pending_card(sandbox)
    confirmed_at = time.monotonic()
    sandbox.opentrain.state.confirm(approval_id)
    await wait_for(lambda: resolved_card(sandbox, approval_id), timeout=1.0, message="card")
    assert time.monotonic() - confirmed_at < 1.0  # against a one-hour poll interval
    assert captured.deliveries and {status for *_, status in captured.deliveries} == {200}
    webhook = next(iter(sandbox.opentrain.state.webhooks.values()))
    assert webhook.attempts and all(attempt.ok for attempt in webhook.attempts)


async def test_the_sandbox_people_run_is_subscribed_to_webhooks(
    make_sandbox: SandboxFactory,
) -> None:
    """`python -m bot sandbox` starts with `webhooks=True`: the subscription is made through
    the API before the bot starts, so outcomes need no poll and `status` shows it used."""
    sandbox = await make_sandbox(webhooks=True, ot_poll_interval_seconds=HOUR)
    [webhook] = sandbox.opentrain.state.webhooks.values()
    assert webhook.url == f"{sandbox.bot_url}/opentrain/webhook"
    assert webhook.secret == secret_of(sandbox)

    approval_id = await pending_card(sandbox)
    sandbox.opentrain.state.confirm(approval_id)
    await wait_for(lambda: resolved_card(sandbox, approval_id), message="card, by the webhook")
    assert webhook.attempts and all(attempt.ok for attempt in webhook.attempts)

    checks = await opentrain_checks(
        sandbox.services.opentrain,
        sandbox.services.settings.ot_api_base_url,
        webhook_secret_set=True,
    )
    [used] = [check for check in checks if check.name == "Webhook"]
    assert used.ok and webhook.id in used.detail


async def test_without_a_valid_signature_the_card_waits_for_the_poll(
    sandbox: Sandbox, captured: Captured
) -> None:
    settings = sandbox.services.settings
    settings.ot_webhook_secret = SecretStr("whsec_not_the_subscription_secret")
    approval_id = await pending_card(sandbox)
    sandbox.opentrain.state.confirm(approval_id)
    await wait_for(lambda: captured.deliveries, message="a delivery")
    assert {status for *_, status in captured.deliveries} == {400}
    assert not resolved_card(sandbox, approval_id)
    # The feed stays the ledger: the next poll (here rung by hand) applies the outcome.
    sandbox.services.scheduler.kick("feed-poll")
    await wait_for(lambda: resolved_card(sandbox, approval_id), message="card after the poll")


async def test_a_replayed_real_delivery_is_ignored_then_refused_once_stale(
    sandbox: Sandbox, captured: Captured
) -> None:
    approval_id = await pending_card(sandbox)
    sandbox.opentrain.state.confirm(approval_id)
    await wait_for(lambda: captured.deliveries, message="a delivery")
    body, headers, status = captured.deliveries[0]
    assert status == 200

    async with httpx.AsyncClient(base_url=sandbox.bot_url) as http:
        replay = await http.post("/opentrain/webhook", content=body, headers=headers)
        assert replay.status_code == 200 and replay.json() == {"ok": True, "duplicate": True}

        sandbox.opentrain.state.advance(301)
        await sandbox.services.clock.sync()
        fresh_id = {**headers, "X-OpenTrain-Delivery": "dlv_replayed_later"}
        stale = await http.post("/opentrain/webhook", content=body, headers=fresh_id)
    assert stale.status_code == 400 and "stale" in stale.json()["error"]


# --- hand-made deliveries ----------------------------------------------------------------------


def feed_polls(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.opentrain.requests.since(0) if e["path"] == "/updates")


async def test_signed_deliveries_ring_the_doorbell_once(sandbox: Sandbox) -> None:
    sandbox.services.settings.ot_webhook_secret = SecretStr("whsec_handmade_secret")
    polls = await wait_for(lambda: feed_polls(sandbox), message="the poll at start")
    body = event()
    signature = sign("whsec_handmade_secret", body, bot_now(sandbox))
    first = await deliver(sandbox, body, signature, "dlv_1")
    assert first.status_code == 200 and first.json() == {"ok": True, "duplicate": False}
    await wait_for(lambda: feed_polls(sandbox) > polls, message="a poll rung by the delivery")
    again = await deliver(sandbox, body, signature, "dlv_1")
    assert again.status_code == 200 and again.json() == {"ok": True, "duplicate": True}
    other = await deliver(sandbox, body, signature, "dlv_2")
    assert other.json() == {"ok": True, "duplicate": False}
    # No delivery id: cannot be deduplicated, still only a doorbell.
    assert (await deliver(sandbox, body, signature)).json() == {"ok": True, "duplicate": False}


async def test_bad_deliveries_are_refused_and_logged_without_the_secret(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "whsec_handmade_secret"
    sandbox.services.settings.ot_webhook_secret = SecretStr(secret)
    body = event()
    now = bot_now(sandbox)
    valid = sign(secret, body, now)
    cases: list[tuple[str, bytes, str | None]] = [
        ("mismatch", event("apr_2"), valid),  # the body was changed after signing
        ("mismatch", body, sign("whsec_someone_else", body, now)),
        ("stale", body, sign(secret, body, now - 330)),
        ("stale", body, sign(secret, body, now + 330)),
        ("malformed", body, "v1=" + valid.split("v1=")[1]),
        ("malformed", body, "t=abc,v1=00"),
        ("malformed", body, ""),
        ("malformed", body, None),
    ]
    caplog.set_level(logging.WARNING, logger="bot.webhook")
    for index, (reason, payload, signature) in enumerate(cases):
        response = await deliver(sandbox, payload, signature, f"dlv_bad_{index}")
        assert response.status_code == 400, (reason, response.text)
        answer = response.json()
        assert set(answer) == {"error", "code", "requestId", "details"}
        assert answer["code"] == "BAD_REQUEST" and reason in answer["error"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.webhook"]
    assert len(warnings) == len(cases)
    assert all("webhook delivery refused" in w for w in warnings)
    assert secret not in caplog.text
    # A refused delivery id was not consumed: the genuine delivery still counts.
    accepted = await deliver(sandbox, body, valid, "dlv_bad_0")
    assert accepted.json() == {"ok": True, "duplicate": False}


@pytest.mark.parametrize("timestamp", ["9" * 5000, "9" * 20], ids=["5000-digits", "20-digits"])
async def test_a_timestamp_that_is_no_timestamp_is_malformed_and_changes_nothing(
    sandbox: Sandbox, timestamp: str
) -> None:
    # Past int()'s 4300-digit limit, or past what a float comparison holds: a 400, not a 500.
    secret = "whsec_handmade_secret"
    sandbox.services.settings.ot_webhook_secret = SecretStr(secret)
    approval_id = await pending_card(sandbox)
    polls = await wait_for(lambda: feed_polls(sandbox), message="the poll at start")
    body = event(approval_id)
    # Signed over the very `t=` it carries, as a sender who meant it would.
    message = timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    response = await deliver(sandbox, body, f"t={timestamp},v1={digest}", "dlv_huge_t")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BAD_REQUEST" and "malformed" in response.json()["error"]
    await sandbox.services.notifier.drain()
    assert feed_polls(sandbox) == polls  # no poll was rung
    stored = await sandbox.services.store.get_approval(approval_id)
    assert stored is not None and stored.status.value == "pending"
    # The delivery id was not claimed: the genuine delivery under it still counts.
    genuine = await deliver(sandbox, body, sign(secret, body, bot_now(sandbox)), "dlv_huge_t")
    assert genuine.json() == {"ok": True, "duplicate": False}


async def test_oversized_bodies_are_refused(sandbox: Sandbox) -> None:
    sandbox.services.settings.ot_webhook_secret = SecretStr("whsec_handmade_secret")
    body = b"{" + b" " * (64 * 1024) + b"}"
    signature = sign("whsec_handmade_secret", body, bot_now(sandbox))
    assert (await deliver(sandbox, body, signature, "dlv_big")).status_code == 413


async def test_without_a_secret_there_is_no_receiver(sandbox: Sandbox) -> None:
    response = await deliver(sandbox, event(), sign("whsec_x", event(), bot_now(sandbox)), "d")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
