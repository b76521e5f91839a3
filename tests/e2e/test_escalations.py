"""Approval chains end to end: tiers set in Slack, the card and Home naming the tier, and
escalation on the simulators' clock — once per level, across restarts and replicas,
after the recipient's quiet hours, never for an approval that already ended.

Time moves with the simulators' clock (`move_to`), never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.cards import REMINDER_EVENT_TYPE
from bot.sandbox.runner import Sandbox
from bot.services import Services
from bot.store.kinds import APPROVERS
from bot.tracked_approvals import TrackedApproval
from tests.e2e.test_home import open_home
from tests.e2e.test_reminders import CHANNEL, START, UNPACED, current, hire, move_to
from tests.e2e.test_reminders_replicas import Replicas
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

DAY = timedelta(hours=24)
ANA, BEN, KAI, LEI = "U0ANA", "U0BEN", "U0KAI", "U0LEI"  # Ana is the workspace's admin


@pytest.fixture
async def replicas() -> AsyncIterator[Replicas]:
    started = Replicas()
    yield started
    await started.stop_all()


async def say(sandbox: Sandbox, text: str, user: str = ANA) -> str:
    """`/opentrain <text>` typed in #hiring; returns the private answer's blocks as JSON."""
    before = len(sandbox.slack.ephemerals(user))
    result = await sandbox.slack.send_command(
        command="/opentrain", text=text, user_id=user, channel_id=CHANNEL
    )
    assert result.status == 200
    answers = await wait_for(
        lambda: sandbox.slack.ephemerals(user)[before:], message=f"answer to {text!r}"
    )
    return json.dumps(answers[0].blocks, ensure_ascii=False)


async def escalate(*bots: Services) -> int:
    """One escalation tick and one outbox drain on each bot (concurrently), as scheduled."""
    for services in bots:
        await services.clock.sync()
    escalated = await asyncio.gather(*(services.escalations.tick() for services in bots))
    for services in bots:
        await services.notifier.drain()
    return sum(escalated)


def escalation_dms(sandbox: Sandbox, user: str) -> list[int]:
    """The escalation levels `user` was told of by DM."""
    return [
        int(message.metadata["event_payload"]["escalation"])
        for message in sandbox.slack.dms(user)
        if (message.metadata or {}).get("event_type") == REMINDER_EVENT_TYPE
        and "escalation" in message.metadata["event_payload"]
    ]


def card_of(sandbox: Sandbox, approval: TrackedApproval) -> tuple[str, int]:
    """The card's blocks as JSON, and how many times it was edited."""
    card = sandbox.slack.state.find_message(CHANNEL, str(approval.card_ts))
    assert card is not None
    return json.dumps(card.blocks, ensure_ascii=False), len(card.edits)


def thread_lines(sandbox: Sandbox, approval: TrackedApproval) -> list[str]:
    replies = sandbox.slack.state.replies(CHANNEL, str(approval.card_ts))
    shown = [json.dumps(message.blocks, ensure_ascii=False) for message in replies]
    return [blocks for blocks in shown if "escalated to" in blocks]


async def test_above_1000_finance_approves_and_a_day_later_the_cfo_hears(
    make_sandbox: SandboxFactory,
) -> None:
    sandbox = await make_sandbox(**UNPACED)  # ESCALATE_AFTER is not set: the tier's own says
    await say(sandbox, "approvers set global <@U0KAI|kai>")
    await say(sandbox, "approvers set global over 1,000 <!subteam^S0FINANCE|@finance-team>")
    await say(sandbox, "approvers set global over 5000 <@U0LEI|lei>")  # the CFO
    shown = await say(sandbox, "approvers escalate global over 1000 after 24h")
    assert "$1,000.00 and more: <!subteam^S0FINANCE> — escalates after 24 h" in shown

    await move_to(sandbox, START)
    # $1 200 + $120 fee + $9.95: the human confirms $1,329.95, so finance approves.
    approval = await hire(sandbox, "prop_ada", "1200", requester=KAI)
    blocks, edits = card_of(sandbox, approval)
    assert "*Approvers for $1,000.00 and more:* <!subteam^S0FINANCE>" in blocks
    assert "Escalated" not in blocks

    # A minute before the day is up: nothing.
    await move_to(sandbox, START + DAY - timedelta(minutes=1))
    assert await escalate(sandbox.services) == 0
    assert thread_lines(sandbox, approval) == [] and card_of(sandbox, approval)[1] == edits

    # A day after the card: the card says so and the thread gets one line at once …
    await move_to(sandbox, START + DAY + timedelta(seconds=1))
    assert await escalate(sandbox.services) == 1
    await wait_for(lambda: len(thread_lines(sandbox, approval)) == 1, message="the thread line")
    assert "escalated to <@U0LEI>" in thread_lines(sandbox, approval)[0]
    await wait_for(
        lambda: "Escalated to <@U0LEI> after 24 h" in card_of(sandbox, approval)[0],
        message="the card names the escalation",
    )
    # … but the CFO is in Honolulu, where it is 23:00: the DM waits for 08:00 there.
    assert escalation_dms(sandbox, LEI) == []
    morning = datetime.fromisoformat("2031-11-11T18:00:00+00:00")
    await move_to(sandbox, morning - timedelta(minutes=1))
    assert await escalate(sandbox.services) == 0
    assert escalation_dms(sandbox, LEI) == []
    await move_to(sandbox, morning + timedelta(seconds=1))
    await escalate(sandbox.services)
    await wait_for(lambda: escalation_dms(sandbox, LEI) == [1], message="the CFO's DM")
    dm = json.dumps(sandbox.slack.dms(LEI)[-1].blocks, ensure_ascii=False)
    assert "Escalated to you" in dm and "nobody has acted on this for 24 h" in dm
    assert "$1,329.95" in dm

    # The CFO's Home lists it, with its tier and the escalation.
    home = await open_home(sandbox, LEI)
    rows = home["Waiting on you"].rows
    assert len(rows) == 1 and "$1,000.00 and more" in rows[0] and "Escalated to <@U0LEI>" in rows[0]

    # The CFO's tier has no delay of its own and ESCALATE_AFTER is unset: nothing more, ever.
    await move_to(sandbox, approval.expires_at - timedelta(minutes=1))
    assert await escalate(sandbox.services) == 0
    await sandbox.services.notifier.drain()
    assert escalation_dms(sandbox, LEI) == [1] and len(thread_lines(sandbox, approval)) == 1
    assert [dm_ for user in (ANA, BEN, KAI) for dm_ in escalation_dms(sandbox, user)] == []
    audit = await sandbox.services.store.read_audit(approval_id=approval.approval_id)
    escalated = [entry.details for entry in audit if entry.action == "escalated"]
    assert len(escalated) == 1
    assert escalated[0] | {"waitedSeconds": 86400} == {
        "level": 1,
        "to": [LEI],
        "over": "5000.00",
        "waitedSeconds": 86400,
        "dms": [LEI],
    }


