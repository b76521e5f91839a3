"""The audit trail: each step of an approval's story, `/opentrain audit <id>`, the JSONL export."""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.audit_cli import run_audit
from bot.cards import ActionId
from bot.sandbox.runner import Sandbox
from tests.e2e.test_reminders import (
    CHANNEL,
    MINUTE,
    START,
    UNPACED,
    hire,
    move_to,
    run_reminders,
    set_approvers,
    wait_resolved,
)
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    # Only Ana and Kai may start money-moving requests: Ben's attempt is refused (and audited).
    return await make_sandbox(allowed_requesters="U0ANA,U0KAI", **UNPACED)


async def a_whole_story(sandbox: Sandbox) -> str:
    """Approvers set, a refused request, Kai's hire, its card, reminders, a snooze, the outcome."""
    await move_to(sandbox, START)
    await set_approvers(sandbox, CHANNEL, "U0ANA", "U0GONE")
    refused = await sandbox.slack.send_command(
        command="/opentrain", text="fund ms_batch2", user_id="U0BEN", channel_id=CHANNEL
    )
    assert refused.status == 200
    await wait_for(lambda: sandbox.slack.ephemerals("U0BEN"), message="the refusal")
    approval = await hire(sandbox, requester="U0KAI")  # four eyes: Ana reminds, Kai asked

    await move_to(sandbox, approval.expires_at - timedelta(hours=24) + MINUTE)
    await run_reminders(sandbox.services)
    dm = (await wait_for(lambda: sandbox.slack.dms("U0ANA"), message="reminder"))[0]
    await sandbox.slack.click(
        user_id="U0ANA",
        action_id=ActionId.SNOOZE_REMINDER.value,
        channel_id=dm.channel,
        message_ts=dm.ts,
    )
    await wait_for(
        lambda: [e for e in sandbox.slack.ephemerals("U0ANA") if e.channel == dm.channel],
        message="snoozed",
    )
    sandbox.opentrain.state.confirm(approval.approval_id)
    await wait_resolved(sandbox, approval.approval_id)
    return approval.approval_id


async def test_the_audit_trail_tells_the_whole_story(sandbox: Sandbox) -> None:
    approval_id = await a_whole_story(sandbox)
    store = sandbox.services.store

    story = await store.read_audit(approval_id=approval_id)
    assert [(e.action, e.actor) for e in story] == [
        ("request", "slack:U0KAI"),
        ("adopted", "slack:U0KAI"),
        ("card_posted", "bot"),
        ("reminder", "bot"),
        ("reminder_skipped", "bot"),
        ("snooze", "slack:U0ANA"),
        ("outcome", "opentrain"),
    ]
    assert story[-1].details == {"status": "confirmed"}
    assert story[0].details["kind"] == "hire" and story[0].details["proposal_id"] == "prop_ada"
    assert story[3].details["user"] == "U0ANA" and story[3].details["slot"] == "before-24h"
    assert story[4].details == {"user": "U0GONE", "reason": "deactivated"}
    assert all(a.at <= b.at for a, b in itertools.pairwise(story))

    everything = [(e.action, e.actor) for e in await store.read_audit()]
    assert ("approvers_changed", "slack:U0ANA") in everything
    assert ("refused", "slack:U0BEN") in everything
    request = next(e for e in await store.read_audit() if e.action == "request")
    assert request.actor == "slack:U0KAI" and request.details["kind"] == "hire"
    assert request.details["terms"]["amount"] in ("450", "450.00", 450)


async def test_slash_audit_shows_one_approvals_history(sandbox: Sandbox) -> None:
    approval_id = await a_whole_story(sandbox)
    before = len(sandbox.slack.ephemerals("U0KAI"))
    await sandbox.slack.send_command(
        command="/opentrain", text=f"audit {approval_id}", user_id="U0KAI", channel_id=CHANNEL
    )
    answer = (
        await wait_for(lambda: sandbox.slack.ephemerals("U0KAI")[before:], message="audit view")
    )[0]
    shown = json.dumps(answer.blocks)
    order = [shown.index(f"*{action}*") for action in ("adopted", "card_posted", "reminder")]
    assert order == sorted(order)
    for action in ("reminder_skipped", "snooze", "outcome"):
        assert f"*{action}*" in shown
    assert "<@U0ANA>" in shown  # actors are people, shown as mentions

    await sandbox.slack.send_command(
        command="/opentrain", text="audit apr_unknown", user_id="U0KAI", channel_id=CHANNEL
    )
    unknown = await wait_for(
        lambda: sandbox.slack.ephemerals("U0KAI")[before + 1 :], message="empty audit view"
    )
    assert "Nothing is recorded" in unknown[0].text


async def export(sandbox: Sandbox, *args: str) -> tuple[int, str, str]:
    """`python -m bot audit …` in a separate process, reading the sandbox's database."""
    settings = sandbox.services.settings
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "OT_", "OPENTRAIN_", "REDIS_", "DATABASE_"))
    }
    env |= {
        "DATABASE_URL": settings.database_url,
        "SANDBOX_CLOCK_URL": str(settings.sandbox_clock_url),
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "audit",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_exports_jsonl(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    approval_id = await a_whole_story(sandbox)

    code, out, _ = await export(sandbox, "--since", "7d", "--format", "jsonl")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    actions = [line["action"] for line in lines]
    for action in ("approvers_changed", "refused", "request", "adopted", "card_posted"):
        assert action in actions
    for action in ("reminder", "reminder_skipped", "snooze", "outcome"):
        assert action in actions
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
    assert set(lines[0]) == {"at", "action", "actor", "approval_id", "details"}

    # The same command in this process, for the filters and the text format.
    settings = sandbox.services.settings
    out_file = io.StringIO()
    args = argparse.Namespace(since="7d", format="jsonl", approval=approval_id)
    assert await run_audit(settings, args, out=out_file) == 0
    assert {json.loads(line)["approval_id"] for line in out_file.getvalue().splitlines()} == {
        approval_id
    }

    # The story's last day only: the reminder, the snooze and the outcome, not the request.
    out_file = io.StringIO()
    args = argparse.Namespace(since="2h", format="text", approval=None)
    assert await run_audit(settings, args, out=out_file) == 0
    text = out_file.getvalue()
    assert "outcome" in text and "snooze" in text and "refused" not in text

    args = argparse.Namespace(since="forever", format="jsonl", approval=None)
    assert await run_audit(settings, args, out=io.StringIO()) == 2
    assert "--since" in capsys.readouterr().err
