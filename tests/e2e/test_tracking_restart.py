"""Restarts and crashes: outcomes that happen while the bot is down, or while it is mid-post.

A new bot on the same store (SQLite file or Redis) must resume the `/updates`
feed where the old one stopped, update every card and reply once; a bot that
died between Slack accepting a reply and the store recording it must not make
its successor reply again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.deliveries import CLAIM_LEASE
from bot.outbox import EffectKind, effect
from bot.sandbox.faults import FaultSpec
from bot.store import RedisStore, SqliteStore, Store, StoreUnavailable
from bot.store.factory import sqlite_path
from tests.support.processes import (
    CHANNEL,
    Deployment,
    add_proposals,
    card_text,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
    track,
    updates_requests,
)
from tests.support.wait import wait_for


async def open_store(env: Deployment, store_settings: dict[str, Any]) -> Store:
    """The bots' store, opened from the outside (as a second process would)."""
    if "redis_url" in store_settings:
        return await RedisStore.connect(store_settings["redis_url"])
    return await SqliteStore.open(sqlite_path(env.settings()["database_url"]))


async def hires(env: Deployment, count: int) -> list[str]:
    proposals = add_proposals(env.opentrain, count)
    return [await request_hire(env.opentrain, proposal) for proposal in proposals]


async def test_a_new_bot_resumes_the_feed_and_reports_what_happened_while_down(
    env: Deployment, store_settings: dict[str, Any]
) -> None:
    first = await env.start_bot(**store_settings)
    approvals = await hires(env, 4)
    for approval_id in approvals:
        await track(env.slack, approval_id)
    env.opentrain.state.confirm(approvals[0])
    await wait_for(lambda: resolved(env.slack, approvals[0]), message="first outcome")
    await first.stop()

    store = await open_store(env, store_settings)
    try:
        cursor = await store.get_cursor()
    finally:
        await store.close()
    assert cursor is not None and int(cursor) > 0
    # While nobody watches: two humans confirm, one request stays pending.
    env.opentrain.state.confirm(approvals[1])
    env.opentrain.state.confirm(approvals[2])
    since = len(env.opentrain.requests)

    second = await env.start_bot(**store_settings)
    for approval_id in approvals[1:3]:
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=f"{approval_id}")
    await second.settle()

    polls = updates_requests(env.opentrain, since)
    assert polls[0]["query"].get("cursor") == cursor  # resumed, not replayed from the start
    for approval_id in approvals[:3]:
        assert len(outcome_replies(env.slack, approval_id)) == 1
        assert "Confirmed" in card_text(env.slack, approval_id)
    assert not outcome_replies(env.slack, approvals[3])
    assert "Review & confirm" in card_text(env.slack, approvals[3])
    assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())


async def test_a_reply_posted_but_not_recorded_is_found_not_posted_again(
    env: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await env.start_bot()
    [approval_id] = await hires(env, 1)
    await track(env.slack, approval_id)
    store = bot.services.store
    reply_id = reply_effect_id(approval_id)
    complete = store.complete_effect
    failed: list[str] = []

    async def fail_once_after_the_post(effect_id: str, result: dict[str, Any] | None) -> None:
        if effect_id == reply_id and not failed:
            failed.append(effect_id)
            raise StoreUnavailable("the store went away right after Slack took the reply")
        await complete(effect_id, result)

    monkeypatch.setattr(store, "complete_effect", fail_once_after_the_post)
    env.opentrain.state.confirm(approval_id)
    await wait_for(lambda: failed and outcome_replies(env.slack, approval_id), message="reply")
    lookups = env.slack.state.api_calls["conversations.replies"]

    env.opentrain.state.advance(10)  # past the retry's backoff
    stored = await wait_for(
        lambda: _done(store, reply_id), message="the retry recorded the reply it found"
    )
    await bot.settle()

    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert stored.result is not None
    assert stored.result["ts"] == outcome_replies(env.slack, approval_id)[0].ts
    assert env.slack.state.api_calls["conversations.replies"] > lookups


async def test_a_bot_killed_mid_post_leaves_one_reply_for_its_successor(env: Deployment) -> None:
    doomed = await env.spawn_bot()
    [approval_id] = await hires(env, 1)
    await track(env.slack, approval_id)
    # Slack records the reply but answers late: the bot dies before it learns the ts.
    env.slack.faults.add(FaultSpec(path="chat.postMessage", late_ms=1_500, count=1))
    env.opentrain.state.confirm(approval_id)
    await wait_for(lambda: outcome_replies(env.slack, approval_id), message="reply in Slack")
    doomed.kill()

    successor = await env.start_bot()
    # What the dead bot had claimed is its until the claim's lease lapses.
    env.opentrain.state.advance(CLAIM_LEASE.total_seconds() + 1)
    reply_id = reply_effect_id(approval_id)
    await wait_for(lambda: _done(successor.services.store, reply_id), message="reply recorded")
    await successor.settle()

    assert resolved(env.slack, approval_id)
    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())


def reply_effect_id(approval_id: str) -> str:
    return effect(approval_id, EffectKind.OUTCOME_REPLY, datetime.now(UTC), key="confirmed").id


async def _done(store: Store, effect_id: str) -> Any:
    stored = await store.get_effect(effect_id)
    return stored if stored is not None and stored.done else None
