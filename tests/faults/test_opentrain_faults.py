"""OpenTrain failing on every call the bot makes: nothing duplicated, the user told what happened.

Faults (tests/support/fault_kinds.py): 500, 503, 429 with `Retry-After` and with
`retryAfterSeconds`, a timeout, a connection reset, an answer that arrives after
the client gave up, a 502 or a dropped connection after OpenTrain did the work,
and a proxy's HTML 502 page. Two layers:

* the client, on each of the 16 calls the bot makes, under each fault — which
  calls retry, that a retry resends identical bytes, and that OpenTrain ends up
  with at most one live approval per target (never a second hire with other
  terms) and at most one created milestone or webhook;
* every door (slash commands, modals, the agent API, `python -m bot webhooks`,
  and the tracker's background reads) — the person or agent is told what
  happened, and a request that recovers leaves exactly one approval and one card.

Proven elsewhere, not repeated here:
* tests/integration/test_client_transport.py — the waits themselves: `Retry-After` and
  body-only `retryAfterSeconds` are honoured, a wait longer than the budget gives up at
  once, timeouts end after bounded attempts, a 500 is asked again only where that is
  safe, direct writes retry only a refused connection;
* tests/e2e/test_commands_errors.py — `/opentrain fund` told about a 429 (when to retry),
  an outage after 4 attempts, and no answer in time;
* tests/e2e/test_commands_input.py — a hire whose answer came late keeps its terms (one
  approval, identical bodies), and asking again after the bot gave up returns that request;
* tests/e2e/test_agent_api.py — a 429 becomes RATE_LIMITED with `Retry-After`, a 500 an
  INTERNAL_ERROR envelope naming OpenTrain;
* tests/e2e/test_tracking_degraded.py — a failing `/updates` feed falls back to polling
  each approval and returns to the feed when it recovers.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.opentrain import (
    HireTerms,
    InternalError,
    OpenTrainClient,
    OpenTrainError,
    OpenTrainUnavailable,
    RateLimited,
)
from bot.sandbox.faults import FaultSpec
from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.opentrain.vocabulary import PENDING, ProposalStatus
from bot.tracked_approvals import EXPIRY_GRACE
from bot.tracker import READ_RETRY
from bot.webhook_cli import run_webhooks
from tests.support import fault_kinds
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    REQUEST_ID,
    Bot,
    hire_values,
    milestone_values,
    rendered,
    start_bot,
)
from tests.support.fault_kinds import CLIENT_TIMEOUT, OpenTrainFault
from tests.support.opentrain_sim import OpenTrainSimHandle
from tests.support.processes import (
    CHANNEL,
    Deployment,
    InProcessBot,
    add_proposals,
    approval_reads,
    card_text,
    deployment,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
    track,
)
from tests.support.wait import wait_for

# The client gives up quickly; the Slack simulator enforces no rate limits, so no pacing either.
FAST = {"ot_timeout_seconds": CLIENT_TIMEOUT, "slack_rate_limit_scale": 100}
TERMS = HireTerms(name="Batch 1", description="10k boxes", amount=Decimal("450.50"))
HOOK_URL = "https://bot.example/opentrain/webhook"
# The error a call that does not (or may not) retry ends with, per fault.
ERROR_OF: dict[str, type[OpenTrainError]] = {
    fault_kinds.HTTP_500.name: InternalError,
    fault_kinds.HTTP_503.name: InternalError,
    fault_kinds.RATE_LIMITED_HEADER.name: RateLimited,
    fault_kinds.RATE_LIMITED_BODY.name: RateLimited,
    fault_kinds.TIMEOUT.name: OpenTrainUnavailable,
    fault_kinds.RESET.name: OpenTrainUnavailable,
    fault_kinds.LATE.name: OpenTrainUnavailable,
    fault_kinds.ACTED_THEN_502.name: InternalError,
    fault_kinds.ACTED_THEN_DROP.name: OpenTrainUnavailable,
    fault_kinds.HTML_502.name: InternalError,
}


# --- layer 1: the client, every call × every fault ----------------------------------------------


@dataclass(frozen=True)
class Targets:
    """What exists before the faulted round: an approval to read, a webhook to delete."""

    approval_id: str
    webhook_id: str


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str  # as the simulator logs it; `{approval_id}`, `{webhook_id}` filled from Targets
    safe: bool  # a read or a co-sign request: repeating it cannot do anything twice
    run: Callable[[OpenTrainClient, Targets], Awaitable[object]]

    def where(self, targets: Targets) -> str:
        return self.path.format(approval_id=targets.approval_id, webhook_id=targets.webhook_id)


CALLS = (
    Call("auth/me", "GET", "/auth/me", True, lambda c, t: c.auth_me()),
    Call("capabilities", "GET", "/job-drafts/capabilities", True, lambda c, t: c.capabilities()),
    Call("credits", "GET", "/credits", True, lambda c, t: c.credits()),
    Call("proposal", "GET", "/proposals/prop_ada", True, lambda c, t: c.get_proposal("prop_ada")),
    Call("contracts", "GET", "/contracts", True, lambda c, t: c.list_contracts()),
    Call("contract", "GET", "/contracts/ctr_linus", True, lambda c, t: c.get_contract("ctr_linus")),
    Call(
        "approval",
        "GET",
        "/approvals/{approval_id}",
        True,
        lambda c, t: c.get_approval(t.approval_id),
    ),
    Call("updates", "GET", "/updates", True, lambda c, t: c.poll_updates()),
    Call("webhooks", "GET", "/webhooks", True, lambda c, t: c.list_webhooks()),
    Call(
        "hire",
        "POST",
        "/proposals/prop_ada/hire",
        True,
        lambda c, t: c.hire("prop_ada", TERMS),
    ),
    Call(
        "fund",
        "POST",
        "/milestones/ms_batch2/fund",
        True,
        lambda c, t: c.fund_milestone("ms_batch2"),
    ),
    Call(
        "payout",
        "POST",
        "/milestones/ms_batch1/approve",
        True,
        lambda c, t: c.approve_milestone("ms_batch1"),
    ),
    Call("end", "POST", "/contracts/ctr_linus/end", True, lambda c, t: c.end_contract("ctr_linus")),
    Call(
        "create milestone",
        "POST",
        "/contracts/ctr_linus/milestones",
        False,
        lambda c, t: c.create_milestone(
            "ctr_linus", name="Batch 3", description="5k boxes", amount_usd=Decimal(300)
        ),
    ),
    Call(
        "create webhook",
        "POST",
        "/webhooks",
        False,
        lambda c, t: c.create_webhook(HOOK_URL, ["approval.confirmed"]),
    ),
    Call(
        "delete webhook",
        "DELETE",
        "/webhooks/{webhook_id}",
        False,
        lambda c, t: c.delete_webhook(t.webhook_id),
    ),
)
# What each co-sign call's approval is about: OpenTrain may hold at most one live one each.
CO_SIGNED = (
    ("proposal_hire", "proposal_id", "prop_ada"),
    ("milestone_fund", "milestone_id", "ms_batch2"),
    ("milestone_approve", "milestone_id", "ms_batch1"),
    ("contract_end", "contract_id", "ctr_linus"),
)


async def prepare(client: OpenTrainClient, opentrain: OpenTrainSimHandle) -> Targets:
    proposal = opentrain.state.add_demo_proposal(
        "Test", "Reader", status=ProposalStatus.UNREVIEWED, bid_amount_usd=Decimal(100)
    )
    requested = await client.hire(proposal.id, TERMS)
    hook = await client.create_webhook("https://other.example/hook", ["approval.confirmed"])
    return Targets(approval_id=requested.approval.id, webhook_id=hook.webhook.id)


def live_approvals(opentrain: OpenTrainSimHandle, kind: str, field: str, target: str) -> list[Any]:
    return [
        a
        for a in opentrain.state.approvals.values()
        if a.status == PENDING and a.type.value == kind and getattr(a, field) == target
    ]


@pytest.mark.parametrize("fault", fault_kinds.ALL, ids=lambda fault: fault.name)
async def test_every_call_the_bot_makes_under_each_fault(
    opentrain_sim: OpenTrainSimHandle, fault: OpenTrainFault
) -> None:
    sim = opentrain_sim.sim
    async with OpenTrainClient(
        opentrain_sim.origin, FULL_TOKEN, timeout=CLIENT_TIMEOUT, backoff_base=0.01
    ) as client:
        targets = await prepare(client, opentrain_sim)
        milestones = len(opentrain_sim.state.milestones)
        mark = len(sim.requests)
        for call in CALLS:
            await opentrain_sim.fault(**fault.at(call.where(targets), method=call.method))
        results = await asyncio.gather(
            *(call.run(client, targets) for call in CALLS), return_exceptions=True
        )

    # Timed-out and late requests are still being handled: OpenTrain finishes them.
    await wait_for(
        lambda: all(e["status"] is not None or e["dropped"] for e in sim.requests.since(mark)),
        message="every request handled",
    )
    log = sim.requests.since(mark)
    for call, result in zip(CALLS, results, strict=True):
        attempts = [
            e for e in log if (e["method"], e["path"]) == (call.method, call.where(targets))
        ]
        if call.safe and fault.retried and (call.method != "GET" or fault.reads_retried):
            assert not isinstance(result, BaseException), (call.name, result)
            assert len(attempts) == 2, (call.name, attempts)
        else:
            assert isinstance(result, ERROR_OF[fault.name]), (call.name, result)
            assert len(attempts) == 1, (call.name, attempts)
        assert len({e["body"] for e in attempts}) == 1, (call.name, attempts)  # identical bytes
        if fault.spec.get("status") == 429 and call.safe:
            first, second = (datetime.fromisoformat(e["time"]) for e in attempts)
            assert (second - first).total_seconds() >= fault_kinds.RETRY_AFTER_SECONDS - 0.05

    # Nothing duplicated: one live approval per target (none when the fault answered instead
    # of OpenTrain), nothing superseded, and a direct write happened at most once.
    for kind, field, target in CO_SIGNED:
        live = live_approvals(opentrain_sim, kind, field, target)
        assert len(live) == (1 if fault.retried else 0), (kind, live)
    assert [a.id for a in opentrain_sim.state.approvals.values() if a.superseded_by] == []
    created = 1 if fault.server_acted else 0
    assert len(opentrain_sim.state.milestones) == milestones + created
    hooks = [w for w in opentrain_sim.state.webhooks.values() if w.url == HOOK_URL]
    assert len(hooks) == created


async def test_under_opentrains_own_rate_limit_no_request_leaves_before_retry_after(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    """A per-token limit (`rateLimitPerMinute`, here 3 per 2 s): every call still succeeds,
    and after each 429 the client's next request waits out its Retry-After."""
    await opentrain_sim.configure(rateLimitPerMinute=3, rateLimitWindowSeconds=2)
    sim = opentrain_sim.sim
    mark = len(sim.requests)
    async with OpenTrainClient(opentrain_sim.origin, FULL_TOKEN, backoff_base=0.01) as client:
        reads = [await client.list_contracts() for _ in range(7)]
    assert all(reads)
    log = sim.requests.since(mark)
    limited = [i for i, entry in enumerate(log) if entry["status"] == 429]
    assert limited and len(log) == 7 + len(limited)
    for i in limited:
        wait = int(log[i]["retryAfter"])
        asked_at, next_at = (datetime.fromisoformat(log[j]["time"]) for j in (i, i + 1))
        assert (next_at - asked_at).total_seconds() >= wait - 0.05, (log[i], log[i + 1])


