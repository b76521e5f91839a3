"""Slack failing under the notifier: every outcome lands exactly once, or reaches the requester
by DM with an audit entry — and nothing retries forever.

Faults are injected in the Slack simulator (`FaultSpec` on a Web API method), or the
workspace itself changes under the bot (a channel archived, the bot removed) between
the card and its outcome. Time moves on the OpenTrain simulator's clock, never by sleeping.

Proven elsewhere, not repeated here:
* tests/e2e/test_tracking_degraded.py — a burst that Slack's own limits answer with 429s
  lands every update once; `channel_not_found` / `is_archived` / `message_not_found`
  (faults with `status: 200` + `error` on both the update and the reply) end in an audit
  entry and one DM, with no retry loop, while `not_in_channel` joins again and delivers; a
  channel archived before a request is refused up front; 500 / 503 / dropped posts are
  retried with backoff; Slack failing for good stops after MAX_ATTEMPTS;
* tests/integration/test_notifier_recovery.py — lost answers under busy channels and
  threads, unjoined public channels, windows too busy to read;
* tests/integration/test_notifier.py — a 429 waited out in the lane costs no attempt; a
  Slack call that times out is retried; a bug in one lane spares the others;
* tests/e2e/test_tracking_restart.py — a reply Slack took but the bot never recorded is
  found by its metadata, not posted again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cards.ids import REQUESTER_DM_EVENT_TYPE
from bot.deliveries import CLAIM_LEASE
from bot.notifier import MAX_BACKOFF_SECONDS
from bot.sandbox.faults import FaultSpec
from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.sandbox.slack.model import Channel, Message
from bot.tracked_approvals import Requester
from tests.support.processes import (
    CHANNEL,
    USER,
    Deployment,
    InProcessBot,
    add_proposals,
    card,
    card_text,
    deployment,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
    track,
)
from tests.support.wait import wait_for

AGENT_TOKEN = "agent-token-planner-0123456789"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path) as running:
        yield running


@pytest.fixture
async def bot(env: Deployment) -> InProcessBot:
    return await env.start_bot(agent_tokens=f"planner:{AGENT_TOKEN}")


async def tracked_hires(env: Deployment, count: int, channel: str = CHANNEL) -> list[str]:
    approvals = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, count)]
    for approval_id in approvals:
        await track(env.slack, approval_id, channel)
    return approvals


def requester_dms(env: Deployment, user: str = USER) -> list[Message]:
    return [
        m
        for m in env.slack.dms(user)
        if (m.metadata or {}).get("event_type") == REQUESTER_DM_EVENT_TYPE
    ]


def dm_channel(env: Deployment, user: str = USER) -> str:
    channel = env.slack.state.dm_channel(user)
    assert channel is not None, f"no DM with {user}"
    return channel.id


async def with_time_passing(env: Deployment, condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for `condition`, moving the clock past any retry backoff between looks."""

    async def check() -> bool:
        if await condition():
            return True
        env.opentrain.state.advance(MAX_BACKOFF_SECONDS)
        return False

    await wait_for(check, interval=0.1, message="condition, with time passing")


async def outbox_settled(bot: InProcessBot) -> bool:
    return await bot.services.store.count_effects(done=False) == 0


async def failed_effects(bot: InProcessBot, approval_id: str) -> dict[str, str]:
    """Effect kind → Slack error, for each effect given up on (audited)."""
    entries = await bot.services.store.read_audit(approval_id=approval_id)
    return {e.details["kind"]: e.details["error"] for e in entries if e.action == "effect_failed"}


async def assert_quiet(env: Deployment, bot: InProcessBot) -> None:
    """Nothing is left to do, and a few more runs of every job call Slack no more."""
    await wait_for(lambda: outbox_settled(bot), message="outbox settled")
    await bot.settle()
    calls = dict(env.slack.state.api_calls)
    await bot.settle()
    assert dict(env.slack.state.api_calls) == calls


# --- 429 storms -------------------------------------------------------------------------------

KINDS = ("update_card", "outcome_reply")
STORM_CALLS = 100_000  # more than the storm can use: it ends when the test clears it


def outcomes(confirmed: str, declined: str, expiring: str) -> list[tuple[str, str]]:
    return [(confirmed, "confirmed"), (declined, "declined"), (expiring, "expired")]


