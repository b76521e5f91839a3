"""Requests that claim to come from Slack: forged, tampered, replayed, from another workspace,
oversized — on every kind of delivery (slash command, button click, modal submission, event).

Each genuine delivery is captured on its way from the Slack simulator and held back
(tests/support/slack_capture.py); its forged versions are sent first and must be
refused with a clear status while nothing reaches OpenTrain and the bot posts nothing.
Then the genuine one goes through, proving the refusals were about the forgery.

Proven elsewhere, not repeated here:
* tests/e2e/test_slack_security.py — slash commands: a forged signature (wrong secret,
  one byte short, missing headers), a tampered body, timestamps more than five minutes
  old or ahead, another workspace's command and click, and ALLOWED_REQUESTERS;
* tests/e2e/test_links.py — a redelivered `link_shared` event (Slack's retry) is answered
  once.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.cards import ActionId
from bot.opentrain import ApprovalRequested, OpenTrainClient
from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.runner import SIGNING_SECRET, Sandbox
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import CHANNEL, USER, Bot, hire_values
from tests.support.slack_capture import Captured, SlackCapture, deliver
from tests.support.wait import wait_for

STALE = 6 * 60
OTHER_TEAM = b"T0ELSEWHERE"


@dataclass
class Door:
    """One captured genuine delivery, and a meaningful change an attacker would make to it."""

    name: str
    captured: Captured
    original: bytes  # a value inside the body…
    changed: bytes  # …and what a tamperer turns it into
    happened: Callable[[], bool]  # the genuine delivery's visible effect


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> AsyncIterator[Bot]:
    sandbox = await make_sandbox(slack_rate_limit_scale=100)
    yield Bot(sandbox)


def bot_url(sandbox: Sandbox) -> str:
    return f"{sandbox.bot_url}/slack/events"


def bot_output(sandbox: Sandbox) -> tuple[int, ...]:
    """Everything the bot can make Slack show: its messages (and edits), private messages,
    modals, unfurls."""
    state = sandbox.slack.state
    messages = [
        message
        for channel in state.channels.values()
        for top in channel.messages
        for message in (top, *top.replies)
        if message.bot_id
    ]
    return (
        len(messages),
        sum(len(m.edits) for m in messages),
        len(state.ephemerals),
        len(state.response_posts),
        len(state.views),
        len(state.unfurls),
    )


def opentrain_calls(sandbox: Sandbox, since: int) -> list[str]:
    """What reached OpenTrain since `since`, the tracker's own feed polls left out."""
    return [
        f"{e['method']} {e['path']}"
        for e in sandbox.opentrain.requests.since(since)
        if e["path"] != "/updates"
    ]


async def capture(
    bot: Bot, relay: SlackCapture, action: Callable[[], Awaitable[object]]
) -> Captured:
    """Hold back the delivery `action` makes Slack send."""
    relay.forward = False
    seen = len(relay.captured)
    await action()
    relay.forward = True
    [held] = relay.captured[seen:]
    return held


async def doors(bot: Bot, relay: SlackCapture) -> list[Door]:
    sandbox = bot.sandbox
    slack = sandbox.slack
    # An approval made outside the bot, whose link a person pastes.
    async with OpenTrainClient(sandbox.opentrain.origin, FULL_TOKEN) as client:
        ended = await client.end_contract("ctr_linus")
    assert isinstance(ended, ApprovalRequested)
    pasted = ended.approval.id
    # A private message with a Fund button, and an open hire modal, both genuine.
    await bot.command("contract ctr_linus")
    reply = await wait_for(
        lambda: next((e for e in bot.private() if "ms_batch2" in json.dumps(e.blocks)), None),
        message="the contract with its buttons",
    )
    view = await bot.modal("hire prop_ada")

    command = await capture(bot, relay, lambda: bot.command("payout ms_batch1"))
    click = await capture(
        bot, relay, lambda: bot.click(reply, ActionId.FUND_MILESTONE, value="ms_batch2")
    )
    submission = await capture(bot, relay, lambda: bot.submit(view, hire_values(amount="450")))
    event = await capture(
        bot,
        relay,
        lambda: slack.share_link(
            user_id=USER,
            channel_id=CHANNEL,
            url=f"{sandbox.opentrain.origin}/approvals/{pasted}",
        ),
    )

    def approval_of(kind: str) -> bool:
        return any(a.type.value == kind for a in sandbox.opentrain.state.approvals.values())

    return [
        Door(
            "slash command",
            command,
            b"ms_batch1",
            b"ms_batch2",
            lambda: approval_of("milestone_approve"),
        ),
        Door(
            "button click", click, b"ms_batch2", b"ms_batch1", lambda: approval_of("milestone_fund")
        ),
        Door("modal submission", submission, b"450", b"950", lambda: approval_of("proposal_hire")),
        Door(
            "event",
            event,
            pasted.encode(),
            b"apr_someone_elses",
            lambda: bot.card(pasted) is not None,
        ),
    ]


async def status_of(url: str, captured: Captured, **how: Any) -> int:
    return (await deliver(url, captured, **how))[0]


@pytest.fixture
async def relay(bot: Bot) -> AsyncIterator[SlackCapture]:
    capture = SlackCapture(bot_url(bot.sandbox))
    bot.sandbox.slack.bot_url = await capture.start()
    yield capture
    await capture.stop()