# --- layer 2: the doors — the person or agent is told what happened --------------------------


@dataclass(frozen=True)
class SlackDoor:
    """One way a person reaches an OpenTrain call from Slack, and the call it makes."""

    name: str
    method: str
    path: str  # fault glob of the OpenTrain call
    ask: Callable[[Bot], Awaitable[None]]


def command(text: str) -> Callable[[Bot], Awaitable[None]]:
    async def ask(bot: Bot) -> None:
        assert (await bot.command(text)).ok

    return ask


async def hire_modal(bot: Bot) -> None:
    view = await bot.modal("hire prop_ada")
    assert (await bot.submit(view, hire_values())).ok


async def milestone_modal(bot: Bot) -> None:
    view = await bot.modal("milestone ctr_linus")
    assert (await bot.submit(view, milestone_values())).ok


HIRE = SlackDoor("hire modal", "POST", "/proposals/*/hire", hire_modal)
FUND = SlackDoor("fund", "POST", "/milestones/*/fund", command("fund ms_batch2"))
PAYOUT = SlackDoor("payout", "POST", "/milestones/*/approve", command("payout ms_batch1"))
END = SlackDoor("end", "POST", "/contracts/*/end", command("end ctr_linus"))
MILESTONE = SlackDoor("milestone modal", "POST", "/contracts/*/milestones", milestone_modal)
CONTRACTS = SlackDoor("contracts", "GET", "/contracts", command("contracts"))
CONTRACT = SlackDoor("contract", "GET", "/contracts/ctr_linus", command("contract ctr_linus"))
STATUS = SlackDoor("status", "GET", "/auth/me", command("status"))


