"""`/opentrain proposals <jobId> [status]`: a job's proposals best first, each with Hire…,
Profile and Transcript — so a hire starts from a list, not from an id someone must know."""

from __future__ import annotations

import json

import pytest

from bot.cards import ActionId
from bot.sandbox.opentrain.seed import freelancer
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import Bot, buttons_of, hire_values, rendered, start_bot
from tests.support.wait import wait_for


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


async def test_the_open_proposals_best_interview_first(bot: Bot) -> None:
    await bot.command("proposals job_dashcam")
    listing = await bot.answer()
    shown = rendered(listing)
    order = [shown.index(name) for name in ("Ada L.", "Grace H.")]
    assert order == sorted(order)  # 92 before 88
    assert "Alan T." not in shown  # not a fit: closed
    assert "Strong on occlusion edge cases." in shown
    hires = buttons_of(listing, ActionId.HIRE_PROPOSAL)
    assert {json.loads(b["value"])["proposalId"] for b in hires} >= {"prop_ada", "prop_grace"}
    origin = bot.sandbox.opentrain.origin
    profiles = [b["url"] for b in buttons_of(listing, ActionId.OPEN_LINK)]
    assert all(url.startswith(f"{origin}/profile/") for url in profiles) and profiles
    assert await bot.writes() == []


async def test_a_status_lists_those_only_and_a_bad_one_says_which_there_are(bot: Bot) -> None:
    await bot.command("proposals job_dashcam not-a-fit")
    shown = rendered(await bot.answer())
    assert "Alan T." in shown and "Ada L." not in shown
    delivery = await bot.command("proposals job_dashcam hot")
    assert "is not a proposal status" in rendered(delivery) and "shortlisted" in rendered(delivery)


async def test_every_page_is_read_and_ranked(bot: Bot) -> None:
    state = bot.sandbox.opentrain.state
    job = state.jobs["job_dashcam"]
    for n in range(40):
        state.add_proposal(job, freelancer(f"Tester{n}", "Q"), interview_score=n)
    await bot.command("proposals job_dashcam")
    shown = rendered(await bot.answer())
    assert "Ada L." in shown and "Tester39 Q." in shown and "Tester0 Q." not in shown  # top 10
    assert "more" in shown
    pages = [r for r in await bot.sent() if r["path"] == "/jobs/job_dashcam/proposals"]
    assert len(pages) == 2 and pages[1]["query"].get("cursor")


async def test_hire_from_the_list_opens_the_form_with_the_bid_and_posts_the_card(bot: Bot) -> None:
    await bot.command("proposals job_dashcam")
    listing = await bot.answer()
    [grace] = [b for b in buttons_of(listing, ActionId.HIRE_PROPOSAL) if "prop_grace" in b["value"]]
    seen = {v.id for v in bot.sandbox.slack.state.open_views()}
    await bot.click(listing, ActionId.HIRE_PROPOSAL, value=grace["value"])
    [view] = await wait_for(
        lambda: [v for v in bot.sandbox.slack.state.open_views() if v.id not in seen],
        message="the hire form",
    )
    shown = json.dumps(view.content, ensure_ascii=False)
    assert "Hire Grace H. from proposal prop_grace" in shown and "520.00" in shown
    await bot.submit(view, hire_values(amount="520"))
    approval = await wait_for(lambda: bot.approvals(), message="the hire requested")
    assert approval[0].proposal_id == "prop_grace"
    await bot.card_for(approval[0].id)
    assert bot.private()[0].text == listing.text  # the list stays, to pick another


async def test_transcript_opens_in_a_modal_and_says_when_there_is_none(bot: Bot) -> None:
    await bot.command("proposals job_dashcam")
    listing = await bot.answer()
    await bot.click(listing, ActionId.OPEN_TRANSCRIPT, value="prop_ada")
    [view] = await wait_for(lambda: bot.sandbox.slack.state.open_views(), message="the transcript")
    shown = json.dumps(view.content, ensure_ascii=False)
    assert "half hidden behind a parked car" in shown and "Interviewer" in shown

    seen = len(bot.private())
    await bot.command("proposals job_dashcam not_a_fit")
    alan = await bot.answer(after=seen)
    await bot.click(alan, ActionId.OPEN_TRANSCRIPT, value="prop_alan")
    note = await wait_for(
        lambda: next((e for e in bot.private() if "no AI interview" in e.text), None),
        message="no transcript",
    )
    assert "prop_alan" in note.text
    assert await bot.writes() == []  # nothing but reads reached OpenTrain
