"""Each OpenTrain error reason → one clear private reply with its requestId."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.cards import ActionId
from bot.sandbox.opentrain.seed import READONLY_TOKEN
from bot.sandbox.slack.model import Ephemeral
from bot.store.kinds import HIRE_DRAFTS
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    REQUEST_ID,
    Bot,
    buttons,
    hire_values,
    milestone_values,
    rendered,
    start_bot,
)
from tests.support.wait import wait_for


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


async def refused(bot: Bot, text: str) -> Ephemeral:
    """Run a command OpenTrain refuses; the reply, after checking no card was posted."""
    seen = len(bot.private())
    delivery = await bot.command(text)
    assert delivery.ok
    reply = await bot.answer(after=seen)
    assert REQUEST_ID.search(rendered(reply)), rendered(reply)
    assert bot.cards() == [] and bot.approvals() == []
    return reply


async def hire_refused(bot: Bot, proposal_id: str, amount: str = "450") -> Ephemeral:
    view = await bot.modal(f"hire {proposal_id}")
    seen = len(bot.private())
    await bot.submit(view, hire_values(amount=amount))
    reply = await bot.answer(after=seen)
    assert REQUEST_ID.search(rendered(reply)), rendered(reply)
    assert bot.cards() == []
    return reply


async def test_payment_method_required_links_billing(bot: Bot) -> None:
    await bot.control("PATCH", "/_sim/account", {"paymentMethodOnFile": False, "availableCents": 0})
    reply = await refused(bot, "fund ms_batch2")
    assert "needs a payment method" in reply.text
    billing = buttons(reply)[ActionId.OPEN_LINK.value]
    assert billing["url"] == f"{bot.sandbox.opentrain.origin}/settings/billing"

    hire = await hire_refused(bot, "prop_ada")
    assert "needs a payment method" in hire.text
    assert ActionId.OPEN_LINK.value in buttons(hire)


@pytest.mark.parametrize("signal", ["email", "field", "scopes"])
async def test_unclaimed_account_links_the_claim_page(bot: Bot, signal: str) -> None:
    """An unclaimed account's token lacks the write scopes, so OpenTrain answers "missing
    scope" before its claim check: the bot asks /auth/me and advises the claim, however
    /auth/me shows an unclaimed account (opentrain-api.md §3 leaves it open)."""
    await bot.control("PATCH", "/_sim/config", {"authMeClaimSignal": signal})
    await bot.control("PATCH", "/_sim/account", {"claimed": False})
    for command in ("fund ms_batch2", "payout ms_batch1"):
        reply = await refused(bot, command)
        assert "not claimed by a human" in reply.text and "lacks" not in reply.text
        claim = buttons(reply)[ActionId.OPEN_LINK.value]
        assert claim["url"] == f"{bot.sandbox.opentrain.origin}/claim"
    hire = await hire_refused(bot, "prop_ada")
    assert "not claimed by a human" in hire.text
    assert all(r["status"] == 403 for r in await bot.writes())  # nothing was asked of anyone


@pytest.mark.parametrize("signal", ["email", "field", "scopes"])
async def test_missing_scope_says_which_and_where_to_mint(
    make_sandbox: SandboxFactory, signal: str
) -> None:
    bot = await start_bot(make_sandbox, ot_api_token=READONLY_TOKEN)
    await bot.control("PATCH", "/_sim/config", {"authMeClaimSignal": signal})
    reply = await refused(bot, "payout ms_batch1")
    assert "lacks `payments:write`" in reply.text and "Settings → API keys" in reply.text


async def test_feature_off_names_the_feature(bot: Bot) -> None:
    await bot.control("PATCH", "/_sim/account", {"features": {"public_api_payments_write": False}})
    reply = await refused(bot, "end ctr_linus")
    assert "`public_api_payments_write` is not enabled" in reply.text


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("fund ms_batch1", "cannot be funded — it is already funded"),
        ("payout ms_batch2", "Fund it first with `/opentrain fund ms_batch2`"),
        # Already paid: "fund it first" would be wrong advice.
        ("payout ms_pilot", "already paid out; there is nothing left to fund or release"),
        ("fund ms_pilot", "already paid out; there is nothing left to fund or release"),
        ("fund ms_rain", "was cancelled"),
        ("payout ms_rain", "was cancelled"),
        ("end ctr_barbara", "contract has already ended"),
        ("fund ms_leftover", "contract has already ended"),
        ("fund ms_nope", "OpenTrain has no milestone `ms_nope`"),
        ("end ctr_nope", "OpenTrain has no contract `ctr_nope`"),
        ("contract ctr_nope", "OpenTrain has no contract `ctr_nope`"),
        ("track appr_nope", "OpenTrain has no approval `appr_nope`"),
    ],
)
async def test_refusals_in_plain_words(bot: Bot, text: str, words: str) -> None:
    reply = await refused(bot, text)
    assert words in reply.text


async def test_funding_without_a_payment_method_mentions_no_fees(bot: Bot) -> None:
    await bot.control("PATCH", "/_sim/account", {"paymentMethodOnFile": False, "availableCents": 0})
    fund = await refused(bot, "fund ms_batch2")
    assert "does not cover the milestone amount" in fund.text and "fees" not in fund.text
    hire = await hire_refused(bot, "prop_ada")
    assert "does not cover the milestone plus fees" in hire.text


async def test_milestone_on_an_ended_contract(bot: Bot) -> None:
    view = await bot.modal("milestone ctr_barbara")
    seen = len(bot.private())
    await bot.submit(view, milestone_values())
    reply = await bot.answer(after=seen)
    assert "contract has already ended" in reply.text and REQUEST_ID.search(rendered(reply))


async def test_already_hired_shows_the_existing_contract(bot: Bot) -> None:
    reply = await hire_refused(bot, "prop_linus")
    assert "already hired" in reply.text
    contract = await wait_for(
        lambda: next((e for e in bot.private() if "ctr_linus" in rendered(e)), None),
        message="the existing contract",
    )
    assert "Batch 1" in rendered(contract) and "Linus T." in rendered(contract)
    assert bot.approvals() == []
    reads = [(r["path"], r["query"]) for r in await bot.sent() if r["method"] == "GET"]
    assert ("/contracts", {"jobId": "job_dashcam"}) in reads


async def test_not_a_fit_offers_hire_anyway_which_resends_the_same_terms(bot: Bot) -> None:
    reply = await hire_refused(bot, "prop_alan", amount="300")
    assert "Not a fit" in reply.text
    hire_anyway = buttons(reply)[ActionId.HIRE_ANYWAY.value]
    assert hire_anyway["style"] == "danger" and "confirm" in hire_anyway

    await bot.click(reply, ActionId.HIRE_ANYWAY)
    [approval] = await wait_for(bot.approvals, message="hire approval")
    assert approval.proposal_id == "prop_alan"
    shown = rendered(await bot.card_for(approval.id))
    assert "$300.00" in shown and "$339.95" in shown
    # The refusal with the button is replaced by the receipt: no second click possible.
    await wait_for(lambda: "Approval card posted" in reply.text, message="receipt in place")
    assert ActionId.HIRE_ANYWAY.value not in buttons(reply)

    first, again = [
        json.loads(r["body"])
        for r in await bot.writes()
        if r["path"] == "/proposals/prop_alan/hire"
    ]
    assert "confirmNotFitOverride" not in first
    assert again == {**first, "confirmNotFitOverride": True}


async def test_hire_anyway_a_week_later_asks_for_a_new_hire_and_old_drafts_are_dropped(
    bot: Bot,
) -> None:
    stale = await hire_refused(bot, "prop_alan", amount="300")
    store, opentrain = bot.sandbox.services.store, bot.sandbox.opentrain
    [stale_key] = await store.list_records(HIRE_DRAFTS)
    opentrain.state.advance(timedelta(days=7, minutes=1).total_seconds())
    await bot.sandbox.services.clock.sync()
    writes = len(await bot.writes())

    await bot.click(stale, ActionId.HIRE_ANYWAY)

    def told() -> bool:
        texts = [stale.text, *(e.text for e in bot.private())]
        return any("no longer known" in text for text in texts)

    await wait_for(told, message="the draft is gone")
    assert len(await bot.writes()) == writes and bot.approvals() == []
    await hire_refused(bot, "prop_alan", amount="310")
    [fresh_key] = await store.list_records(HIRE_DRAFTS)
    assert fresh_key != stale_key


async def test_rate_limited_says_when_to_try_again(bot: Bot) -> None:
    await bot.fault(path="/milestones/*/fund", status=429, retryAfter=120)
    reply = await refused(bot, "fund ms_batch2")
    assert "rate limiting the bot. Try again in 2 min" in reply.text


async def test_outage_after_retries(bot: Bot) -> None:
    # Retry-After: 0 lets the client retry at once, so the test does not wait for backoff.
    await bot.fault(path="/milestones/*/fund", status=503, retryAfter=0)
    reply = await refused(bot, "fund ms_batch2")
    assert "OpenTrain is unavailable right now" in reply.text
    attempts = [r for r in await bot.writes() if r["path"] == "/milestones/ms_batch2/fund"]
    assert len(attempts) == 4 and all(r["status"] == 503 for r in attempts)


async def test_no_answer_in_time(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, ot_timeout_seconds=0.3)
    await bot.fault(path="/milestones/*/fund", latencyMs=1000)
    seen = len(bot.private())
    await bot.command("fund ms_batch2")
    reply = await bot.answer(after=seen)
    assert "did not answer in time, so nothing was confirmed" in reply.text
    assert "Timeout" not in rendered(reply)
    assert bot.cards() == []