async def test_a_429_storm_on_every_method_delays_outcomes_but_never_doubles_or_drops_them(
    env: Deployment, bot: InProcessBot
) -> None:
    confirmed, declined, expiring = await tracked_hires(env, 3)
    # Every write and lookup the notifier makes is refused, as HTTP 429 with Retry-After and
    # as Slack's other shape of it (HTTP 200, `error: ratelimited`), until the channel's
    # lane and the DM's lane have both been turned away and have put work off for later.
    storm: list[dict[str, Any]] = [
        {"path": "chat.postMessage", "status": 200, "error": "ratelimited"},
        {"path": "chat.*", "status": 429, "retryAfter": 1},
        {"path": "conversations.*", "status": 429, "retryAfter": 1},
    ]
    for spec in storm:
        env.slack.faults.add(FaultSpec.model_validate({**spec, "count": STORM_CALLS}))
    started = time.monotonic()
    env.opentrain.state.confirm(confirmed)
    env.opentrain.state.decline(declined)
    env.opentrain.state.advance(APPROVAL_TTL.total_seconds() + 10)  # the third one expires

    outcome_effects = [
        *(
            f"{a}:{kind}:{status}"
            for a, status in outcomes(confirmed, declined, expiring)
            for kind in KINDS
        ),
        f"{expiring}:requester_dm:expired",
    ]

    async def both_lanes_turned_away() -> bool:
        stored = [await bot.services.store.get_effect(e) for e in outcome_effects]
        turned_away = [e.id for e in stored if e is not None and e.last_error == "ratelimited"]
        return outcome_effects[-1] in turned_away and len(turned_away) >= 2

    await wait_for(both_lanes_turned_away, timeout=20, message="both lanes rate limited")
    storm_calls = sum(STORM_CALLS - fault["remaining"] for fault in env.slack.faults.describe())
    lasted = time.monotonic() - started
    env.slack.faults.clear()

    for approval_id in (confirmed, declined, expiring):
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=approval_id)
    await wait_for(lambda: len(requester_dms(env)) == 1, message="the expiry DM")
    await assert_quiet(env, bot)

    for approval_id, status in outcomes(confirmed, declined, expiring):
        assert status.capitalize() in card_text(env.slack, approval_id)
        assert len(outcome_replies(env.slack, approval_id)) == 1
        assert await failed_effects(bot, approval_id) == {}
    assert set(effect_posts(env.slack, CHANNEL, dm_channel(env)).values()) == {1}
    # A rate limit is not a failure: no attempt was spent on it.
    for effect_id in outcome_effects:
        stored = await bot.services.store.get_effect(effect_id)
        assert stored is not None and stored.done and stored.attempts == 0, stored
    # Paced by Retry-After, not hammering: a few calls per effect per second of storm.
    assert storm_calls <= 4 * len(outcome_effects) * (lasted + 1), (storm_calls, lasted)


# --- 5xx and resets on each call the notifier makes ---------------------------------------------


async def test_5xx_and_resets_on_every_notifier_call_are_retried_and_land_once(
    env: Deployment, bot: InProcessBot
) -> None:
    confirmed, expiring = await tracked_hires(env, 2)
    faults: list[dict[str, Any]] = [
        {"path": "chat.update", "status": 502, "count": 2},
        {"path": "chat.postMessage", "status": 503, "count": 1},
        # The retried reply first looks for an earlier post of itself: that lookup fails too.
        {"path": "conversations.replies", "drop": True, "count": 1},
        {"path": "conversations.open", "status": 500, "count": 1},
    ]
    for spec in faults:
        env.slack.faults.add(FaultSpec.model_validate(spec))

    env.opentrain.state.confirm(confirmed)
    env.opentrain.state.advance(APPROVAL_TTL.total_seconds() + 10)

    async def landed() -> bool:
        return (
            resolved(env.slack, confirmed)
            and resolved(env.slack, expiring)
            and len(requester_dms(env)) == 1
            and await outbox_settled(bot)
        )

    await with_time_passing(env, landed)
    await assert_quiet(env, bot)
    assert env.slack.faults.describe() == []  # every fault was met
    assert "Confirmed" in card_text(env.slack, confirmed)
    assert "Expired" in card_text(env.slack, expiring)
    for approval_id in (confirmed, expiring):
        assert len(outcome_replies(env.slack, approval_id)) == 1
        assert await failed_effects(bot, approval_id) == {}
    assert set(effect_posts(env.slack, CHANNEL, dm_channel(env)).values()) == {1}


async def test_a_card_without_a_permalink_still_works(env: Deployment, bot: InProcessBot) -> None:
    env.slack.faults.add(FaultSpec(path="chat.getPermalink", status=500))
    [approval_id] = await tracked_hires(env, 1)

    async def recorded() -> Any:
        stored = await bot.services.store.get_approval(approval_id)
        return stored if stored is not None and stored.card_ts else None

    stored = await wait_for(recorded, message="the card recorded")
    assert stored.card_permalink is None
    env.opentrain.state.confirm(approval_id)
    await wait_for(lambda: resolved(env.slack, approval_id), message="outcome")
    await assert_quiet(env, bot)
    assert len(outcome_replies(env.slack, approval_id)) == 1


# --- the channel changes between the card and the outcome ---------------------------------------


def archive(env: Deployment, channel: str) -> None:
    env.slack.state.channels[channel].is_archived = True


def remove_bot(env: Deployment, channel: str) -> None:
    env.slack.state.channels[channel].members.discard(env.slack.state.bot_user_id)


def delete(env: Deployment, channel: str) -> None:
    del env.slack.state.channels[channel]


PRIVATE = "C0PRIVATE"