async def test_forged_tampered_stale_and_foreign_deliveries_are_refused_on_every_door(
    bot: Bot, relay: SlackCapture
) -> None:
    sandbox = bot.sandbox
    held = await doors(bot, relay)
    mark = len(sandbox.opentrain.requests)
    before = bot_output(sandbox)
    url = bot_url(sandbox)
    now = int(time.time())
    for door in held:
        body = door.captured.body
        assert door.original in body, door.name
        tampered = body.replace(door.original, door.changed)
        foreign = body.replace(b"T0SANDBOX", OTHER_TEAM)
        assert foreign != body, door.name
        refusals = {
            "unsigned": (await status_of(url, door.captured, secret=None), 401),
            "wrong secret": (
                await status_of(url, door.captured, secret="not-the-signing-secret"),
                401,
            ),
            "tampered": (
                await status_of(
                    url, door.captured, secret=SIGNING_SECRET, body=tampered, signed=body
                ),
                401,
            ),
            "replayed late": (
                await status_of(url, door.captured, secret=SIGNING_SECRET, timestamp=now - STALE),
                401,
            ),
            "from the future": (
                await status_of(url, door.captured, secret=SIGNING_SECRET, timestamp=now + STALE),
                401,
            ),
            "another workspace": (
                await status_of(url, door.captured, secret=SIGNING_SECRET, body=foreign),
                403,
            ),
        }
        for case, (status, expected) in refusals.items():
            assert status == expected, (door.name, case, status)
    await sandbox.services.notifier.drain()  # anything queued would go out now
    assert opentrain_calls(sandbox, mark) == []
    assert bot_output(sandbox) == before

    # The genuine deliveries still work: the refusals were about the forgeries.
    for door in held:
        assert await status_of(url, door.captured, secret=SIGNING_SECRET) == 200, door.name
        await wait_for(door.happened, message=f"the genuine {door.name}")


async def test_a_captured_command_replayed_within_the_window_changes_nothing(
    bot: Bot, relay: SlackCapture
) -> None:
    sandbox = bot.sandbox
    held = await capture(bot, relay, lambda: bot.command("fund ms_batch2"))
    url = bot_url(sandbox)
    now = int(time.time())
    # Exactly the same signed bytes, twice: Slack's scheme cannot tell them apart within five
    # minutes, so a replay must be harmless — OpenTrain returns the same pending approval.
    for _ in range(2):
        assert await status_of(url, held, secret=SIGNING_SECRET, timestamp=now) == 200
        await wait_for(lambda: bot.cards(), message="the card")
    answers = await wait_for(
        lambda: (
            len(sandbox.slack.state.response_posts) == 2
            and [str(p.body.get("text")) for p in sandbox.slack.state.response_posts]
        ),
        message="both answers",
    )
    # Either may answer first: the replay does not wait for a card that is already there.
    assert sorted(answer.split(":")[0] for answer in answers) == [
        "Already tracked, no new card",
        "Approval card posted",
    ]
    [approval] = bot.approvals()
    assert [bot.card(approval.id)] == bot.cards()


async def test_oversized_slack_bodies_and_fields_are_refused(bot: Bot) -> None:
    sandbox = bot.sandbox
    slack = sandbox.slack
    mark = len(sandbox.opentrain.requests)
    before = bot_output(sandbox)
    url = bot_url(sandbox)

    def command(text: str) -> Captured:
        form = {
            "token": slack.config.verification_token,
            "team_id": slack.state.team_id,
            "channel_id": CHANNEL,
            "user_id": USER,
            "command": "/opentrain",
            "text": text,
            "api_app_id": slack.state.app_id,
            "response_url": f"{slack.origin}/_sim/response/none",
            "trigger_id": "1.2.3",
        }
        body = urlencode(form).encode()
        return Captured(body, "application/x-www-form-urlencoded", int(time.time()))

    # Over the 1 MiB the bot reads from Slack at all.
    huge = command("fund " + "ms_" * 400_000)
    assert await status_of(url, huge, secret=SIGNING_SECRET) == 413
    # Nesting deep enough to break a recursive parser, unsigned, as JSON and as a form.
    deep = b"[" * 30_000 + b"]" * 30_000
    for nested in (
        Captured(b'{"type":"event_callback","event":' + deep + b"}", "application/json", 0),
        Captured(b"payload=" + deep, "application/x-www-form-urlencoded", 0),
    ):
        status, _ = await deliver(url, nested, secret=None)
        assert status in (400, 401), status
    # Fields far past what any command takes: answered with what to type, in the ack.
    status, ack = await deliver(
        url, command("hire prop_ada 450 " + "x" * 100_000), secret=SIGNING_SECRET
    )
    assert status == 200 and "the limit is 200" in ack
    status, ack = await deliver(url, command("fund " + "m" * 10_000), secret=SIGNING_SECRET)
    assert status == 200 and "is not a valid milestone id" in ack

    # One message pasting fifty approval links: the bot looks at five of them, no more.
    links = " ".join(f"{sandbox.opentrain.origin}/approvals/apr_{n:04d}" for n in range(50))
    await slack.driver.post_user_message(user_id=USER, channel_id=CHANNEL, text=links)
    notes = await wait_for(
        lambda: len(notes_in_threads(sandbox)) == 5 and notes_in_threads(sandbox),
        message="a short note per unknown approval",
    )
    await sandbox.services.notifier.drain()
    read = {r.rsplit("/", 1)[1] for r in opentrain_calls(sandbox, mark)}
    assert read == {f"apr_{n:04d}" for n in range(5)}
    assert all("OpenTrain has no approval" in note for note in notes)
    assert bot_output(sandbox)[1:] == before[1:]  # no edits, private messages, modals, unfurls


def notes_in_threads(sandbox: Sandbox) -> list[str]:
    return [
        reply.text
        for message in sandbox.slack.messages(CHANNEL)
        for reply in sandbox.slack.replies(CHANNEL, message.ts)
        if reply.bot_id
    ]