async def test_each_level_once_across_replicas_and_restarts(
    make_sandbox: SandboxFactory, replicas: Replicas, store_settings: dict[str, Any]
) -> None:
    sandbox = await make_sandbox(escalate_after=DAY, **store_settings, **UNPACED)
    first = sandbox.services
    second = await replicas.start(first.settings)
    await say(sandbox, "approvers set <#C0HIRING|hiring> <@U0KAI|kai>")
    await move_to(sandbox, START)
    approval = await hire(sandbox, "prop_ada", "450", requester=BEN)

    # A day later both bots tick at once: one escalation, to the admins (no tier above Kai's).
    await move_to(sandbox, START + DAY + timedelta(seconds=1))
    assert await escalate(first, second) == 1
    await wait_for(lambda: escalation_dms(sandbox, ANA) == [1], message="the admin's DM")
    await wait_for(
        lambda: "Escalated to the admins after 24 h" in card_of(sandbox, approval)[0],
        message="the card",
    )
    edits = card_of(sandbox, approval)[1]

    # Restarted, the second bot finds it done; past the admins there is no level left.
    await replicas.stop(second)
    restarted = await replicas.start(first.settings)
    assert await escalate(first, restarted) == 0
    await move_to(sandbox, START + 2 * DAY + timedelta(seconds=1))
    assert await escalate(first, restarted) == 0
    assert escalation_dms(sandbox, ANA) == [1] and len(thread_lines(sandbox, approval)) == 1
    assert card_of(sandbox, approval)[1] == edits
    stored = await current(sandbox, approval.approval_id)
    assert [(e.level, e.to) for e in stored.escalations] == [(1, ())]
    audit = await first.store.read_audit(approval_id=approval.approval_id)
    assert sum(1 for entry in audit if entry.action == "escalated") == 1


async def test_an_approval_that_ended_first_is_never_escalated(
    make_sandbox: SandboxFactory,
) -> None:
    sandbox = await make_sandbox(escalate_after=DAY, **UNPACED)
    await say(sandbox, "approvers set <#C0HIRING|hiring> <@U0KAI|kai>")
    await move_to(sandbox, START)
    approval = await hire(sandbox, "prop_ada", "450", requester=BEN)
    sandbox.opentrain.state.confirm(approval.approval_id)

    async def confirmed() -> bool:
        return (await current(sandbox, approval.approval_id)).status.is_terminal

    await wait_for(confirmed, message="the confirmation tracked")
    await move_to(sandbox, START + 3 * DAY)
    assert await escalate(sandbox.services) == 0
    assert escalation_dms(sandbox, ANA) == [] and thread_lines(sandbox, approval) == []


async def test_only_admins_change_tiers_and_escalation(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(**UNPACED)
    store = sandbox.services.store
    for text in (
        "approvers set global over 1000 <@U0KAI|kai>",
        "approvers escalate global after 1h",
        "approvers admins global over 1000 <@U0KAI|kai>",
    ):
        refused = await say(sandbox, text, user=KAI)
        assert "Only the workspace" in refused and "change approvers" in refused
    assert await store.list_records(APPROVERS) == {}
    refusals = [e for e in await store.read_audit() if e.action == "refused"]
    assert [e.actor for e in refusals] == [f"slack:{KAI}"] * 3

    # An admin must name a tier's approvers before its escalation or its admins.
    answer = await say(sandbox, "approvers escalate global over 1000 after 12h")
    assert "No approvers are set from $1,000.00 globally" in answer
    assert await store.list_records(APPROVERS) == {}
