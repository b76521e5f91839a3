"""The notifier against the Slack simulator and a real store, on a clock that moves when told."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Set
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.views import View

from bot import cards
from bot.approver_lists import Expected
from bot.cards.ids import REQUESTER_DM_EVENT_TYPE
from bot.channels import Channels
from bot.clock import FixedClock
from bot.config import Settings
from bot.deliveries import CLAIM_LEASE, Deliveries
from bot.lanes import LEASE_MARGIN
from bot.notifier import Notifier
from bot.opentrain.models import ApprovalType
from bot.outbox import Effect, EffectKind, effect, outcome_effects
from bot.sandbox.faults import FaultSpec
from bot.sandbox.slack import SlackSim
from bot.slack_gateway import open_gateway
from bot.store import SqliteStore, Store
from bot.tracked_approvals import Callback, Requester, TrackedApproval, TrackedStatus
from tests.support.slack_sim import MakeSlackSim
from tests.support.wait import wait_for

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOST = "app.opentrain.test"
CHANNEL = "C0HIRING"
OTHER_CHANNEL = "C0GENERAL"
USER = "U0ANA"


class Harness:
    def __init__(self, slack: SlackSim, store: Store, *, with_home: bool = False) -> None:
        self.slack = slack
        self.store = store
        self.clock = FixedClock(T0)
        self.failing_channel: str | None = None
        self.lookup_takes = timedelta(0)  # how long each delivery "takes" on the clock
        self.home_listings = 0
        self.gateway = open_gateway(
            Settings(
                slack_bot_token=slack.bot_token,
                slack_api_url=slack.api_url,
                slack_rate_limit_scale=1000,
            )
        )
        self.notifier = Notifier(
            store=store,
            gateway=self.gateway,
            deliveries=Deliveries(
                store=store,
                gateway=self.gateway,
                channels=Channels(self.gateway.calls),
                clock=self.clock,
                opentrain_host=HOST,
                approvers=self.approvers,
                home_views=self.home_views if with_home else None,
            ),
            clock=self.clock,
            owner="test",
            callbacks=self.callbacks,
        )
        self.callbacks_sent: list[str] = []
        self.receiver_answers = asyncio.Event()  # set: the agent's receiver answers at once
        self.receiver_answers.set()

    async def callbacks(self, item: Effect) -> None:
        """bot/callbacks.py's part, played here: a receiver that answers when told to."""
        self.callbacks_sent.append(item.id)
        await self.receiver_answers.wait()
        await self.store.complete_effect(item.id, {"delivered": True})

    async def approvers(self, approval: TrackedApproval) -> Expected:
        """The card's approvers lookup: also the hook tests use to act mid-delivery."""
        self.clock.advance(self.lookup_takes)
        if approval.channel_id == self.failing_channel:
            raise RuntimeError("a bug in one lane")
        return Expected(configured=[], requester_alone=False)

    async def home_views(
        self, approval: TrackedApproval, up_to_date: Set[str]
    ) -> list[tuple[str, View]]:
        """A Home tab for the requester naming every approval that ended, as `Home` would."""
        if approval.requester.id in up_to_date:
            return []
        self.home_listings += 1
        ended = [a.approval_id for a in await self.store.list_approvals() if a.status.is_terminal]
        text = "Ended: " + ", ".join(sorted(ended))
        return [(approval.requester.id, View(type="home", blocks=[SectionBlock(text=text)]))]

    def home_tab(self) -> str:
        view = self.slack.state.home_view(USER)
        assert view is not None, "no Home tab published"
        return str(view.content["blocks"])

    async def adopt(
        self, approval_id: str, channel: str = CHANNEL, callback: Callback | None = None
    ) -> TrackedApproval:
        tracked = TrackedApproval(
            approval_id=approval_id,
            type=ApprovalType.MILESTONE_FUND,
            approval_url=f"https://{HOST}/approvals/{approval_id}",
            expires_at=T0 + timedelta(days=3),
            requester=Requester(kind="slack", id=USER),
            channel_id=channel,
            callback=callback,
            next_check_at=T0 + timedelta(days=3),
            adopted_at=T0,
        )
        await self.store.add_approval(tracked, [card_effect(approval_id)])
        return tracked

    async def resolve(self, approval_id: str, status: TrackedStatus) -> TrackedApproval:
        current = await self.store.get_approval(approval_id)
        assert current is not None
        resolved = current.evolve(status=status, resolved_at=self.clock.now())
        effects = outcome_effects(resolved, self.clock.now())
        assert await self.store.transition(approval_id, TrackedStatus.PENDING, resolved, effects)
        return resolved

    async def effect(self, effect_id: str) -> Effect:
        stored = await self.store.get_effect(effect_id)
        assert stored is not None
        return stored

    def cards(self, channel: str = CHANNEL) -> list[str]:
        return [m.ts for m in self.slack.messages(channel)]


def card_effect(approval_id: str) -> Effect:
    return effect(approval_id, EffectKind.POST_CARD, T0)


