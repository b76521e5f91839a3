"""A job's activity in its channel: `/opentrain subscribe`, then OpenTrain's feed events as
notices (new proposals, budgets running low, trainers' messages in a thread per contract)
and replies in that thread sent back to the trainer — each exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.cards import ActionId
from bot.sandbox.opentrain.model import PaymentSource
from bot.sandbox.slack.model import Message
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    CHANNEL,
    Bot,
    buttons_of,
    hire_values,
    mrkdwn_texts,
    rendered,
    start_bot,
)
from tests.support.wait import wait_for

OTHER_CHANNEL = "C0GENERAL"


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox, allowed_requesters="U0ANA")


async def subscribe(bot: Bot, text: str, *, channel: str = CHANNEL) -> str:
    """Run `/opentrain subscribe <text>`; its answer (the one naming the job)."""
    before, job_id = len(bot.private()), text.split()[0]
    await bot.command(f"subscribe {text}", channel=channel)
    answers = await wait_for(
        lambda: [
            shown
            for answer in bot.private()[before:]
            if job_id in (shown := rendered(answer)) and not answer.text.startswith("⏳")
        ],
        message="the answer to subscribe",
    )
    return answers[0]


async def fed(bot: Bot) -> None:
    """Wait until the bot's feed has read every event OpenTrain has recorded so far."""
    last = bot.sandbox.opentrain.state.events[-1].id

    async def caught_up() -> bool:
        cursor = await bot.sandbox.services.store.get_cursor()
        return cursor is not None and int(cursor) >= last

    await wait_for(caught_up, message=f"the feed to read event {last}")


def top_level(bot: Bot, channel: str, text: str) -> list[Message]:
    return [m for m in bot.sandbox.slack.messages(channel) if text in rendered(m)]


async def contract_thread(bot: Bot, contract_id: str) -> Message:
    """The contract's thread, once the bot has posted in it (so it knows the thread)."""
    [parent] = await wait_for(
        lambda: top_level(bot, CHANNEL, contract_id), message="the contract's thread"
    )
    await wait_for(lambda: bot.sandbox.slack.replies(CHANNEL, parent.ts), message="a reply")
    return parent


async def test_a_new_proposal_appears_once_in_the_subscribed_channel(bot: Bot) -> None:
    told = await subscribe(bot, "job_dashcam proposals")
    assert "job_dashcam" in told and "new proposals" in told
    await bot.control("POST", "/_sim/proposals", {"firstName": "Katherine", "bidAmountUsd": 420})
    [notice] = await wait_for(
        lambda: top_level(bot, CHANNEL, "Katherine J."), message="the proposal notice"
    )
    assert "New proposal" in rendered(notice) and "$420.00" in rendered(notice)
    assert buttons_of(notice, ActionId.HIRE_PROPOSAL) and buttons_of(
        notice, ActionId.OPEN_TRANSCRIPT
    )
    await bot.control("POST", "/_sim/proposals", {"firstName": "Dorothy", "bidAmountUsd": 300})
    await wait_for(lambda: top_level(bot, CHANNEL, "Dorothy J."), message="the second notice")
    await fed(bot)
    assert len(top_level(bot, CHANNEL, "Katherine J.")) == 1
    assert top_level(bot, OTHER_CHANNEL, "New proposal") == []


async def test_unsubscribe_stops_notices_and_history_is_not_news(bot: Bot) -> None:
    await bot.control("POST", "/_sim/proposals", {"firstName": "Early", "bidAmountUsd": 100})
    await subscribe(bot, "job_dashcam")
    before = len(bot.private())
    await bot.command("unsubscribe job_dashcam")
    assert "no longer followed" in rendered(await bot.answer(after=before))
    await bot.control("POST", "/_sim/proposals", {"firstName": "Late", "bidAmountUsd": 100})
    await fed(bot)
    await bot.sandbox.services.notifier.drain()
    assert top_level(bot, CHANNEL, "New proposal") == []


async def test_only_admins_subscribe_and_a_refusal_reaches_nothing(bot: Bot) -> None:
    await bot.command("subscribe job_dashcam", user="U0BEN")
    refusal = rendered(await bot.answer(user="U0BEN"))
    assert "admins and owners can subscribe channels to jobs" in refusal
    assert await bot.sandbox.services.activity.subscriptions() == {}
    assert [r for r in await bot.sent() if r["path"].startswith("/jobs/")] == []


async def test_a_job_that_is_not_the_accounts_is_not_subscribed(bot: Bot) -> None:
    told = await subscribe(bot, "job_nope")
    assert "job_nope" in told and "now hears" not in told
    assert await bot.sandbox.services.activity.subscriptions() == {}


