"""Lost answers in busy channels and threads, and channels the bot is not in: one post each.

Slack takes a post but answers after the bot's timeout (`lateMs`); meanwhile the
channel (or the card's thread) fills up. The next attempt must find the post by
its metadata in the window the first attempt opened, page after page, instead
of posting again — for SQLite and Redis. The Slack simulator is real HTTP on
loopback; the bot's clock is fixed and moved by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.earlier_posts import EFFECT_METADATA_KEY, MAX_LOOKUP_MESSAGES, PAGE_SIZE
from bot.outbox import EffectKind
from bot.sandbox.faults import FaultSpec
from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.config import DEFAULT_SCOPES
from bot.sandbox.slack.model import Message
from bot.store import RedisStore, SqliteStore, Store
from bot.tracked_approvals import TrackedStatus
from tests.integration.test_notifier import CHANNEL, USER, Harness, card_effect, outcome_id
from tests.support.slack_sim import MakeSlackSim

UNJOINED = "C0LABELING"  # public, and the bot is not in it (the demo seed)
OTHER_PERSON = "U0BEN"
TIMEOUT_S = 1  # the posts client's timeout, shortened; the late answer comes after it
LATE_MS = 2_500


@pytest.fixture(params=["sqlite", "redis"])
async def harness(
    request: pytest.FixtureRequest, make_slack_sim: MakeSlackSim, tmp_path: Path
) -> AsyncIterator[Harness]:
    slack = await make_slack_sim()
    store: Store
    if request.param == "sqlite":
        store = await SqliteStore.open(tmp_path / "bot.db")
    else:
        store = await RedisStore.connect(
            request.getfixturevalue("redis_url"), prefix=f"recovery-{tmp_path.name}:"
        )
    made = Harness(slack, store)
    made.gateway.posts.timeout = TIMEOUT_S
    yield made
    await store.close()


def lose_next_answer(slack: SlackSim) -> None:
    """Slack posts the next message, but answers only after the bot stopped waiting."""
    slack.faults.add(FaultSpec(path="chat.postMessage", late_ms=LATE_MS, count=1))


def chatter(slack: SlackSim, channel: str, count: int, thread_ts: str | None = None) -> None:
    """`count` messages by someone else, newer than anything the bot posted."""
    where = slack.state.channels[channel]
    for index in range(count):
        slack.state.post(where, user=OTHER_PERSON, text=f"message {index}", thread_ts=thread_ts)


def posts_of(messages: list[Message], effect_id: str) -> list[Message]:
    return [
        m
        for m in messages
        if ((m.metadata or {}).get("event_payload") or {}).get(EFFECT_METADATA_KEY) == effect_id
    ]


async def lost_then_retried(harness: Harness, effect_id: str) -> None:
    """The first drain loses the answer (an unclear attempt), the next one retries it."""
    await harness.notifier.drain()
    stored = await harness.effect(effect_id)
    assert not stored.done and stored.last_error is not None
    assert stored.last_error.startswith("network: ")
    assert stored.started_at is not None  # the window the retry reads


@pytest.mark.parametrize("newer", [150, 1_200])
async def test_a_lost_card_under_many_newer_messages_is_found_not_posted_again(
    harness: Harness, newer: int
) -> None:
    lose_next_answer(harness.slack)
    await harness.adopt("apr_1")
    card_id = card_effect("apr_1").id

    await lost_then_retried(harness, card_id)
    chatter(harness.slack, CHANNEL, newer)
    history_reads = harness.slack.state.api_calls["conversations.history"]
    harness.clock.advance(timedelta(minutes=1))
    await harness.notifier.drain()

    [card] = posts_of(harness.slack.messages(CHANNEL), card_id)
    stored = await harness.effect(card_id)
    assert stored.done and stored.result is not None and stored.result["ts"] == card.ts
    pages = harness.slack.state.api_calls["conversations.history"] - history_reads
    assert pages == newer // PAGE_SIZE + 1  # read page by page until the card was found

    # The card found is the one its outcome updates, under which the outcome is told once.
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    await harness.notifier.drain()
    updated = harness.slack.state.find_message(CHANNEL, card.ts)
    assert updated is not None and len(updated.edits) == 1
    replies = harness.slack.state.replies(CHANNEL, card.ts)
    assert len(posts_of(replies, outcome_id("apr_1", EffectKind.OUTCOME_REPLY))) == 1
    bot = harness.slack.state.bot_user_id
    assert [m.ts for m in harness.slack.messages(CHANNEL) if m.user == bot] == [card.ts]


async def test_a_lost_reply_under_300_replies_is_found_not_posted_again(
    harness: Harness,
) -> None:
    await harness.adopt("apr_1")
    await harness.notifier.drain()
    approval = await harness.store.get_approval("apr_1")
    assert approval is not None and approval.card_ts is not None
    chatter(harness.slack, CHANNEL, 300, thread_ts=approval.card_ts)
    reply_id = outcome_id("apr_1", EffectKind.OUTCOME_REPLY)
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    lose_next_answer(harness.slack)

    await lost_then_retried(harness, reply_id)
    chatter(harness.slack, CHANNEL, 300, thread_ts=approval.card_ts)  # and more after it
    harness.clock.advance(timedelta(minutes=1))
    await harness.notifier.drain()

    replies = harness.slack.state.replies(CHANNEL, approval.card_ts)
    assert len(replies) == 601
    [reply] = posts_of(replies, reply_id)
    stored = await harness.effect(reply_id)
    assert stored.done and stored.result == {"channel": CHANNEL, "ts": reply.ts}


async def test_a_window_busier_than_a_lookup_reads_asks_the_requester_and_posts_nothing(
    harness: Harness,
) -> None:
    lose_next_answer(harness.slack)
    await harness.adopt("apr_1")
    card_id = card_effect("apr_1").id
    await lost_then_retried(harness, card_id)
    chatter(harness.slack, CHANNEL, MAX_LOOKUP_MESSAGES + PAGE_SIZE)
    harness.clock.advance(timedelta(minutes=1))
    await harness.notifier.drain()  # gives up unsure, queues the requester's DM
    harness.clock.advance(timedelta(seconds=1))
    await harness.notifier.drain()

    assert len(posts_of(harness.slack.messages(CHANNEL), card_id)) == 1  # never a second
    stored = await harness.effect(card_id)
    assert stored.done and stored.result == {"error": "delivery_unsure"}
    audit = await harness.store.read_audit(approval_id="apr_1")
    unsure = [e for e in audit if e.action == "delivery_unsure"]
    assert len(unsure) == 1 and unsure[0].details["scanned"] >= MAX_LOOKUP_MESSAGES
    [dm] = harness.slack.dms(USER)
    assert "delivery_unsure" in str(dm.blocks) and "too busy" in str(dm.blocks)


async def test_a_public_channel_the_bot_is_not_in_is_joined_and_read_back(
    harness: Harness,
) -> None:
    bot = harness.slack.state.bot_user_id
    labeling = harness.slack.state.channels[UNJOINED]
    assert bot not in labeling.members
    lose_next_answer(harness.slack)
    await harness.adopt("apr_1", channel=UNJOINED)
    card_id = card_effect("apr_1").id

    await lost_then_retried(harness, card_id)
    assert bot in labeling.members  # joined before it posted
    # Removed from the channel meanwhile: the lookup's not_in_channel means "join again".
    labeling.members.discard(bot)
    chatter(harness.slack, UNJOINED, 150)
    harness.clock.advance(timedelta(minutes=1))
    await harness.notifier.drain()

    assert bot in labeling.members
    [card] = posts_of(harness.slack.messages(UNJOINED), card_id)
    stored = await harness.effect(card_id)
    assert stored.done and stored.result is not None and stored.result["ts"] == card.ts
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    await harness.notifier.drain()
    updated = harness.slack.state.find_message(UNJOINED, card.ts)
    assert updated is not None and len(updated.edits) == 1
    assert harness.slack.dms(USER) == []  # the channel was never taken for gone


async def test_a_private_channel_the_bot_is_not_in_gets_no_post(harness: Harness) -> None:
    await harness.adopt("apr_1", channel="C0PRIVATE")
    await harness.notifier.drain()
    harness.clock.advance(timedelta(seconds=1))
    await harness.notifier.drain()

    assert harness.slack.state.api_calls["chat.postMessage"] == 1  # the DM only
    assert harness.slack.state.api_calls["conversations.join"] == 0
    stored = await harness.effect(card_effect("apr_1").id)
    assert stored.done and stored.result == {"error": "channel_not_found"}
    [dm] = harness.slack.dms(USER)
    assert "C0PRIVATE" in str(dm.blocks)


async def test_an_install_without_channels_join_still_posts_in_a_public_channel(
    make_slack_sim: MakeSlackSim, tmp_path: Path
) -> None:
    slack = await make_slack_sim(scopes=DEFAULT_SCOPES - {"channels:join"})
    store = await SqliteStore.open(tmp_path / "bot.db")
    try:
        harness = Harness(slack, store)
        await harness.adopt("apr_1", channel=UNJOINED)
        await harness.notifier.drain()

        [card] = posts_of(slack.messages(UNJOINED), card_effect("apr_1").id)  # chat:write.public
        assert slack.state.bot_user_id not in slack.state.channels[UNJOINED].members
        stored = await harness.effect(card_effect("apr_1").id)
        assert stored.done and stored.result is not None and stored.result["ts"] == card.ts
    finally:
        await store.close()