async def answer_to(bot: Bot, door: SlackDoor) -> str:
    """Use `door`; everything its private answer shows (progress lines skipped)."""
    seen = len(bot.private())
    await door.ask(bot)
    return rendered(await bot.answer(after=seen, timeout=15))


async def clear_faults(bot: Bot) -> None:
    await bot.control("DELETE", "/_sim/faults")


# What a person reads when OpenTrain keeps failing. `/opentrain status` is a checklist: its
# first line says OpenTrain could not be asked, and why.
OUTAGE = "OpenTrain is unavailable right now"
# A direct write that failed on OpenTrain's side may still have happened: never "try again".
DIRECT_WRITE_LOST = "may have added the milestone anyway"
# Retry-After: 0 lets the client use its 4 attempts at once instead of backing off.
PERSISTENT: list[tuple[str, dict[str, Any], str, str]] = [
    ("http-500", {"status": 500, "retryAfter": 0}, OUTAGE, "could not be asked: INTERNAL_ERROR"),
    (
        "html-502",
        {"status": 502, "rawBody": fault_kinds.PROXY_PAGE, "retryAfter": 0},
        OUTAGE,
        "could not be asked: INTERNAL_ERROR",
    ),
    ("http-503", {"status": 503, "retryAfter": 0}, OUTAGE, "could not be asked: INTERNAL_ERROR"),
    (
        "429-retry-after-seconds",
        {"status": 429, "retryAfter": 120, "retryAfterBody": True},
        "rate limiting the bot. Try again in 2 min",
        "could not be asked: RATE_LIMITED",
    ),
]


