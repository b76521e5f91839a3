"""When OpenTrain's feed or Slack misbehave, every outcome still lands once — or says why not.

Faults are injected in the simulators over their control surface; time moves on
the OpenTrain simulator's clock (which the bot follows), never by sleeping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.cards.ids import REQUESTER_DM_EVENT_TYPE
from bot.notifier import MAX_ATTEMPTS, MAX_BACKOFF_SECONDS
from bot.outbox import EffectKind, effect
from bot.sandbox.faults import FaultSpec
from bot.tracker import FALLBACK_SPREAD
from tests.support.processes import (
    CHANNEL,
    USER,
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
    updates_requests,
)
from tests.support.wait import wait_for

# `not_in_channel` is not among them: the bot joins again and retries (below).
PERMANENT = ["channel_not_found", "is_archived", "message_not_found"]


@pytest.fixture
async def bot(env: Deployment) -> InProcessBot:
    return await env.start_bot()


async def tracked_hires(env: Deployment, count: int) -> list[str]:
    approvals = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, count)]
    for approval_id in approvals:
        await track(env.slack, approval_id)
    return approvals


def requester_dms(env: Deployment) -> list[Any]:
    return [
        m
        for m in env.slack.dms(USER)
        if (m.metadata or {}).get("event_type") == REQUESTER_DM_EVENT_TYPE
    ]


def effect_id(approval_id: str, kind: EffectKind, key: str = "confirmed") -> str:
    return effect(approval_id, kind, datetime.now(UTC), key=key).id


async def with_time_passing(env: Deployment, condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for `condition`, moving the clock past any retry backoff between looks."""

    async def check() -> bool:
        if await condition():
            return True
        env.opentrain.state.advance(MAX_BACKOFF_SECONDS)
        return False

    await wait_for(check, interval=0.1, message="condition, with time passing")


# --- OpenTrain's feed -----------------------------------------------------------------------


async def test_a_failing_feed_falls_back_to_polling_and_back_when_it_recovers(
    env: Deployment, bot: InProcessBot
) -> None:
    approvals = await tracked_hires(env, 3)
    tracker = bot.services.tracker
    env.opentrain.faults.add(FaultSpec(path="/updates", status=500))
    await wait_for(lambda: _unhealthy(bot), message="fallback to polling")

    for approval_id in approvals[:2]:
        env.opentrain.state.confirm(approval_id)
    since = len(env.opentrain.requests)
    # Fallback polls each approval within FALLBACK_SPREAD, then every 15–22.5 s while fresh.
    env.opentrain.state.advance(FALLBACK_SPREAD.total_seconds() + 1)
    for approval_id in approvals[:2]:
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=f"{approval_id}")
    read = {r["path"].rsplit("/", 1)[-1] for r in approval_reads(env.opentrain, since)}
    assert set(approvals) <= read  # the still-pending one is polled too

    env.opentrain.faults.clear()
    await wait_for(tracker.feed_healthy, message="feed recovered")
    since = len(env.opentrain.requests)
    env.opentrain.state.advance(120)  # fallback would have read the pending approval 5+ times
    await wait_for(
        lambda: len(updates_requests(env.opentrain, since)) >= 5, message="feed polls go on"
    )
    await bot.settle()
    assert approval_reads(env.opentrain, since) == []  # idle cost is the feed poll alone

    env.opentrain.state.confirm(approvals[2])
    await wait_for(lambda: resolved(env.slack, approvals[2]), message="outcome via the feed")
    await bot.settle()
    for approval_id in approvals:
        assert len(outcome_replies(env.slack, approval_id)) == 1


async def _unhealthy(bot: InProcessBot) -> bool:
    return not await bot.services.tracker.feed_healthy()


# --- Slack ---------------------------------------------------------------------------------------


async def test_a_burst_answered_with_429s_still_lands_every_update_once(tmp_path: Path) -> None:
    # Slack's own limits only twice as fast: six replies in one channel outrun its burst of
    # three even when this machine is loaded and the bot posts slowly.
    slack_options = {"rate_limits": True, "rate_limit_scale": 2}
    async with deployment(tmp_path, slack_options=slack_options) as env:
        # Pacing far looser than Slack's limits, so the burst does provoke 429s.
        bot = await env.start_bot(slack_rate_limit_scale=10_000)
        approvals = await tracked_hires(env, 6)

        for approval_id in approvals:
            env.opentrain.state.confirm(approval_id)
        for approval_id in approvals:
            await wait_for(lambda a=approval_id: resolved(env.slack, a), message=approval_id)
        await bot.settle()

        assert env.slack.state.rate_limited > 0
        for approval_id in approvals:
            assert "Confirmed" in card_text(env.slack, approval_id)
            assert len(outcome_replies(env.slack, approval_id)) == 1
        assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())


