"""Bad input, hostile and maximal input, slow OpenTrain, retries and unexpected failures."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.cards import ActionId, BlockId
from bot.explain import UNEXPECTED
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    PROGRESS,
    USER,
    Bot,
    buttons,
    hire_values,
    milestone_values,
    mrkdwn_texts,
    rendered,
    start_bot,
)
from tests.support.wait import wait_for

HOSTILE = "<!channel> <@U0BEN> <https://evil.example|click> &amp; <#C0GENERAL>"
RAW_MARKUP = ("<!channel>", "<@U0BEN>", "<https://evil", "<#C0GENERAL>")


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


# --- bad input: say what to type, send nothing -------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem", "usage"),
    [
        ("hrie prop_ada", "“hrie” is not an /opentrain command", "/opentrain help"),
        ("fund", "`fund` needs a milestone id", "/opentrain fund &lt;milestoneId&gt;"),
        ("fund ms/../x", "is not a valid milestone id", "/opentrain fund"),
        ("payout ms_1 ms_2", "`payout` takes exactly one milestone id", "/opentrain payout"),
        ("end", "`end` needs a contract id", "/opentrain end"),
        ("contract", "`contract` needs a contract id", "/opentrain contract"),
        ("milestone c#1", "is not a valid contract id", "/opentrain milestone"),
        ("hire", "`hire` needs a proposal id", "/opentrain hire"),
        ("hire prop_ada 0", "the amount must be more than $0", "/opentrain hire"),
        ("hire prop_ada -25", "the amount must be more than $0", "/opentrain hire"),
        ("hire prop_ada 10.505", "at most two decimals", "/opentrain hire"),
        ("hire prop_ada 100000000", "at most $100,000.00", "/opentrain hire"),
        (f"hire prop_ada 10 {'x' * 201}", "the limit is 200", "/opentrain hire"),
        ("track https://evil.example/approvals/a1", "not an OpenTrain approval link", "track"),
        ("contracts open", "takes `active`, `ended` or nothing", "/opentrain contracts"),
        ("status now", "`status` takes no arguments", "/opentrain status"),
    ],
)
async def test_bad_input_says_what_to_type_and_sends_nothing(
    bot: Bot, text: str, problem: str, usage: str
) -> None:
    delivery = await bot.command(text)
    assert delivery.ok and delivery.elapsed_ms < 2000
    [reply] = bot.private()
    assert problem in reply.text.replace("&lt;", "<").replace("&gt;", ">")
    assert "Type: `" in reply.text and usage in reply.text
    assert not bot.sandbox.slack.state.open_views()
    assert await bot.sent() == []
    assert bot.cards() == []


@pytest.mark.parametrize(
    ("values", "block", "words"),
    [
        (hire_values(amount="0"), BlockId.HIRE_AMOUNT, "more than $0"),
        (hire_values(amount="12.345"), BlockId.HIRE_AMOUNT, "at most two decimals"),
        (hire_values(amount="250000"), BlockId.HIRE_AMOUNT, "at most $100,000.00"),
        (hire_values(amount="lots"), BlockId.HIRE_AMOUNT, "is not an amount"),
        (hire_values(due="2020-01-01"), BlockId.HIRE_DUE_DATE, "in the past"),
    ],
)
async def test_bad_hire_modal_values_are_shown_under_the_input(
    bot: Bot, values: dict[str, Any], block: BlockId, words: str
) -> None:
    view = await bot.modal("hire prop_ada")
    submitted = await bot.submit(view, values)
    assert submitted.ok and submitted.response_action == "errors"
    assert not submitted.rejected  # Slack accepted the errors answer
    assert view.errors is not None and words in view.errors[block.value]
    assert not view.closed
    # Opening the form read the proposal (to name the freelancer); the bad values sent nothing.
    assert [r["path"] for r in await bot.sent()] == ["/proposals/prop_ada"]
    assert bot.approvals() == []


@pytest.mark.parametrize(
    "metadata",
    ["not json", "[1, 2]", '{"channelId": "C0HIRING"}'],
    ids=["not-json", "not-an-object", "no-proposal"],
)
async def test_a_form_the_bot_cannot_read_is_refused_in_words(
    bot: Bot, metadata: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A modal from an older bot, or tampered: its `private_metadata` is not what we wrote."""
    view = await bot.modal("hire prop_ada")
    view.content["private_metadata"] = metadata
    with caplog.at_level(logging.INFO):
        submitted = await bot.submit(view, hire_values())
        assert submitted.ok and submitted.response_action is None  # the modal closed
        told = await wait_for(
            lambda: [m for m in bot.sandbox.slack.dms(USER) if "could not be read" in m.text],
            message="the person told",
        )
    assert "Start again with `/opentrain`" in told[0].text
    assert await bot.writes() == [] and bot.approvals() == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_receipt_that_cannot_be_delivered_does_not_fail_the_hire(
    bot: Bot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The person cannot get the receipt (a Slack Connect user, the store gone mid-way):
    the hire still stands — one request, one card, no error told or logged."""
    notifier = bot.sandbox.services.notifier

    async def unreachable(*_: Any, **__: Any) -> None:
        raise RuntimeError("the receipt cannot be delivered")

    monkeypatch.setattr(notifier, "ephemeral", unreachable)
    view = await bot.modal("hire prop_ada")
    with caplog.at_level(logging.INFO):
        assert (await bot.submit(view, hire_values())).ok
        [approval] = await wait_for(bot.approvals, message="the hire request")
        await bot.card_for(approval.id)
        await wait_for(
            lambda: any("receipt not delivered" in r.getMessage() for r in caplog.records),
            message="the undelivered receipt logged",
        )
    assert len([r for r in await bot.writes() if r["path"].endswith("/hire")]) == 1
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_bad_milestone_modal_values_are_shown_under_the_input(bot: Bot) -> None:
    view = await bot.modal("milestone ctr_linus")
    submitted = await bot.submit(view, milestone_values(amount="-3"))
    assert submitted.response_action == "errors"
    assert view.errors == {BlockId.MILESTONE_AMOUNT.value: "The amount must be more than $0."}
    assert await bot.sent() == []


# --- hostile and maximal input -------------------------------------------------------------


def assert_inert(blocks: list[dict[str, Any]], text: str) -> None:
    """No mention, channel or link markup survives where Slack would parse it."""
    for markup in RAW_MARKUP:
        assert markup not in text, markup
        for mrkdwn in mrkdwn_texts(blocks):
            assert markup not in mrkdwn, mrkdwn


async def test_hostile_milestone_names_are_escaped_on_the_card(bot: Bot) -> None:
    view = await bot.modal("hire prop_ada")
    await bot.submit(view, hire_values(name=HOSTILE, description=HOSTILE))
    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)
    assert_inert(card.blocks, card.text)
    # Shown as typed: literally in plain_text (never parsed), escaped in the fallback text.
    [header] = [b for b in card.blocks if b["type"] == "header"]
    assert header["text"] == {
        "type": "plain_text",
        "text": f"Hire Ada L. — {HOSTILE}",
        "emoji": True,
    }
    assert "&lt;!channel&gt; &lt;@U0BEN&gt;" in card.text
    receipt = await bot.answer()
    assert_inert(receipt.blocks, receipt.text)


async def test_hostile_names_through_the_milestone_flow(bot: Bot) -> None:
    view = await bot.modal("milestone ctr_linus")
    await bot.submit(view, milestone_values(name=HOSTILE, description=HOSTILE))
    reply = await bot.answer()
    assert_inert(reply.blocks, reply.text)
    await bot.click(reply, ActionId.FUND_MILESTONE)
    [approval] = await wait_for(bot.approvals, message="fund approval")
    card = await bot.card_for(approval.id)
    assert_inert(card.blocks, card.text)


async def test_cards_stay_valid_block_kit_for_maximal_inputs(bot: Bot) -> None:
    # Emoji count twice against Slack's limits (UTF-16), the harshest case.
    name = "🚀" * 200
    description = ("Long description with <markup> & 🧪 " * 100)[:3000]
    await bot.control("PATCH", "/_sim/account", {"paymentMethodOnFile": True})
    view = await bot.modal("hire prop_ada")
    await bot.submit(view, hire_values(name=name, description=description, amount="100000"))
    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)  # the Slack simulator refuses invalid_blocks
    assert "$100,000.00" in rendered(card) and "$110,009.95" in rendered(card)

    milestone = await bot.modal("milestone ctr_linus")
    await bot.submit(
        milestone, milestone_values(name=name, description=description, amount="100000")
    )
    reply = await wait_for(
        lambda: next((e for e in bot.private() if "Milestone created" in e.text), None),
        message="milestone reply",
    )
    assert ActionId.FUND_MILESTONE.value in buttons(reply)


# --- timing: ack first, work after ------------------------------------------------------------


async def test_the_ack_arrives_before_a_slow_opentrain_and_the_card_lands_after(
    bot: Bot,
) -> None:
    await bot.fault(method="POST", latencyMs=5000)
    view = await bot.modal("hire prop_ada")
    command, submission = await asyncio.gather(
        bot.command("fund ms_batch2"), bot.submit(view, hire_values())
    )
    for delivery in (command, submission):
        assert delivery.status == 200 and not delivery.timed_out
        assert delivery.elapsed_ms < 2000
    assert PROGRESS not in rendered(command)  # the note comes once OpenTrain is slow
    assert bot.cards() == []
    await wait_for(
        lambda: any("Asking OpenTrain to fund" in e.text for e in bot.private()),
        message="the fund's progress note",
    )

    approvals = await wait_for(
        lambda: len(bot.approvals()) == 2 and bot.approvals(), timeout=15, message="approvals"
    )
    for approval in approvals:
        await bot.card_for(approval.id, timeout=10)

    def hire_receipt_after_its_note() -> bool:
        texts = [e.text for e in bot.private()]
        note = next(i for i, t in enumerate(texts) if "Asking OpenTrain to hire" in t)
        return any("Approval card posted" in t for t in texts[note + 1 :])

    # The slow hire said it was working before its receipt arrived.
    await wait_for(hire_receipt_after_its_note, message="the hire's receipt after its note")
    texts = [e.text for e in bot.private()]
    # The command's note was replaced by its receipt.
    assert not any("Asking OpenTrain to fund" in t for t in texts)


async def test_a_hire_retried_after_a_timeout_keeps_its_terms(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, ot_timeout_seconds=0.5)
    # OpenTrain does the work but answers after the bot gave up; the bot retries.
    await bot.fault(path="/proposals/prop_ada/hire", lateMs=1000, count=1)
    view = await bot.modal("hire prop_ada")
    await bot.submit(view, hire_values(due="2030-07-01"))
    receipt = await bot.answer(timeout=15)
    assert "Approval card posted" in receipt.text

    [approval] = bot.approvals(proposal_id="prop_ada")  # one approval, not superseded
    assert approval.status == "pending" and approval.superseded_by is None
    sent = [r["body"] for r in await bot.writes() if r["path"] == "/proposals/prop_ada/hire"]
    assert len(sent) == 2 and sent[0] == sent[1]
    assert len(bot.cards()) == 1


async def test_asking_again_after_a_timeout_returns_the_same_request(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox, ot_timeout_seconds=0.3)
    await bot.fault(path="/proposals/prop_ada/hire", lateMs=600, count=4)
    view = await bot.modal("hire prop_ada")
    await bot.submit(view, hire_values())
    gave_up = await bot.answer(timeout=15)
    assert "did not answer in time" in gave_up.text and bot.cards() == []

    seen = len(bot.private())
    again = await bot.modal("hire prop_ada")
    await bot.submit(again, hire_values())
    assert "Approval card posted" in (await bot.answer(after=seen)).text
    [approval] = bot.approvals(proposal_id="prop_ada")
    assert approval.status == "pending" and approval.superseded_by is None
    bodies = {r["body"] for r in await bot.writes() if r["path"] == "/proposals/prop_ada/hire"}
    assert len(bodies) == 1


# --- unexpected failures: one generic sentence, never a stack trace ----------------------------


async def test_an_unexpected_failure_gets_the_generic_reply(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom in /srv/bot/internal.py with xoxb-sandbox")

    services = bot.sandbox.services
    monkeypatch.setattr(services.opentrain, "list_contracts", broken)
    monkeypatch.setattr(services.cosign, "hire", broken)
    monkeypatch.setattr(services.cosign, "fund", broken)

    await bot.command("contracts")
    view = await bot.modal("hire prop_ada")
    await bot.submit(view, hire_values())
    milestone = await bot.modal("milestone ctr_linus")
    await bot.submit(milestone, milestone_values())
    created = await wait_for(
        lambda: next((e for e in bot.private() if "Milestone created" in e.text), None),
        message="milestone reply",
    )
    await bot.click(created, ActionId.FUND_MILESTONE)

    generic = await wait_for(
        lambda: (
            len([e for e in bot.private() if UNEXPECTED.split(" (")[0] in e.text]) == 3
            and bot.private()
        ),
        message="three generic replies",
    )
    everything = "\n".join(rendered(e) for e in generic)
    for internal in ("boom", "internal.py", "xoxb", "Traceback", "RuntimeError"):
        assert internal not in everything