@pytest.mark.parametrize(
    ("spec", "told", "status_told"),
    [case[1:] for case in PERSISTENT],
    ids=[case[0] for case in PERSISTENT],
)
async def test_every_slack_door_says_why_when_opentrain_keeps_failing(
    make_sandbox: SandboxFactory, spec: dict[str, Any], told: str, status_told: str
) -> None:
    bot = await start_bot(make_sandbox, **FAST)
    approval = await fund_elsewhere(bot)  # for `track`
    track = SlackDoor("track", "GET", f"/approvals/{approval}", command(f"track {approval}"))
    for door in (HIRE, PAYOUT, END, MILESTONE, track, CONTRACTS, CONTRACT, STATUS):
        milestones = len(bot.sandbox.opentrain.state.milestones)
        await bot.fault(path=door.path, method=door.method, **spec)
        shown = await answer_to(bot, door)
        await clear_faults(bot)
        expected = status_told if door is STATUS else told
        if door is MILESTONE and spec["status"] >= 500:
            expected = DIRECT_WRITE_LOST
        assert expected in shown, (door.name, shown)
        if door is not STATUS:
            assert REQUEST_ID.search(shown), (door.name, shown)  # quotable to support
        assert bot.cards() == [], door.name
        assert len(bot.sandbox.opentrain.state.milestones) == milestones, door.name
    # Only the approval made elsewhere exists: no door left a request behind.
    assert [a.id for a in bot.approvals()] == [approval]


async def fund_elsewhere(bot: Bot) -> str:
    """A pending approval requested outside the bot (the agent's own OpenTrain call)."""
    opentrain = bot.sandbox.opentrain
    async with OpenTrainClient(opentrain.origin, FULL_TOKEN) as client:
        return (await client.fund_milestone("ms_batch2")).approval.id