def outcome_id(approval_id: str, kind: EffectKind, status: str = "confirmed") -> str:
    return effect(approval_id, kind, T0, key=status).id


@pytest.fixture
async def harness(make_slack_sim: MakeSlackSim, tmp_path: Path) -> AsyncIterator[Harness]:
    slack = await make_slack_sim()
    store = await SqliteStore.open(tmp_path / "bot.db")
    yield Harness(slack, store)
    await store.close()


@pytest.fixture
async def home_harness(make_slack_sim: MakeSlackSim, tmp_path: Path) -> AsyncIterator[Harness]:
    slack = await make_slack_sim()
    store = await SqliteStore.open(tmp_path / "bot.db")
    yield Harness(slack, store, with_home=True)
    await store.close()


async def test_a_card_and_its_outcome_land_once_with_their_ts_recorded(harness: Harness) -> None:
    await harness.adopt("apr_1")
    await harness.notifier.drain()
    [card_ts] = harness.cards()
    stored = await harness.store.get_approval("apr_1")
    assert stored is not None and stored.card_ts == card_ts

    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    await harness.notifier.drain()
    await harness.notifier.drain()

    replies = harness.slack.replies(CHANNEL, card_ts)
    assert len(replies) == 1
    reply = await harness.effect(outcome_id("apr_1", EffectKind.OUTCOME_REPLY))
    assert reply.done and reply.result == {"channel": CHANNEL, "ts": replies[0].ts}
    assert harness.cards() == [card_ts]
    assert harness.notifier._landed == {}  # nothing kept for effects nobody waited for


async def test_a_callback_has_a_lane_of_its_own_and_never_holds_up_slack(
    harness: Harness,
) -> None:
    hook = Callback(url="https://agent.example/hook", agent="planner")
    await harness.adopt("apr_1", callback=hook)
    await harness.notifier.drain()
    [card_ts] = harness.cards()
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    harness.receiver_answers.clear()  # the agent's receiver hangs

    drain = asyncio.create_task(harness.notifier.drain())
    callback_id = outcome_id("apr_1", EffectKind.CALLBACK)
    # The thread reply goes out while the callback is still waiting for its receiver.
    await wait_for(lambda: harness.slack.replies(CHANNEL, card_ts), message="the outcome reply")
    assert harness.callbacks_sent == [callback_id]
    assert not drain.done()
    harness.receiver_answers.set()
    await drain

    sent = await harness.effect(callback_id)
    assert sent.done and sent.payload["host"] == "agent.example"
    assert await harness.store.count_effects(done=False) == 0


async def test_an_approval_without_a_callback_queues_none(harness: Harness) -> None:
    await harness.adopt("apr_1")
    resolved = await harness.resolve("apr_1", TrackedStatus.DECLINED)
    kinds = {item.kind for item in outcome_effects(resolved, T0)}
    assert EffectKind.CALLBACK not in kinds
    await harness.notifier.drain()
    assert harness.callbacks_sent == []


async def test_a_lane_starts_nothing_once_its_lease_is_about_to_lapse(harness: Harness) -> None:
    await harness.adopt("apr_1")
    await harness.adopt("apr_2")
    harness.lookup_takes = CLAIM_LEASE - LEASE_MARGIN  # the first delivery takes that long
    await harness.notifier.drain()
    assert len(harness.cards()) == 1
    second = await harness.effect(card_effect("apr_2").id)
    assert not second.done and second.attempts == 0

    harness.lookup_takes = timedelta(0)
    harness.clock.advance(LEASE_MARGIN)  # the claim lapsed: anyone may take it now
    await harness.notifier.drain()
    assert len(harness.cards()) == 2


async def test_waiting_for_a_card_another_process_is_posting_costs_no_attempt(
    harness: Harness,
) -> None:
    await harness.adopt("apr_1")
    # Another process claimed the card; the outcome arrives before it is posted.
    await harness.store.claim_effects(T0, "other", limit=1, lease=CLAIM_LEASE)
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)

    await harness.notifier.drain()

    update = await harness.effect(outcome_id("apr_1", EffectKind.UPDATE_CARD))
    assert not update.done and update.attempts == 0
    assert update.last_error == "waiting for the card"
    assert harness.cards() == []


async def test_an_outcome_whose_card_never_posted_goes_to_the_requester_once(
    harness: Harness,
) -> None:
    harness.slack.state.channels[CHANNEL].is_archived = True
    await harness.adopt("apr_1")
    await harness.notifier.drain()
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    await harness.notifier.drain()

    dms = [
        m
        for m in harness.slack.dms(USER)
        if (m.metadata or {}).get("event_type") == REQUESTER_DM_EVENT_TYPE
    ]
    assert len(dms) == 2  # the pending card, then its outcome
    assert "Confirmed" in str(dms[1].blocks)
    assert await harness.store.count_effects(done=False) == 0
    failed = [e for e in await harness.store.read_audit() if e.action == "effect_failed"]
    assert {e.details["error"] for e in failed} == {"is_archived"}