@pytest.mark.parametrize("error", PERMANENT)
async def test_a_channel_that_refuses_the_outcome_gets_an_audit_entry_and_a_dm_instead(
    env: Deployment, bot: InProcessBot, error: str
) -> None:
    [approval_id] = await tracked_hires(env, 1)
    for method in ("chat.update", "chat.postMessage"):
        env.slack.faults.add(FaultSpec(path=method, status=200, error=error, count=1))

    env.opentrain.state.confirm(approval_id)

    await wait_for(lambda: requester_dms(env), message="DM to the requester")
    await wait_for(lambda: _outbox_empty(bot), message="outbox settled")
    await bot.settle()
    calls = dict(env.slack.state.api_calls)
    await bot.settle()
    assert dict(env.slack.state.api_calls) == calls  # nothing keeps retrying
    failed = [
        entry
        for entry in await bot.services.store.read_audit(approval_id=approval_id)
        if entry.action == "effect_failed"
    ]
    assert {entry.details["error"] for entry in failed} == {error}
    assert {entry.details["kind"] for entry in failed} == {"update_card", "outcome_reply"}
    [dm] = requester_dms(env)
    assert "Confirmed" in f"{dm.text} {dm.blocks}"
    assert not outcome_replies(env.slack, approval_id)


async def test_an_archived_channel_is_refused_before_anything_is_tracked(
    env: Deployment, bot: InProcessBot
) -> None:
    env.slack.state.channels[CHANNEL].is_archived = True
    [approval_id] = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, 1)]
    result = await env.slack.send_command(
        command="/opentrain", text=f"track {approval_id}", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok

    await wait_for(lambda: _answered(env), message="the refusal")
    assert "archived" in _answered(env)
    assert await bot.services.store.get_approval(approval_id) is None
    assert requester_dms(env) == [] and env.slack.state.api_calls["chat.postMessage"] == 0


def _answered(env: Deployment) -> str:
    return " ".join(str(post.body) for post in env.slack.state.response_posts)


async def test_not_in_channel_for_an_outcome_joins_again_and_delivers_it(
    env: Deployment, bot: InProcessBot
) -> None:
    [approval_id] = await tracked_hires(env, 1)
    for method in ("chat.update", "chat.postMessage"):
        env.slack.faults.add(FaultSpec(path=method, status=200, error="not_in_channel", count=1))

    env.opentrain.state.confirm(approval_id)

    await wait_for(lambda: resolved(env.slack, approval_id), message="outcome delivered")
    await wait_for(lambda: _outbox_empty(bot), message="outbox settled")
    assert env.slack.faults.describe() == []
    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert requester_dms(env) == []


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 503},
        {"drop": True},
    ],
    ids=["500", "503", "dropped"],
)
async def test_transient_slack_failures_are_retried_with_backoff(
    env: Deployment, bot: InProcessBot, fault: dict[str, Any]
) -> None:
    [approval_id] = await tracked_hires(env, 1)
    env.slack.faults.add(FaultSpec(path="chat.postMessage", count=2, **fault))

    env.opentrain.state.confirm(approval_id)
    reply = effect_id(approval_id, EffectKind.OUTCOME_REPLY)

    async def landed() -> bool:
        return resolved(env.slack, approval_id)

    await with_time_passing(env, landed)
    await bot.settle()
    stored = await bot.services.store.get_effect(reply)
    assert stored is not None and stored.attempts == 2
    assert len(outcome_replies(env.slack, approval_id)) == 1


async def test_slack_failing_for_good_stops_after_bounded_attempts(
    env: Deployment, bot: InProcessBot
) -> None:
    [approval_id] = await tracked_hires(env, 1)
    env.slack.faults.add(FaultSpec(path="chat.postMessage", status=500))
    env.opentrain.state.confirm(approval_id)
    reply = effect_id(approval_id, EffectKind.OUTCOME_REPLY)

    async def abandoned() -> bool:
        stored = await bot.services.store.get_effect(reply)
        return stored is not None and stored.done

    await with_time_passing(env, abandoned)
    stored = await bot.services.store.get_effect(reply)
    assert stored is not None and stored.attempts == MAX_ATTEMPTS - 1
    assert stored.result == {"error": "internal_error"}
    actions = [
        entry.action for entry in await bot.services.store.read_audit(approval_id=approval_id)
    ]
    assert "effect_failed" in actions


async def _outbox_empty(bot: InProcessBot) -> bool:
    return await bot.services.store.count_effects(done=False) == 0