async def rides_out_with_one_request(bot: Bot, door: SlackDoor, fault: OpenTrainFault) -> None:
    """`door` meets `fault` once: its card is posted after exactly one identical retry."""
    mark = len(bot.sandbox.opentrain.requests)
    await bot.fault(**fault.at(door.path, method=door.method))
    shown = await answer_to(bot, door)
    assert "Approval card posted" in shown, (door.name, fault.name, shown)
    attempts = [
        e
        for e in bot.sandbox.opentrain.requests.since(mark)
        if e["method"] == door.method and fnmatch.fnmatchcase(e["path"], door.path)
    ]
    assert len(attempts) == 2, (door.name, attempts)
    assert attempts[0]["body"] == attempts[1]["body"], door.name


async def test_every_slack_door_rides_out_a_passing_fault_with_one_request(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox, **FAST)
    approval = await request_hire_elsewhere(bot)
    track = SlackDoor("track", "GET", f"/approvals/{approval}", command(f"track {approval}"))
    # Each co-sign door meets another kind of fault (the agent doors below meet the rest;
    # read-only doors retry the same way: layer 1).
    passing = [
        (HIRE, fault_kinds.RATE_LIMITED_BODY),
        (FUND, fault_kinds.RESET),
        (PAYOUT, fault_kinds.TIMEOUT),
        (END, fault_kinds.LATE),
        (track, fault_kinds.RATE_LIMITED_HEADER),
    ]
    for door, fault in passing:
        await rides_out_with_one_request(bot, door, fault)
    # Every co-sign door left exactly one live approval and one card, none superseded.
    requested = [a for a in bot.approvals() if a.status == PENDING]
    assert len(requested) == 5
    assert [a.id for a in bot.approvals() if a.superseded_by] == []
    assert sorted(card_approval_ids(bot)) == sorted(a.id for a in requested)


async def test_every_slack_door_recovers_when_opentrain_acted_but_the_answer_was_lost(
    make_sandbox: SandboxFactory,
) -> None:
    """The approval exists in OpenTrain, the answer did not arrive: the bot asks again with
    the same request, OpenTrain hands back the same approval — one approval, one card."""
    bot = await start_bot(make_sandbox, **FAST)
    acted = [
        (HIRE, fault_kinds.ACTED_THEN_502),
        (FUND, fault_kinds.ACTED_THEN_DROP),
        (PAYOUT, fault_kinds.ACTED_THEN_502),
        (END, fault_kinds.ACTED_THEN_DROP),
    ]
    for door, fault in acted:
        await rides_out_with_one_request(bot, door, fault)
    requested = bot.approvals()
    assert len(requested) == 4 and all(a.status == PENDING for a in requested)
    assert [a.id for a in requested if a.superseded_by] == []
    assert sorted(card_approval_ids(bot)) == sorted(a.id for a in requested)


async def test_a_milestone_whose_answer_was_lost_is_not_promised_safe_to_repeat(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox, **FAST)
    before = len(bot.sandbox.opentrain.state.milestones)
    # OpenTrain adds the milestone, but its answer comes after the bot gave up. Adding a
    # milestone is a direct write: repeating it would add a second one, so it is not retried.
    await bot.fault(**fault_kinds.LATE.at(MILESTONE.path, method="POST"))
    shown = await answer_to(bot, MILESTONE)
    assert "may have added the milestone" in shown and "/opentrain contract ctr_linus" in shown
    assert "never creates a second one" not in shown
    await wait_for(
        lambda: len(bot.sandbox.opentrain.state.milestones) == before + 1,
        message="OpenTrain finished the late request",
    )
    writes = [r for r in await bot.writes() if r["path"] == "/contracts/ctr_linus/milestones"]
    assert len(writes) == 1


async def request_hire_elsewhere(bot: Bot) -> str:
    """A pending hire approval requested outside the bot, on a fresh proposal."""
    proposal = bot.sandbox.opentrain.state.add_demo_proposal(
        "Test", "Elsewhere", status=ProposalStatus.UNREVIEWED, bid_amount_usd=Decimal(100)
    )
    opentrain = bot.sandbox.opentrain
    async with OpenTrainClient(opentrain.origin, FULL_TOKEN) as client:
        return (await client.hire(proposal.id, TERMS)).approval.id


