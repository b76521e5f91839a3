"""`/opentrain jobs [status]`: the account's jobs newest first, each with its proposal counts
and **Proposals** — the same list `/opentrain proposals <jobId>` gives — so nobody needs an id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.cards import ActionId
from bot.sandbox.opentrain.seed import READONLY_TOKEN
from bot.sandbox.opentrain.vocabulary import JobStatus, PaymentType
from bot.sandbox.slack.model import Ephemeral
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import REQUEST_ID, Bot, rendered, start_bot

BEN = "U0BEN"


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


def listed_jobs(message: Ephemeral) -> list[str]:
    """The ids the list's Proposals buttons carry, top to bottom."""
    return [
        str(block["accessory"]["value"])
        for block in message.blocks
        if block.get("accessory", {}).get("action_id") == ActionId.OPEN_JOB_PROPOSALS.value
    ]


async def jobs(bot: Bot, text: str = "jobs", *, user: str = "U0ANA") -> Ephemeral:
    seen = len(bot.private(user))
    await bot.command(text, user=user)
    return await bot.answer(after=seen, user=user)


async def reads_of_my_jobs(bot: Bot) -> list[dict[str, Any]]:
    return [r for r in await bot.sent() if r["path"] == "/jobs/mine"]


def add_job(bot: Bot, job_id: str, status: JobStatus, age: timedelta) -> None:
    state = bot.sandbox.opentrain.state
    state.add_job(
        state.account(),
        job_id=job_id,
        title=f"Job {job_id}",
        payment_type=PaymentType.FIXED_PRICE,
        status=status,
        age=age,
    )


async def test_current_jobs_newest_first_with_counts_linked_to_opentrain(bot: Bot) -> None:
    add_job(bot, "job_done", JobStatus.COMPLETED, timedelta(hours=1))
    add_job(bot, "job_shelved", JobStatus.ARCHIVED, timedelta(hours=2))
    listing = await jobs(bot)
    # Drafts are current; completed and archived jobs are left out.
    assert listed_jobs(listing) == ["job_audio_draft", "job_dashcam", "job_lidar"]
    shown = rendered(listing)
    origin = bot.sandbox.opentrain.origin
    assert f"<{origin}/jobs/job_dashcam|Dashcam bounding boxes>" in shown
    assert "4 proposals, 1 unreviewed" in shown and "2 proposals, 0 unreviewed" in shown
    assert "draft" in shown and "Completed and archived ones are left out" in shown
    [read] = await reads_of_my_jobs(bot)
    assert "status" not in read["query"]
    assert await bot.writes() == []


async def test_a_status_in_any_case_asks_opentrain_for_those_only(bot: Bot) -> None:
    add_job(bot, "job_shelved", JobStatus.ARCHIVED, timedelta(hours=2))
    assert listed_jobs(await jobs(bot, "jobs Draft")) == ["job_audio_draft"]
    assert listed_jobs(await jobs(bot, "jobs OPEN")) == ["job_dashcam", "job_lidar"]  # no draft
    assert listed_jobs(await jobs(bot, "jobs archived")) == ["job_shelved"]
    none = await jobs(bot, "jobs pending-approval")
    assert "no pending approval jobs" in none.text
    statuses = [r["query"].get("status") for r in await reads_of_my_jobs(bot)]
    assert statuses == ["DRAFT", "OPEN", "ARCHIVED", "PENDING_APPROVAL"]

    delivery = await bot.command("jobs live")
    assert "is not a job status" in rendered(delivery) and "pending_approval" in rendered(delivery)
    assert len(await reads_of_my_jobs(bot)) == 4  # a bad status asks nothing


async def test_every_page_is_read(bot: Bot) -> None:
    for n in range(30):
        add_job(bot, f"job_new_{n:02d}", JobStatus.OPEN, timedelta(minutes=n + 1))
    listing = await jobs(bot)
    shown = listed_jobs(listing)
    assert shown[:2] == ["job_new_00", "job_new_01"] and len(shown) == 20
    assert "…and 13 more" in rendered(listing)
    first, second = await reads_of_my_jobs(bot)
    assert first["query"].get("limit") == "25" and "cursor" not in first["query"]
    assert second["query"].get("cursor") == "job_new_24"


async def test_proposals_opens_that_jobs_proposals_and_the_list_stays(bot: Bot) -> None:
    listing = await jobs(bot)
    before = listing.text
    seen = len(bot.private())
    await bot.click(listing, ActionId.OPEN_JOB_PROPOSALS, value="job_dashcam")
    proposals = await bot.answer(after=seen)
    shown = rendered(proposals)
    assert "Proposals: Dashcam bounding boxes" in shown
    assert "Ada L." in shown and "Alan T." not in shown  # the open ones, as the command
    kept = bot.private()[seen - 1]  # the jobs list stays, to pick another
    assert kept.text == before and "job_dashcam" in listed_jobs(kept)
    paths = [r["path"] for r in await bot.sent()]
    assert "/jobs/job_dashcam/proposals" in paths
    assert await bot.writes() == []


async def test_a_missing_scope_is_explained_privately(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, ot_api_token=READONLY_TOKEN)
    reply = await jobs(bot)
    assert "lacks `jobs:read`" in reply.text and "Settings → API keys" in reply.text
    assert REQUEST_ID.search(rendered(reply))
    assert "Traceback" not in rendered(reply)


async def test_a_non_requester_is_refused_and_nothing_reaches_opentrain(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox, allowed_requesters="U0ANA")
    refusal = await jobs(bot, user=BEN)
    assert "Only these people can see jobs and their proposals" in refusal.text
    assert listed_jobs(refusal) == []
    assert await bot.sent() == []  # not even a read

    # A list Ben was given while he could still ask (copied to him here): its button is
    # checked again on the click.
    listing = await jobs(bot)
    mark = len(await bot.sent())
    slack = bot.sandbox.slack.state
    his = slack.post_ephemeral(listing.channel, user=BEN, text=listing.text, blocks=listing.blocks)
    seen = len(bot.private(BEN))
    await bot.click(his, ActionId.OPEN_JOB_PROPOSALS, value="job_dashcam", user=BEN)
    refused = await bot.answer(after=seen, user=BEN)
    assert "Only these people can see proposals and hire" in refused.text
    assert "Ada L." not in rendered(refused)
    assert (await bot.sent())[mark:] == []
    audit = await bot.sandbox.services.store.read_audit()
    kinds = [(e.actor, e.details["kind"]) for e in audit if e.action == "refused"]
    assert kinds == [
        ("slack:U0BEN", "see jobs and their proposals"),
        ("slack:U0BEN", "see proposals and hire"),
    ]
