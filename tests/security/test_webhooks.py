"""OpenTrain webhooks that are forged, tampered, stale or replayed: refused (or ignored) before
they can make the bot do anything — not even ask OpenTrain for its feed.

A delivery only rings the doorbell (one `/updates` poll). With the poll interval at an
hour, any `/updates` request OpenTrain sees during a test was rung by a delivery, so
"nothing reached OpenTrain" is exact. Even a correctly signed delivery is never read as
state: one that claims an outcome OpenTrain does not report changes no card.

Proven elsewhere, not repeated here: tests/e2e/test_webhooks.py — each kind of bad
signature is refused with a 400 naming why and logged without the secret, a refused
delivery id is not consumed, a real delivery replayed is ignored and refused once stale,
bodies over 64 KiB get 413, and without OT_WEBHOOK_SECRET the route does not exist;
tests/unit/test_webhook_signature.py — the signature scheme itself.
"""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from bot.opentrain.webhooks import sign
from bot.sandbox.runner import Sandbox
from bot.tracked_approvals import Requester
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

SECRET = "whsec_security_suite_0123456789"
HIRING = "C0HIRING"
HOUR = 3600.0


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    sandbox = await make_sandbox(ot_poll_interval_seconds=HOUR, slack_rate_limit_scale=100)
    sandbox.services.settings.ot_webhook_secret = SecretStr(SECRET)
    return sandbox


def feed_polls(sandbox: Sandbox) -> int:
    return sum(1 for e in sandbox.opentrain.requests.since(0) if e["path"] == "/updates")


def bot_messages(sandbox: Sandbox) -> list[str]:
    return [
        json.dumps({"text": m.text, "blocks": m.blocks, "edits": len(m.edits)})
        for channel in sandbox.slack.state.channels
        for m in sandbox.slack.messages(channel)
        if m.bot_id
    ]


def event(approval_id: str) -> bytes:
    data = {"approvalId": approval_id, "status": "confirmed"}
    record = {"id": "42", "type": "approval.confirmed", "resourceId": approval_id, "data": data}
    return json.dumps(record).encode()


async def deliver(
    sandbox: Sandbox, body: bytes, signature: str | None, delivery: str
) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-OpenTrain-Delivery": delivery}
    if signature is not None:
        headers["X-OpenTrain-Signature"] = signature
    async with httpx.AsyncClient(base_url=sandbox.bot_url) as http:
        return await http.post("/opentrain/webhook", content=body, headers=headers)


async def pending_card(sandbox: Sandbox) -> str:
    outcome = await sandbox.services.cosign.fund(
        "ms_batch2", requester=Requester(kind="slack", id="U0ANA"), channel_id=HIRING
    )
    return outcome.approval.approval_id


async def test_bad_deliveries_reach_nothing_and_post_nothing(sandbox: Sandbox) -> None:
    approval_id = await pending_card(sandbox)
    await wait_for(lambda: feed_polls(sandbox), message="the poll at start")
    sandbox.opentrain.state.confirm(approval_id)  # a real outcome, waiting for the next poll
    now = int(sandbox.services.clock.now().timestamp())
    body = event(approval_id)
    genuine = sign(SECRET, body, now)
    polls, before = feed_polls(sandbox), bot_messages(sandbox)

    refused = {
        "forged": (body, sign("whsec_an_attackers_guess", body, now)),
        "tampered": (event("apr_someone_else"), genuine),  # signed over the other body
        "stale": (body, sign(SECRET, body, now - 330)),
        "from the future": (body, sign(SECRET, body, now + 330)),
        "unsigned": (body, None),
        "malformed": (body, "t=now,v1=zz"),
    }
    for case, (payload, signature) in refused.items():
        answer = await deliver(sandbox, payload, signature, f"dlv_{case.replace(' ', '_')}")
        assert answer.status_code == 400, (case, answer.text)
        assert answer.json()["code"] == "BAD_REQUEST", case

    accepted = await deliver(sandbox, body, genuine, "dlv_genuine")
    assert accepted.json() == {"ok": True, "duplicate": False}
    await wait_for(lambda: feed_polls(sandbox) == polls + 1, message="the one rung poll")
    replayed = await deliver(sandbox, body, genuine, "dlv_genuine")
    assert replayed.json() == {"ok": True, "duplicate": True}

    await wait_for(lambda: bot_messages(sandbox) != before, message="the outcome")
    await sandbox.services.notifier.drain()
    assert feed_polls(sandbox) == polls + 1  # only the genuine delivery rang


async def test_a_signed_delivery_that_lies_about_an_outcome_changes_no_card(
    sandbox: Sandbox,
) -> None:
    approval_id = await pending_card(sandbox)
    await wait_for(lambda: bot_messages(sandbox), message="the card")
    await wait_for(lambda: feed_polls(sandbox), message="the poll at start")
    polls, before = feed_polls(sandbox), bot_messages(sandbox)
    now = int(sandbox.services.clock.now().timestamp())
    body = event(approval_id)  # "confirmed" — OpenTrain says it is still pending
    answer = await deliver(sandbox, body, sign(SECRET, body, now), "dlv_lying")
    assert answer.status_code == 200
    await wait_for(lambda: feed_polls(sandbox) == polls + 1, message="the rung poll")
    await sandbox.services.notifier.drain()
    assert bot_messages(sandbox) == before
    stored = await sandbox.services.store.get_approval(approval_id)
    assert stored is not None and stored.status.value == "pending"