@pytest.mark.parametrize(
    ("change", "error"),
    [(archive, "is_archived"), (remove_bot, "channel_not_found"), (delete, "channel_not_found")],
    ids=["archived", "bot-removed-from-private-channel", "deleted"],
)
async def test_a_channel_gone_before_the_outcome_sends_it_to_the_requester_once(
    env: Deployment, bot: InProcessBot, change: Callable[[Deployment, str], None], error: str
) -> None:
    private: Channel = env.slack.state.channels[PRIVATE]
    private.members.add(env.slack.state.bot_user_id)  # invited, for now
    [approval_id] = await tracked_hires(env, 1, PRIVATE)
    posted = card(env.slack, approval_id, PRIVATE)
    assert posted is not None

    change(env, PRIVATE)
    env.opentrain.state.confirm(approval_id)

    [dm] = await wait_for(lambda: requester_dms(env), message="the outcome by DM")
    await assert_quiet(env, bot)
    assert "Confirmed" in f"{dm.text} {dm.blocks}"
    assert await failed_effects(bot, approval_id) == {"update_card": error, "outcome_reply": error}
    assert len(requester_dms(env)) == 1
    assert posted.replies == [] and "Review & confirm" in str(posted.blocks)


async def test_a_reply_refused_after_the_card_was_updated_goes_to_the_requester_once(
    env: Deployment, bot: InProcessBot
) -> None:
    requested = await bot.services.cosign.fund(
        "ms_batch2", requester=Requester(kind="slack", id=USER), channel_id=CHANNEL
    )
    approval_id = requested.approval.approval_id
    assert requested.card.ts is not None
    env.slack.faults.add(
        FaultSpec(path="chat.postMessage", status=200, error="channel_not_found", count=1)
    )
    env.opentrain.state.decline(approval_id)
    [dm] = await wait_for(lambda: requester_dms(env), message="the outcome by DM")
    await assert_quiet(env, bot)
    assert "Declined" in card_text(env.slack, approval_id)  # the update went through
    assert outcome_replies(env.slack, approval_id) == []
    assert await failed_effects(bot, approval_id) == {"outcome_reply": "channel_not_found"}
    assert "Declined" in f"{dm.text} {dm.blocks}"


async def test_an_agents_card_in_an_archived_channel_is_audited_with_no_one_to_dm(
    env: Deployment, bot: InProcessBot
) -> None:
    async with httpx.AsyncClient(base_url=bot.url) as http:
        answer = await http.post(
            "/agent/v1/fund",
            json={"milestoneId": "ms_batch2"},
            headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
        )
    assert answer.status_code == 202, answer.text
    approval_id = answer.json()["approval"]["id"]
    archive(env, CHANNEL)
    env.opentrain.state.confirm(approval_id)

    async def given_up() -> bool:
        return len(await failed_effects(bot, approval_id)) == 2

    await wait_for(given_up, message="both outcome effects given up")
    await assert_quiet(env, bot)
    assert await failed_effects(bot, approval_id) == {
        "update_card": "is_archived",
        "outcome_reply": "is_archived",
    }
    assert all(not requester_dms(env, user) for user in env.slack.state.users)


# --- a delivery never outlives its claim ------------------------------------------------------

# Not a value the bot would assume: it must wait what Slack says.
RETRY_AFTER_S = 7


async def test_a_post_held_past_its_claim_by_429s_lands_once_across_three_replicas(
    env: Deployment, redis_url: str
) -> None:
    """Three `python -m bot serve` on one Redis. The card's first post meets a 429 and its
    replica waits out `Retry-After`; meanwhile the claim lapses (the clock the bots follow
    moves past its lease) and another replica takes the card. The first one, waking up,
    must leave it alone: one card, one update, one reply."""
    replicas = [await env.spawn_bot(redis_url=redis_url, entry=i == 0) for i in range(3)]
    [proposal] = add_proposals(env.opentrain, 1)
    approval_id = await request_hire(env.opentrain, proposal)
    held = FaultSpec(path="chat.postMessage", status=429, retry_after=RETRY_AFTER_S, count=2)
    env.slack.faults.add(held)

    result = await env.slack.send_command(
        command="/opentrain", text=f"track {approval_id}", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()
    await wait_for(
        lambda: env.slack.faults.describe()[0]["remaining"] == 1,
        timeout=30,
        message="the first post was answered 429",
    )
    # While its replica waits out Retry-After, its claim lapses: another replica takes it.
    env.opentrain.state.advance(CLAIM_LEASE.total_seconds() + 60)

    await wait_for(lambda: card(env.slack, approval_id), timeout=60, message="the card")
    assert env.slack.faults.describe() == []
    env.opentrain.state.confirm(approval_id)
    await wait_for(lambda: resolved(env.slack, approval_id), timeout=60, message="outcome")
    # The first holder woke up (Retry-After is long past) and stood back.
    assert all(bot.alive for bot in replicas)
    await wait_for(
        lambda: "slack effect left at its claim's end" in "".join(b.output() for b in replicas),
        message="the first holder standing back",
    )
    assert "Confirmed" in card_text(env.slack, approval_id)
    assert set(effect_posts(env.slack, CHANNEL).values()) == {1}, effect_posts(env.slack, CHANNEL)
    assert len(outcome_replies(env.slack, approval_id)) == 1