async def request_fund_elsewhere(bot: Bot, milestone_id: str) -> str:
    """A pending funding approval requested outside the bot."""
    async with OpenTrainClient(bot.sandbox.opentrain.origin, FULL_TOKEN) as client:
        return (await client.fund_milestone(milestone_id)).approval.id


def card_approval_ids(bot: Bot) -> list[str]:
    return [str((c.metadata or {})["event_payload"]["approvalId"]) for c in bot.cards()]


# --- the agent API ------------------------------------------------------------------------------

AGENT_TOKEN = "agent-token-planner-0123456789"
HIRE_BODY = {
    "proposalId": "prop_ada",
    "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450.5},
}


@dataclass(frozen=True)
class AgentDoor:
    action: str
    body: dict[str, Any]
    method: str
    path: str  # fault glob of the OpenTrain call


def agent_doors(handed_over: str) -> list[AgentDoor]:
    return [
        AgentDoor("hire", HIRE_BODY, "POST", "/proposals/*/hire"),
        AgentDoor("fund", {"milestoneId": "ms_batch2"}, "POST", "/milestones/*/fund"),
        AgentDoor("payout", {"milestoneId": "ms_batch1"}, "POST", "/milestones/*/approve"),
        AgentDoor("end", {"contractId": "ctr_linus"}, "POST", "/contracts/*/end"),
        AgentDoor("approvals", {"approvalId": handed_over}, "GET", f"/approvals/{handed_over}"),
    ]


@pytest.fixture
async def agent_bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox, agent_tokens=f"planner:{AGENT_TOKEN}", **FAST)


async def ask_as_agent(bot: Bot, door: AgentDoor) -> httpx.Response:
    async with httpx.AsyncClient(base_url=bot.sandbox.bot_url, timeout=30) as http:
        return await http.post(
            f"/agent/v1/{door.action}",
            json=door.body,
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        )


async def test_every_agent_door_answers_an_outage_with_opentrains_status(agent_bot: Bot) -> None:
    handed_over = await request_hire_elsewhere(agent_bot)
    doors = agent_doors(handed_over)
    for door in doors:
        await agent_bot.fault(path=door.path, method=door.method, status=503, retryAfter=0)
        answer = await ask_as_agent(agent_bot, door)
        await clear_faults(agent_bot)
        assert answer.status_code == 503, (door.action, answer.text)
        body = answer.json()
        assert body["code"] == "INTERNAL_ERROR" and body["details"]["source"] == "opentrain"
        assert body["details"]["opentrainRequestId"]
    # OpenTrain asks for two minutes: the first door meets it, and no door asks before then.
    mark = len(agent_bot.sandbox.opentrain.requests)
    for door in doors:
        await agent_bot.fault(
            path=door.path, method=door.method, status=429, retryAfter=120, retryAfterBody=True
        )
    for door in doors:
        answer = await ask_as_agent(agent_bot, door)
        assert answer.status_code == 429, (door.action, answer.text)
        body = answer.json()
        assert body["code"] == "RATE_LIMITED" and body["details"]["source"] == "opentrain"
        assert body["details"]["opentrainRequestId"]  # the 429 that asked for the wait
        assert 100 <= int(answer.headers["Retry-After"]) <= 120
    log = agent_bot.sandbox.opentrain.requests.since(mark)
    limited = [i for i, entry in enumerate(log) if entry["status"] == 429]
    assert len(limited) == 1
    # Nothing is asked after it: at most a background read already on its way (the feed).
    after = log[limited[0] + 1 :]
    assert len(after) <= 2 and all(entry["method"] == "GET" for entry in after), after
    assert [a.id for a in agent_bot.approvals()] == [handed_over]
    assert agent_bot.cards() == []