async def test_subscriptions_lists_them(bot: Bot) -> None:
    await subscribe(bot, "job_dashcam messages work")
    before = len(bot.private())
    await bot.command("subscriptions")
    shown = rendered(await bot.answer(after=before))
    assert "job_dashcam" in shown and "messages, work" in shown


async def test_a_budget_running_low_is_one_notice_with_add_and_fund(bot: Bot) -> None:
    state = bot.sandbox.opentrain.state
    state.fund_milestone(state.milestones["ms_lidar1"], PaymentSource.CREDITS, 30_000)
    await subscribe(bot, "job_lidar budget")
    await bot.control("POST", "/_sim/contracts/ctr_margaret/usage", {"volume": 10})
    [notice] = await wait_for(
        lambda: top_level(bot, CHANNEL, "Budget running low"), message="the budget notice"
    )
    [button] = buttons_of(notice, ActionId.ADD_MILESTONE)
    assert button["value"] == "ctr_margaret" and "Add &amp; fund" not in rendered(notice)
    await bot.control("POST", "/_sim/contracts/ctr_margaret/usage", {"volume": 0.5})
    await fed(bot)  # still LOW: no new event, no second notice
    assert len(top_level(bot, CHANNEL, "Budget running low")) == 1


async def test_a_trainer_message_is_threaded_literally_and_a_reply_goes_back_once(
    bot: Bot,
) -> None:
    await subscribe(bot, "job_dashcam messages")
    hostile = "<!channel> look at <https://evil.example|this> & <@U0BEN>"
    await bot.control(
        "POST", "/_sim/messages", {"conversationId": "conv_linus", "content": hostile}
    )
    [parent] = await wait_for(
        lambda: top_level(bot, CHANNEL, "ctr_linus"), message="the contract's thread"
    )
    [said] = await wait_for(
        lambda: bot.sandbox.slack.replies(CHANNEL, parent.ts), message="the message"
    )
    assert "Linus T." in rendered(said)
    # Shown as typed, in plain text Slack never parses: it pings and links nobody.
    assert not any("<!channel>" in text or "evil" in text for text in mrkdwn_texts(said.blocks))
    assert hostile in [block["text"]["text"] for block in said.blocks if "text" in block]
    assert "<!channel>" not in said.text  # the notification text is escaped

    await bot.control("POST", "/_sim/messages", {"conversationId": "conv_linus", "content": "2"})
    await wait_for(lambda: len(bot.sandbox.slack.replies(CHANNEL, parent.ts)) == 2)
    assert len(top_level(bot, CHANNEL, "ctr_linus")) == 1  # one thread per contract

    await bot.sandbox.slack.driver.post_user_message(
        user_id="U0ANA", channel_id=CHANNEL, text="Great, *thanks* &lt;3", thread_ts=parent.ts
    )
    sent = await wait_for(lambda: _sent_messages(bot), message="the reply sent to OpenTrain")
    await fed(bot)  # OpenTrain's event for our own message is not echoed into the thread
    assert [s["body"] for s in await _sent_messages(bot)] == [s["body"] for s in sent]
    [reply] = sent
    assert json.loads(reply["body"]) == {
        "conversationId": "conv_linus",
        "content": "Great, *thanks* <3",
    }
    replies = bot.sandbox.slack.replies(CHANNEL, parent.ts)
    assert len(replies) == 3  # + the reply itself, marked as passed on
    bot_user = bot.sandbox.slack.state.bot_user_id
    await wait_for(lambda: replies[-1].reactions == {"white_check_mark": [bot_user]})


async def test_a_reply_by_someone_who_may_not_request_reaches_nothing(bot: Bot) -> None:
    await subscribe(bot, "job_dashcam messages")
    await bot.control("POST", "/_sim/messages", {"conversationId": "conv_linus", "content": "hi"})
    parent = await contract_thread(bot, "ctr_linus")
    await bot.sandbox.slack.driver.post_user_message(
        user_id="U0BEN", channel_id=CHANNEL, text="hello from Ben", thread_ts=parent.ts
    )
    refusal = rendered(await bot.answer(user="U0BEN"))
    assert "U0ANA" in refusal
    assert await _sent_messages(bot) == []


async def test_a_refused_reply_is_explained_in_the_thread(bot: Bot) -> None:
    await subscribe(bot, "job_dashcam messages")
    await bot.control("POST", "/_sim/messages", {"conversationId": "conv_linus", "content": "hi"})
    parent = await contract_thread(bot, "ctr_linus")
    await bot.sandbox.slack.driver.post_user_message(
        user_id="U0ANA", channel_id=CHANNEL, text="mail me at ana@example.com", thread_ts=parent.ts
    )
    explained = await wait_for(
        lambda: [
            m
            for m in bot.sandbox.slack.replies(CHANNEL, parent.ts)
            if "messaging policy" in rendered(m)
        ],
        message="the refusal in the thread",
    )
    assert len(explained) == 1


