"""Who may talk to the bot: Slack's signature, its 5-minute window, our workspace, our allowlist.

Requests here are built and signed by hand (v0 HMAC-SHA256 over
`v0:{timestamp}:{body}`), so each test controls exactly what is wrong with them;
a correctly signed control request proves the signing itself is right.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.sandbox.runner import SIGNING_SECRET
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    CHANNEL,
    Bot,
    post_signed,
    rendered,
    signature,
    start_bot,
)
from tests.support.wait import wait_for

FIVE_MINUTES = 5 * 60


def command_body(bot: Bot, text: str, *, team_id: str | None = None, user: str = "U0ANA") -> bytes:
    slack = bot.sandbox.slack
    response_url = slack.state.issue_response_url("command", user_id=user, channel_id=CHANNEL)
    form = {
        "token": slack.config.verification_token,
        "team_id": team_id or slack.state.team_id,
        "team_domain": "sandbox",
        "channel_id": CHANNEL,
        "channel_name": "hiring",
        "user_id": user,
        "user_name": "ana",
        "command": "/opentrain",
        "text": text,
        "api_app_id": slack.state.app_id,
        "response_url": f"{slack.origin}/_sim/response/{response_url.id}",
        "trigger_id": slack.state.issue_trigger(user).id,
    }
    return urlencode(form).encode()


def action_body(bot: Bot, *, team_id: str, user: str = "U0ANA") -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "elsewhere"},
        "user": {"id": user, "team_id": team_id},
        "api_app_id": bot.sandbox.slack.state.app_id,
        "token": bot.sandbox.slack.config.verification_token,
        "container": {"type": "message", "message_ts": "1.1", "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "hiring"},
        "trigger_id": "1.2.3",
        "actions": [
            {"action_id": "fund-milestone", "block_id": "b", "type": "button", "value": "ms_batch2"}
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def post(
    bot: Bot,
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    return (await post_signed(bot, body, secret=secret, timestamp=timestamp, headers=headers))[0]


async def assert_nothing_happened(bot: Bot) -> None:
    assert await bot.sent() == []
    assert bot.private() == [] and bot.cards() == []


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


async def test_a_correctly_signed_command_is_served(bot: Bot) -> None:
    assert await post(bot, command_body(bot, "fund ms_batch2")) == 200
    await bot.card_for((await wait_for(bot.approvals, message="approval"))[0].id)


async def test_a_forged_signature_is_refused(bot: Bot) -> None:
    body = command_body(bot, "fund ms_batch2")
    assert await post(bot, body, secret="not-the-signing-secret") == 401
    assert await post(bot, body + b"&text=payout+ms_batch1", secret=SIGNING_SECRET[:-1]) == 401
    assert (
        await post(bot, body, headers={"Content-Type": "application/x-www-form-urlencoded"}) == 401
    )
    await assert_nothing_happened(bot)


async def test_a_tampered_body_is_refused(bot: Bot) -> None:
    body = command_body(bot, "fund ms_batch2")
    sent_at = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": sent_at,
        "X-Slack-Signature": signature(SIGNING_SECRET, sent_at, body),
    }
    tampered = body.replace(b"ms_batch2", b"ms_batch1")
    assert await post(bot, tampered, headers=headers) == 401
    await assert_nothing_happened(bot)


async def test_a_request_older_than_five_minutes_is_refused(bot: Bot) -> None:
    body = command_body(bot, "fund ms_batch2")
    stale = int(time.time()) - FIVE_MINUTES - 60
    assert await post(bot, body, timestamp=stale) == 401
    future = int(time.time()) + FIVE_MINUTES + 60
    assert await post(bot, body, timestamp=future) == 401
    await assert_nothing_happened(bot)


async def test_another_workspace_is_refused(bot: Bot) -> None:
    status = await post(bot, command_body(bot, "fund ms_batch2", team_id="T0ELSEWHERE"))
    assert status == 403
    assert await post(bot, action_body(bot, team_id="T0ELSEWHERE")) == 403
    await assert_nothing_happened(bot)


async def test_allowed_requesters_refuse_others_privately_and_audit_it(
    make_sandbox: SandboxFactory,
) -> None:
    # Finance (U0ANA, U0BEN) may move money; Kai may not, but may still look things up.
    bot = await start_bot(make_sandbox, allowed_requesters=["S0FINANCE"])
    await bot.command("fund ms_batch2", user="U0KAI")
    refusal = await bot.answer(user="U0KAI")
    assert "Only these people can fund milestones" in refusal.text
    assert "ALLOWED_REQUESTERS" in refusal.text
    assert "<!subteam^S0FINANCE>" in refusal.text  # says who can

    seen = len(bot.private("U0KAI"))
    await bot.command("hire prop_ada 450", user="U0KAI")
    assert "Only these people can hire" in (await bot.answer(after=seen, user="U0KAI")).text
    assert not bot.sandbox.slack.state.open_views("U0KAI")
    assert await bot.writes() == [] and bot.cards() == []

    refused = [
        entry
        for entry in await bot.sandbox.services.store.read_audit()
        if entry.action == "refused"
    ]
    assert [(e.actor, e.details["kind"], e.details["why"]) for e in refused] == [
        ("slack:U0KAI", "fund milestones", "not_requester"),
        ("slack:U0KAI", "hire on OpenTrain", "not_requester"),
    ]

    # Reading is for requesters and admins too; the refusal names who can.
    seen = len(bot.private("U0KAI"))
    await bot.command("contracts", user="U0KAI")
    refusal = await bot.answer(after=seen, user="U0KAI")
    assert "admins and these requesters can see contracts" in refusal.text
    assert "ctr_linus" not in rendered(refusal)
    assert [r for r in await bot.sent() if r["path"].startswith("/contracts")] == []

    await bot.command("fund ms_batch2", user="U0BEN")
    assert "Approval card posted" in (await bot.answer(user="U0BEN")).text
