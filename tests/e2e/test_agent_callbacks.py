"""Signed outcome callbacks end to end: the bot over HTTP against both simulators, and the
agent's receiver a real aiohttp server on loopback (so these bots run with
CALLBACK_ALLOW_PRIVATE=true, except where the refusal of such a URL is the point)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cards import ActionId
from bot.outbox import Effect
from bot.sandbox.runner import Sandbox
from bot.scheduler import OUTBOX_JOB
from bot.services import Services
from tests.e2e.test_agent_api import (
    AGENT_TOKENS,
    PLANNER_TOKEN,
    Agent,
    assert_envelope,
    assert_schema,
    calls_to_opentrain,
    hire_body,
)
from tests.e2e.test_agent_policy import LABELER, POLICY, TOKENS, click, policy_card
from tests.e2e.test_reminders import move_to
from tests.support.bot_harness import SandboxFactory
from tests.support.callback_receiver import Receiver, callback_receiver
from tests.support.processes import Deployment
from tests.support.wait import wait_for


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with callback_receiver() as running:
        yield running


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(agent_tokens=AGENT_TOKENS, callback_allow_private=True)


@pytest.fixture
async def agent(sandbox: Sandbox) -> AsyncIterator[Agent]:
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as http:
        yield Agent(http)


async def fund(agent: Agent, callback_url: str, milestone: str = "ms_batch2") -> str:
    response = await agent.post("fund", {"milestoneId": milestone, "callbackUrl": callback_url})
    assert response.status_code == 202, response.text
    assert_schema(response.json(), "ApprovalResponse")
    return str(response.json()["approval"]["id"])


async def drained_after(sandbox: Sandbox, seconds: float) -> None:
    """Move the clocks on (past a retry's backoff) and drain the outbox, as its job would."""
    await move_to(sandbox, sandbox.opentrain.state.now() + timedelta(seconds=seconds))
    await sandbox.services.notifier.drain()


# --- delivered -----------------------------------------------------------------------------------


async def test_a_confirmed_fund_is_called_back_once_signed(
    sandbox: Sandbox, agent: Agent, receiver: Receiver
) -> None:
    approval_id = await fund(agent, receiver.url())
    sandbox.opentrain.state.confirm(approval_id)  # the human, in OpenTrain

    [call] = await wait_for(lambda: receiver.received, message="the callback")
    delivery = f"{approval_id}:callback:confirmed"
    done = await wait_for(lambda: _done(sandbox.services, delivery), message="recorded")
    await sandbox.services.notifier.drain()  # every chance for a second one
    assert len(receiver.received) == 1 and done.result == {"delivered": True}

    assert (call.method, call.path) == ("POST", "/hook")
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"] == "OpenTrain-Cosign-Callbacks/1"
    assert call.headers["X-Cosign-Delivery"] == delivery
    assert call.signed_by(PLANNER_TOKEN)
    assert not call.signed_by("agent-token-auditor-9876543210")
    body = call.json()
    assert body["event"] == "approval.ended"
    assert body["approvalId"] == approval_id and body["status"] == "confirmed"
    assert body["tracked"]["outcome"]["status"] == "confirmed"
    assert body["tracked"]["requester"] == {"kind": "agent", "id": "planner", "note": None}
    assert body["card"]["channel"] == "C0HIRING" and body["card"]["ts"]
    # The rest is the agent API's approval body, as GET /agent/v1/approvals/{id} shows it.
    rest = {k: v for k, v in body.items() if k not in ("event", "approvalId", "status")}
    assert_schema(rest, "ApprovalResponse")
    assert PLANNER_TOKEN not in call.body.decode()


async def test_a_failed_delivery_is_retried_with_the_same_delivery_id(
    sandbox: Sandbox, agent: Agent, receiver: Receiver
) -> None:
    receiver.answers = [500]
    approval_id = await fund(agent, receiver.url())
    sandbox.opentrain.state.decline(approval_id)
    delivery = f"{approval_id}:callback:declined"

    failed = await wait_for(lambda: _attempted(sandbox.services, delivery), message="1st try")
    assert failed.last_error == "http 500" and not failed.done
    assert len(receiver.received) == 1

    await drained_after(sandbox, 31)  # the first retry waits 30 s
    await wait_for(lambda: _done(sandbox.services, delivery), message="delivered")
    first, second = receiver.received
    assert first.headers["X-Cosign-Delivery"] == second.headers["X-Cosign-Delivery"] == delivery
    assert first.body == second.body and second.json()["status"] == "declined"
    assert first.signed_by(PLANNER_TOKEN) and second.signed_by(PLANNER_TOKEN)


async def test_a_redirect_is_a_failure_and_is_never_followed(
    sandbox: Sandbox, agent: Agent, receiver: Receiver
) -> None:
    receiver.answers = [302]
    approval_id = await fund(agent, receiver.url())
    sandbox.opentrain.state.confirm(approval_id)
    delivery = f"{approval_id}:callback:confirmed"

    failed = await wait_for(lambda: _attempted(sandbox.services, delivery), message="1st try")
    assert failed.last_error == "http 302 (redirects are not followed)" and not failed.done
    await sandbox.services.notifier.drain()  # before its backoff: nothing more
    assert [r.path for r in receiver.received] == ["/hook"]
    assert receiver.at("/elsewhere") == []

    await drained_after(sandbox, 31)
    await wait_for(lambda: _done(sandbox.services, delivery), message="delivered on retry")
    assert receiver.at("/elsewhere") == [] and len(receiver.at("/hook")) == 2


async def test_a_receiver_that_never_answers_2xx_is_audited_after_24_hours(
    sandbox: Sandbox, agent: Agent, receiver: Receiver
) -> None:
    receiver.always = 503
    approval_id = await fund(agent, receiver.url())
    sandbox.opentrain.state.confirm(approval_id)
    delivery = f"{approval_id}:callback:confirmed"
    await wait_for(lambda: _attempted(sandbox.services, delivery), message="1st try")

    await drained_after(sandbox, 24 * 3600 + 60)
    done = await wait_for(lambda: _done(sandbox.services, delivery), message="given up")
    assert done.result == {"error": "http 503"}
    assert len(receiver.received) == 2
    [entry] = [
        e
        for e in await sandbox.services.store.read_audit(approval_id=approval_id)
        if e.action == "callback_undeliverable"
    ]
    assert entry.details["error"] == "http 503" and entry.details["effect"] == delivery
    assert entry.details["attempts"] == 2 and entry.details["host"] == "127.0.0.1"
    assert PLANNER_TOKEN not in str(entry.model_dump())
    await drained_after(sandbox, 3600)
    assert len(receiver.received) == 2


# --- refused when asked --------------------------------------------------------------------------


async def test_a_private_or_loopback_callback_is_refused_before_anything_happens(
    make_sandbox: SandboxFactory, receiver: Receiver
) -> None:
    sandbox = await make_sandbox(agent_tokens=AGENT_TOKENS)  # no CALLBACK_ALLOW_PRIVATE
    refused = {
        receiver.url(): "callback_url_not_allowed",  # http, and loopback
        "https://127.0.0.1/hook": "callback_url_not_allowed",
        "https://localhost:8443/hook": "callback_url_not_allowed",
        "https://[::1]/hook": "callback_url_not_allowed",
        "https://[::ffff:127.0.0.1]/hook": "callback_url_not_allowed",
        "https://10.1.2.3/hook": "callback_url_not_allowed",
        "https://169.254.169.254/latest/meta-data/": "callback_url_not_allowed",
        "https://user:secret@agent.example/hook": "callback_url_invalid",
        "callbacks.example/hook": "callback_url_invalid",
    }
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as http:
        agent = Agent(http)
        mark = len(sandbox.opentrain.requests)
        effects = await sandbox.services.store.count_effects()
        for url, reason in refused.items():
            answer = await agent.post("fund", {"milestoneId": "ms_batch2", "callbackUrl": url})
            body = assert_envelope(answer, 400, "BAD_REQUEST")
            assert body["details"] == {"field": "callbackUrl", "reason": reason}, url
            assert "secret" not in body["error"]
        hire = await agent.post("hire", hire_body(callbackUrl="https://127.0.0.1/hook"))
        assert_envelope(hire, 400, "BAD_REQUEST")

    assert calls_to_opentrain(sandbox, mark) == []
    assert sandbox.opentrain.state.approvals == {}
    assert await sandbox.services.store.count_effects() == effects
    assert receiver.received == []
    audited = [e for e in await sandbox.services.store.read_audit() if e.action == "refused"]
    assert {e.details.get("reason") for e in audited} == set(refused.values())


# --- handed over ----------------------------------------------------------------------------------


async def test_a_handed_over_approval_keeps_its_first_callback(
    sandbox: Sandbox, agent: Agent, receiver: Receiver
) -> None:
    first = await fund(agent, receiver.url("/first"))
    again = await agent.post("approvals", {"approvalId": first, "callbackUrl": receiver.url("/2")})
    assert again.status_code == 202, again.text
    # Tracked without a callback: a hand-over adds one.
    plain = await agent.post("payout", {"milestoneId": "ms_batch1"})
    assert plain.status_code == 202, plain.text
    second = plain.json()["approval"]["id"]
    added = await agent.post("approvals", {"approvalId": second, "callbackUrl": receiver.url("/2")})
    assert added.status_code == 202, added.text

    sandbox.opentrain.state.confirm(first)
    sandbox.opentrain.state.confirm(second)
    await wait_for(lambda: len(receiver.received) == 2, message="two callbacks")
    assert [r.json()["approvalId"] for r in receiver.at("/first")] == [first]
    assert [r.json()["approvalId"] for r in receiver.at("/2")] == [second]

    # Handed over again once it has ended: it still has its first callback, told already.
    await agent.wait_outcome(first)
    late = await agent.post("approvals", {"approvalId": first, "callbackUrl": receiver.url("/3")})
    assert late.status_code == 202, late.text
    await sandbox.services.notifier.drain()
    assert receiver.at("/3") == [] and len(receiver.at("/first")) == 1


async def test_an_ended_approval_handed_over_with_a_callback_is_told_at_once(
    sandbox: Sandbox, agent: Agent, receiver: Receiver
) -> None:
    plain = await agent.post("fund", {"milestoneId": "ms_batch2"})
    approval_id = plain.json()["approval"]["id"]
    sandbox.opentrain.state.confirm(approval_id)
    await agent.wait_outcome(approval_id)

    late = await agent.post("approvals", {"approvalId": approval_id, "callbackUrl": receiver.url()})
    assert late.status_code == 202, late.text
    sandbox.services.scheduler.kick(OUTBOX_JOB)
    [call] = await wait_for(lambda: receiver.received, message="the callback")
    assert call.json()["approvalId"] == approval_id and call.json()["status"] == "confirmed"
    assert call.headers["X-Cosign-Delivery"] == f"{approval_id}:callback:confirmed"


# --- policy requests ------------------------------------------------------------------------------


async def test_an_admins_allow_and_refuse_are_called_back(
    make_sandbox: SandboxFactory, tmp_path: Path, receiver: Receiver
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    sandbox = await make_sandbox(
        agent_tokens=TOKENS, agent_policy_file=str(policy), callback_allow_private=True
    )
    async with httpx.AsyncClient(base_url=sandbox.bot_url, timeout=15.0) as http:
        labeler = Agent(http, LABELER)
        hired = await labeler.post("hire", hire_body(milestone={"name": "B1", "amount": "450"}))
        assert hired.status_code == 202, hired.text  # $504.95 of $800 a day
        asked = await over_limit(labeler, "ms_lidar1", receiver.url("/allowed"))
        card = await policy_card(sandbox, asked, "Waiting for an admin")
        assert "Allowed once" in await click(sandbox, card, ActionId.ALLOW_POLICY_REQUEST, "U0ANA")

        [decided] = await wait_for(lambda: receiver.received, message="the allow callback")
        body = decided.json()
        assert decided.signed_by(LABELER)
        assert decided.headers["X-Cosign-Delivery"] == f"policy:{asked}:callback:allowed"
        assert (body["event"], body["requestId"], body["status"]) == (
            "request.decided",
            asked,
            "allowed",
        )
        approval_id = body["approval"]["approval"]["id"]
        assert body["approvalId"] == approval_id
        assert_schema(
            {k: v for k, v in body.items() if k not in ("event", "approvalId")},
            "PolicyRequestResponse",
        )

        # The request it became calls back too, once a human confirmed it.
        sandbox.opentrain.state.confirm(approval_id)
        await wait_for(lambda: len(receiver.received) == 2, message="the outcome callback")
        outcome = receiver.received[1].json()
        assert (outcome["event"], outcome["approvalId"], outcome["status"]) == (
            "approval.ended",
            approval_id,
            "confirmed",
        )

        refused = await over_limit(labeler, "ms_lidar2", receiver.url("/refused"))
        card = await policy_card(sandbox, refused, "Waiting for an admin")
        assert "Refused" in await click(sandbox, card, ActionId.REFUSE_POLICY_REQUEST, "U0ANA")
        [told] = await wait_for(lambda: receiver.at("/refused"), message="the refuse callback")
        assert told.json()["status"] == "refused" and told.json()["approvalId"] is None
        assert told.json()["requestId"] == refused and told.signed_by(LABELER)


async def over_limit(agent: Agent, milestone: str, callback_url: str) -> str:
    """A fund over the labeler's daily limit: it waits for an admin; its request id."""
    response = await agent.post("fund", {"milestoneId": milestone, "callbackUrl": callback_url})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "awaiting_policy_approval"
    return str(response.json()["requestId"])


# --- restarts -------------------------------------------------------------------------------------


async def test_an_outcome_stored_before_a_restart_is_called_back_once(
    env: Deployment, store_settings: dict[str, Any], receiver: Receiver
) -> None:
    settings = {"agent_tokens": AGENT_TOKENS, "callback_allow_private": True, **store_settings}
    first = await env.start_bot(**settings)
    async with httpx.AsyncClient(base_url=first.url, timeout=15.0) as http:
        approval_id = await fund(Agent(http), receiver.url())
    # The first bot stops delivering (as if it went down), then the human confirms.
    outbox = first.services.scheduler.job(OUTBOX_JOB)
    assert outbox is not None
    await outbox.stop(grace=5)
    env.opentrain.state.confirm(approval_id)
    delivery = f"{approval_id}:callback:confirmed"
    await wait_for(lambda: first.services.store.get_effect(delivery), message="the outcome stored")
    await first.stop()
    assert receiver.received == []

    second = await env.start_bot(**settings)
    await wait_for(lambda: receiver.received, message="the callback")
    await wait_for(lambda: _done(second.services, delivery), message="recorded")
    await second.settle()
    [call] = receiver.received
    assert call.headers["X-Cosign-Delivery"] == delivery and call.signed_by(PLANNER_TOKEN)


# --- helpers ---------------------------------------------------------------------------------


async def _done(services: Services, effect_id: str) -> Effect | None:
    found = await services.store.get_effect(effect_id)
    return found if found is not None and found.done else None


async def _attempted(services: Services, effect_id: str) -> Effect | None:
    found = await services.store.get_effect(effect_id)
    return found if found is not None and found.attempts >= 1 else None