async def test_a_message_in_a_job_nobody_follows_is_not_read(bot: Bot) -> None:
    await subscribe(bot, "job_dashcam messages")
    await bot.control(
        "POST", "/_sim/messages", {"conversationId": "conv_margaret", "content": "hello"}
    )
    await fed(bot)
    await bot.sandbox.services.notifier.drain()
    assert top_level(bot, CHANNEL, "ctr_margaret") == []
    assert [r for r in await bot.sent() if r["path"] == "/messages"] == []


async def _sent_messages(bot: Bot) -> list[dict[str, Any]]:
    return [r for r in await bot.writes() if r["path"] == "/messages"]


async def test_a_hire_made_here_threads_its_contract_under_the_hire_card(bot: Bot) -> None:
    await subscribe(bot, "job_dashcam messages")
    view = await bot.modal("hire prop_ada 450 Batch 1")
    await bot.submit(view, hire_values(name="Batch 1", amount="450"))
    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)
    bot.sandbox.opentrain.state.confirm(approval.id)
    contract_id = await wait_for(
        lambda: bot.sandbox.opentrain.state.approvals[approval.id].contract_id
    )
    summary = await wait_for(
        lambda: [
            m for m in bot.sandbox.slack.replies(CHANNEL, card.ts) if contract_id in rendered(m)
        ],
        message="the contract's summary under the hire card",
    )
    assert len(summary) == 1
    conversation = bot.sandbox.opentrain.state.contracts[contract_id].conversation_id
    await bot.control(
        "POST", "/_sim/messages", {"conversationId": conversation, "content": "Starting today"}
    )
    await wait_for(
        lambda: [
            m
            for m in bot.sandbox.slack.replies(CHANNEL, card.ts)
            if "Starting today" in rendered(m)
        ],
        message="the trainer's message under the hire card",
    )
    assert [m.ts for m in top_level(bot, CHANNEL, contract_id)] == [card.ts]  # no second thread


async def test_an_event_that_keeps_failing_does_not_hold_up_the_feed(bot: Bot) -> None:
    await subscribe(bot, "job_dashcam proposals")
    await bot.fault(path="/proposals/*", method="GET", status=500)
    await bot.control("POST", "/_sim/proposals", {"firstName": "Stuck", "bidAmountUsd": 100})
    await fed(bot)  # skipped after a few tries: the cursor moves past it
    reads = [r for r in await bot.sent() if r["path"].startswith("/proposals/")]
    assert reads and top_level(bot, CHANNEL, "Stuck J.") == []


async def test_submitted_work_is_one_notice_in_the_contract_thread_and_releases_the_payout(
    bot: Bot,
) -> None:
    await subscribe(bot, "job_dashcam work")
    await bot.control("POST", "/_sim/milestones/ms_batch1/submit")
    [parent] = await wait_for(
        lambda: top_level(bot, CHANNEL, "ctr_linus"), message="the contract's thread"
    )
    [notice] = await wait_for(
        lambda: [
            m for m in bot.sandbox.slack.replies(CHANNEL, parent.ts) if "submitted work" in m.text
        ],
        message="the work notice",
    )
    await fed(bot)  # milestone.status_changed and payment.pending: one notice between them
    assert len(bot.sandbox.slack.replies(CHANNEL, parent.ts)) == 1
    [release] = buttons_of(notice, ActionId.REQUEST_PAYOUT)
    assert release["value"] == "ms_batch1" and release["text"]["text"] == "Release payout"
    await bot.click(notice, ActionId.REQUEST_PAYOUT, value="ms_batch1")
    [approval] = await wait_for(
        lambda: [a for a in bot.approvals() if a.milestone_id == "ms_batch1"], message="payout"
    )
    await bot.card_for(approval.id)