async def test_an_agent_told_opentrain_did_not_answer_gets_the_same_request_when_it_repeats(
    agent_bot: Bot,
) -> None:
    [door, *_] = agent_doors("unused")
    # Every answer arrives after the bot gave up, though OpenTrain did the work.
    await agent_bot.fault(**fault_kinds.LATE.at(door.path, method=door.method, count=None))
    gave_up = await ask_as_agent(agent_bot, door)
    assert gave_up.status_code == 503, gave_up.text
    body = gave_up.json()
    assert body["code"] == "UNAVAILABLE" and "timed out" in body["error"]
    assert agent_bot.cards() == []

    await clear_faults(agent_bot)
    again = await ask_as_agent(agent_bot, door)
    assert again.status_code == 202, again.text
    [approval] = agent_bot.approvals(proposal_id="prop_ada")
    assert again.json()["approval"]["id"] == approval.id and approval.status == PENDING
    assert card_approval_ids(agent_bot) == [approval.id]
    bodies = {
        r["body"] for r in await agent_bot.writes() if r["path"] == "/proposals/prop_ada/hire"
    }
    assert len(bodies) == 1


async def test_every_agent_door_rides_out_a_passing_fault_with_one_request(
    agent_bot: Bot,
) -> None:
    # A funding, not a hire: the spend policy cannot know the amount of a hire it did not ask
    # for (tests/e2e/test_agent_policy.py), and this test is about faults.
    handed_over = await request_fund_elsewhere(agent_bot, "ms_lidar1")
    kinds = [
        fault_kinds.LATE,
        fault_kinds.TIMEOUT,
        fault_kinds.RATE_LIMITED_HEADER,
        fault_kinds.RESET,
        fault_kinds.HTTP_503,
    ]
    doors = agent_doors(handed_over)
    mark = len(agent_bot.sandbox.opentrain.requests)
    for door, fault in zip(doors, kinds, strict=True):
        await agent_bot.fault(**fault.at(door.path, method=door.method))
    # Agents do not wait for each other: all five at once.
    answers = await asyncio.gather(*(ask_as_agent(agent_bot, door) for door in doors))
    log = agent_bot.sandbox.opentrain.requests.since(mark)
    for door, answer in zip(doors, answers, strict=True):
        assert answer.status_code == 202, (door.action, answer.text)
        card = agent_bot.card(answer.json()["approval"]["id"])
        assert card is not None and answer.json()["card"]["ts"] == card.ts
        attempts = [
            e
            for e in log
            if e["method"] == door.method and fnmatch.fnmatchcase(e["path"], door.path)
        ]
        assert len(attempts) == 2 and attempts[0]["body"] == attempts[1]["body"], door.action
    live = [a for a in agent_bot.approvals() if a.status == PENDING]
    assert len(live) == 5 and [a for a in agent_bot.approvals() if a.superseded_by] == []
    assert sorted(card_approval_ids(agent_bot)) == sorted(a.id for a in live)


# --- the tracker's own calls: the outcome still lands, once --------------------------------------


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path) as running:
        yield running


async def tracked_hires(env: Deployment, count: int) -> list[str]:
    approvals = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, count)]
    for approval_id in approvals:
        await track(env.slack, approval_id)
    return approvals


async def assert_landed_once(env: Deployment, bot: InProcessBot, approval_id: str) -> None:
    await wait_for(lambda: resolved(env.slack, approval_id), message=f"{approval_id} resolved")
    await bot.settle()
    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert set(effect_posts(env.slack, CHANNEL).values()) == {1}


async def test_the_feed_rides_out_every_fault_and_each_outcome_lands_once(env: Deployment) -> None:
    bot = await env.start_bot(ot_timeout_seconds=CLIENT_TIMEOUT)
    # One of each way a poll fails and is retried (every kind meets /updates in layer 1).
    kinds = [fault_kinds.RATE_LIMITED_HEADER, fault_kinds.RESET, fault_kinds.LATE]
    approvals = await tracked_hires(env, len(kinds))
    for approval_id, fault in zip(approvals, kinds, strict=True):
        env.opentrain.faults.add(FaultSpec.model_validate(fault.at("/updates")))
        env.opentrain.state.confirm(approval_id)
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=fault.name)
        assert env.opentrain.faults.describe() == [], fault.name  # a poll met the fault
    await bot.settle()
    for approval_id in approvals:
        assert len(outcome_replies(env.slack, approval_id)) == 1
        assert "Confirmed" in card_text(env.slack, approval_id)
    assert set(effect_posts(env.slack, CHANNEL).values()) == {1}
    assert await bot.services.tracker.feed_healthy()