async def test_a_429_is_waited_out_in_the_lane_without_spending_an_attempt(
    harness: Harness,
) -> None:
    harness.slack.faults.add(FaultSpec(path="chat.postMessage", status=429, retry_after=1, count=1))
    await harness.adopt("apr_1")

    await harness.notifier.drain()

    assert len(harness.cards()) == 1
    assert harness.slack.state.rate_limited == 1
    card = await harness.effect(card_effect("apr_1").id)
    assert card.done and card.attempts == 0


async def test_a_bug_in_one_lane_is_retried_later_and_spares_the_others(
    harness: Harness,
) -> None:
    harness.failing_channel = CHANNEL
    await harness.adopt("apr_1", CHANNEL)
    await harness.adopt("apr_2", OTHER_CHANNEL)

    await harness.notifier.drain()

    assert len(harness.cards(OTHER_CHANNEL)) == 1
    broken = await harness.effect(card_effect("apr_1").id)
    assert not broken.done and broken.attempts == 1
    assert broken.last_error == "unexpected: RuntimeError"
    assert broken.due_at > harness.clock.now()

    harness.failing_channel = None
    harness.clock.advance(timedelta(minutes=10))
    await harness.notifier.drain()
    assert len(harness.cards(CHANNEL)) == 1


async def test_a_slack_call_that_times_out_is_retried_with_backoff(harness: Harness) -> None:
    harness.gateway.posts.timeout = 1  # CALL_TIMEOUT_SECONDS, shortened
    harness.slack.faults.add(FaultSpec(path="chat.postMessage", latency_ms=3_000, count=1))
    await harness.adopt("apr_1")

    await harness.notifier.drain()

    card = await harness.effect(card_effect("apr_1").id)
    assert not card.done and card.attempts == 1
    # aiohttp names the timeout after the phase it hit (TimeoutError, ServerTimeoutError, …).
    assert card.last_error is not None and card.last_error.startswith("network: ")
    assert card.due_at == harness.clock.now() + timedelta(seconds=2)
    harness.clock.advance(timedelta(seconds=2))
    await harness.notifier.drain()
    assert (await harness.effect(card_effect("apr_1").id)).done


async def test_a_burst_of_outcomes_republishes_a_home_tab_once_showing_them_all(
    home_harness: Harness,
) -> None:
    harness = home_harness
    for approval_id in ("apr_1", "apr_2", "apr_3"):
        await harness.adopt(approval_id)
    await harness.notifier.drain()
    for approval_id in ("apr_1", "apr_2", "apr_3"):
        await harness.resolve(approval_id, TrackedStatus.CONFIRMED)

    await harness.notifier.drain()

    # Claimed together: the first refresh's tab, listed after the claim, shows all three.
    assert harness.slack.state.api_calls["views.publish"] == 1
    assert harness.home_listings == 1
    assert all(approval_id in harness.home_tab() for approval_id in ("apr_1", "apr_2", "apr_3"))
    results = [
        (await harness.effect(outcome_id(a, EffectKind.REFRESH_HOME))).result
        for a in ("apr_1", "apr_2", "apr_3")
    ]
    assert sorted(len(r["published"]) for r in results if r) == [0, 0, 1]


async def test_an_outcome_claimed_after_the_last_home_tab_republishes_it(
    home_harness: Harness,
) -> None:
    harness = home_harness
    for approval_id in ("apr_1", "apr_2"):
        await harness.adopt(approval_id)
    await harness.notifier.drain()
    await harness.resolve("apr_1", TrackedStatus.CONFIRMED)
    await harness.notifier.drain()
    assert "apr_2" not in harness.home_tab()

    await harness.resolve("apr_2", TrackedStatus.DECLINED)
    await harness.notifier.drain()

    assert harness.slack.state.api_calls["views.publish"] == 2
    assert "apr_1" in harness.home_tab() and "apr_2" in harness.home_tab()


async def test_a_message_for_someone_slack_cannot_reach_is_audited_not_an_error(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A receipt for a Slack Connect user the workspace does not know (`user_not_found`):
    not our failure — audited and logged at INFO, never retried or logged as an ERROR."""
    message = cards.SlackMessage(text="Your request is on its way", blocks=[])
    effect_id = await harness.notifier.queue_message(
        "ephemeral:test", message, user="W0EXTERNAL", key="receipt"
    )
    with caplog.at_level(logging.INFO, logger="bot"):
        await harness.notifier.drain()
    stored = await harness.effect(effect_id)
    assert stored.done and stored.result == {"error": "user_not_found"}
    audit = [e for e in await harness.store.read_audit() if e.action == "effect_undeliverable"]
    assert [e.details["error"] for e in audit] == ["user_not_found"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_home_tab_for_a_user_the_workspace_does_not_know_is_skipped(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    view = View(type="home", blocks=[SectionBlock(text="Pending: nothing")])
    with caplog.at_level(logging.INFO, logger="bot"):
        await harness.notifier.publish_home("W0EXTERNAL", view)  # views.publish: invalid_arguments
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert any("home tab not published" in r.getMessage() for r in caplog.records)