async def test_a_job_followed_elsewhere_gets_its_own_thread_linked_from_the_hire_card(
    bot: Bot,
) -> None:
    view = await bot.modal("hire prop_ada 450 Batch 1")
    await bot.submit(view, hire_values(name="Batch 1", amount="450"))
    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)
    await subscribe(bot, "job_dashcam messages", channel=OTHER_CHANNEL)
    bot.sandbox.opentrain.state.confirm(approval.id)
    contract_id = await wait_for(
        lambda: bot.sandbox.opentrain.state.approvals[approval.id].contract_id
    )
    conversation = bot.sandbox.opentrain.state.contracts[contract_id].conversation_id
    await bot.control("POST", "/_sim/messages", {"conversationId": conversation, "content": "Hi"})
    [parent] = await wait_for(
        lambda: top_level(bot, OTHER_CHANNEL, contract_id), message="the thread elsewhere"
    )
    await wait_for(lambda: bot.sandbox.slack.replies(OTHER_CHANNEL, parent.ts), message="Hi")
    [link] = await wait_for(
        lambda: [
            m
            for m in bot.sandbox.slack.replies(CHANNEL, card.ts)
            if f"<#{OTHER_CHANNEL}>" in rendered(m)
        ],
        message="the link under the hire card",
    )
    assert "continue in" in rendered(link)


async def test_news_of_jobs_nobody_follows_costs_no_reads(bot: Bot) -> None:
    state = bot.sandbox.opentrain.state
    state.fund_milestone(state.milestones["ms_lidar1"], PaymentSource.CREDITS, 30_000)
    await bot.control("POST", "/_sim/contracts/ctr_margaret/usage", {"volume": 12})
    await bot.control("POST", "/_sim/milestones/ms_batch1/submit")
    await bot.control("POST", "/_sim/proposals", {"firstName": "Nobody", "bidAmountUsd": 100})
    await fed(bot)
    assert await bot.sent() == []  # no proposal, contract or message read


async def test_from_a_new_proposal_to_a_released_payout_without_typing_an_id(
    make_sandbox: SandboxFactory,
) -> None:
    """The sandbox's lifecycle from the channel (the demo job followed from the start): every
    id comes from a button, none from a person."""
    bot = await start_bot(make_sandbox, follow_demo_job=True)
    sim = bot.sandbox.opentrain.state
    await bot.control("POST", "/_sim/proposals", {"firstName": "Mary", "bidAmountUsd": 300})
    [notice] = await wait_for(lambda: top_level(bot, CHANNEL, "Mary J."), message="proposal")
    [hire] = buttons_of(notice, ActionId.HIRE_PROPOSAL)
    seen = {v.id for v in bot.sandbox.slack.state.open_views()}
    await bot.click(notice, ActionId.HIRE_PROPOSAL, value=hire["value"])
    [form] = await wait_for(
        lambda: [v for v in bot.sandbox.slack.state.open_views() if v.id not in seen],
        message="the hire form",
    )
    await bot.submit(form, hire_values(name="First batch", amount="300"))
    [hiring] = await wait_for(
        lambda: [a for a in bot.approvals() if a.status == "pending"], message="the hire request"
    )
    card = await bot.card_for(hiring.id)
    sim.confirm(hiring.id)  # the human, in OpenTrain

    contract = sim.contracts[await wait_for(lambda: sim.approvals[hiring.id].contract_id)]

    def in_thread(text: str) -> list[Message]:
        return [m for m in bot.sandbox.slack.replies(CHANNEL, card.ts) if text in rendered(m)]

    await wait_for(lambda: in_thread(contract.id), message="the contract under its hire card")
    await bot.control(
        "POST",
        "/_sim/messages",
        {"conversationId": contract.conversation_id, "content": "Which tool should I use?"},
    )
    await wait_for(lambda: in_thread("Which tool"), message="the trainer's question")
    await bot.sandbox.slack.driver.post_user_message(
        user_id="U0ANA", channel_id=CHANNEL, text="CVAT, please.", thread_ts=card.ts
    )
    await wait_for(lambda: _sent_messages(bot), message="the answer sent to the trainer")

    [milestone] = sim.milestones_of(contract)  # funded by the hire
    await bot.control("POST", f"/_sim/milestones/{milestone.id}/submit")
    [work] = await wait_for(lambda: in_thread("submitted work"), message="the work notice")
    [release] = buttons_of(work, ActionId.REQUEST_PAYOUT)
    await bot.click(work, ActionId.REQUEST_PAYOUT, value=release["value"])
    [payout] = await wait_for(
        lambda: [a for a in bot.approvals() if a.milestone_id == milestone.id],
        message="the payout request",
    )
    await bot.card_for(payout.id)
    sim.confirm(payout.id)
    await wait_for(
        lambda: "Confirmed" in rendered(bot.card(payout.id) or card), message="the payout"
    )
    typed = [
        request
        for request in await bot.writes()
        if any(ident in request["path"] for ident in (milestone.id, contract.id))
    ]
    assert [r["path"] for r in typed] == [f"/milestones/{milestone.id}/approve"]
    deliveries = bot.sandbox.slack.state.deliveries
    assert [d.kind for d in deliveries if d.kind == "command"] == []  # buttons only