async def test_a_failed_read_at_expiry_is_retried_and_the_expiry_lands_once(
    env: Deployment,
) -> None:
    bot = await env.start_bot()
    [approval_id] = await tracked_hires(env, 1)
    # The read just after expiry (the one that flips it to expired) fails for a while.
    outage = {"status": 503, "retryAfter": 0}
    env.opentrain.faults.add(
        FaultSpec.model_validate({"path": f"/approvals/{approval_id}", **outage})
    )
    mark = len(env.opentrain.requests)
    env.opentrain.state.advance((APPROVAL_TTL + EXPIRY_GRACE).total_seconds() + 1)
    await wait_for(
        lambda: len(approval_reads(env.opentrain, mark)) >= 4, message="the failed read at expiry"
    )
    assert not resolved(env.slack, approval_id)

    env.opentrain.faults.clear()
    env.opentrain.state.advance(2 * READ_RETRY.total_seconds())
    await assert_landed_once(env, bot, approval_id)
    assert "Expired" in card_text(env.slack, approval_id)


async def test_cards_are_posted_when_the_details_cannot_be_read(agent_bot: Bot) -> None:
    # The card's extras (freelancer, contract title) come from best-effort reads.
    await agent_bot.fault(path="/proposals/*", method="GET", status=500)
    await agent_bot.fault(path="/contracts/*", method="GET", status=500)
    for door in agent_doors("unused")[:2]:
        answer = await ask_as_agent(agent_bot, door)
        assert answer.status_code == 202, answer.text
        assert answer.json()["card"]["ts"], answer.text
    writes = [r["path"] for r in await agent_bot.writes()]
    assert writes == ["/proposals/prop_ada/hire", "/milestones/ms_batch2/fund"]
    assert len(agent_bot.cards()) == 2


# --- `python -m bot webhooks` ------------------------------------------------------------------


async def webhooks_cli(opentrain: OpenTrainSimHandle, *argv: str) -> tuple[int, str]:
    settings = Settings(
        ot_api_token=SecretStr(FULL_TOKEN),
        ot_api_base_url=opentrain.origin,
        ot_timeout_seconds=CLIENT_TIMEOUT,
    )
    command, *rest = argv
    args = argparse.Namespace(webhook_command=command)
    if command == "register":
        args.url = rest[0]
    elif command == "delete":
        args.webhook_id = rest[0]
    lines: list[str] = []
    status = await run_webhooks(settings, args, out=lines.append)
    return status, "\n".join(lines)


async def test_webhook_commands_say_what_may_have_happened(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    # Registration answered late: OpenTrain has the subscription, the secret is lost.
    await opentrain_sim.fault(**fault_kinds.LATE.at("/webhooks", method="POST"))
    status, output = await webhooks_cli(opentrain_sim, "register", HOOK_URL)
    assert status == 1 and "did not answer" in output and "webhooks list" in output
    assert "OT_WEBHOOK_SECRET" not in output
    [hook] = await wait_for(
        lambda: list(opentrain_sim.state.webhooks.values()), message="the late registration"
    )
    assert hook.url == HOOK_URL
    posts = [e for e in opentrain_sim.sim.requests.since(0) if e["method"] == "POST"]
    assert len(posts) == 1  # a registration is never sent twice

    # Listing is a read: a passing rate limit is waited out.
    await opentrain_sim.fault(**fault_kinds.RATE_LIMITED_BODY.at("/webhooks", method="GET"))
    status, output = await webhooks_cli(opentrain_sim, "list")
    assert status == 0 and hook.id in output

    # Deleting is not repeated either; the reset happened before OpenTrain acted.
    await opentrain_sim.fault(**fault_kinds.RESET.at(f"/webhooks/{hook.id}"))
    status, output = await webhooks_cli(opentrain_sim, "delete", hook.id)
    assert status == 1 and "may have done it anyway" in output
    assert hook.id in opentrain_sim.state.webhooks

    await opentrain_sim.fault(path="/webhooks", method="POST", status=503)
    status, output = await webhooks_cli(opentrain_sim, "register", HOOK_URL)
    assert status == 1 and "OpenTrain refused" in output and "INTERNAL_ERROR" in output
    assert len(opentrain_sim.state.webhooks) == 1
