"""The other side of the sandbox in a real browser: on the OpenTrain simulator's "Play the
other side" page a new applicant applies and the trainer writes, and in the Slack viewer the
channel that follows the demo job (as `make run` sets it up) shows both — no id typed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from bot.store.kinds import Topic
from tests.e2e.test_browser_golden_path import chromium, open_page
from tests.support.bot_harness import SandboxFactory

HOUR = 3600.0
CHANNEL = "C0HIRING"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_an_applicant_and_a_trainers_message_reach_the_channel_following_the_demo_job(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    # As `make run` starts it: webhooks wired and the demo job followed. Feed polls an hour
    # apart, so what shows below got there by the webhook's doorbell.
    sandbox = await make_sandbox(webhooks=True, follow_demo_job=True, ot_poll_interval_seconds=HOUR)
    [(job_id, followed)] = (await sandbox.services.activity.subscriptions()).items()
    assert (job_id, followed.channel, followed.by) == ("job_dashcam", CHANNEL, "U0ANA")
    assert followed.topics == frozenset(Topic)

    problems: list[str] = []
    slack = await open_page(browser, sandbox.viewer_url, problems)
    await expect(slack.get_by_test_id("live")).to_have_text("live")
    opentrain = await open_page(browser, f"{sandbox.opentrain.origin}/", problems)
    await opentrain.get_by_role("link", name="Play the other side").click()
    await expect(opentrain.locator("h1")).to_have_text("Play the other side")

    await opentrain.locator("#apply-first-name").fill("Hedy")
    await opentrain.locator("#apply-last-name").fill("Lamarr")
    await opentrain.locator("#apply-bid").fill("430")
    await opentrain.locator("#apply-submit").click()
    await expect(opentrain.locator("#notice")).to_contain_text("proposal.received")
    timeline = slack.get_by_test_id("timeline")
    notice = timeline.get_by_test_id("message").filter(has_text="Hedy L.")
    await expect(notice).to_have_count(1, timeout=20_000)
    await expect(notice).to_contain_text("New proposal")
    await expect(notice).to_contain_text("$430.00")
    await expect(notice.get_by_role("button", name="Hire…")).to_be_visible()

    said = "Batch 1 is halfway: 5k boxes done, night frames next."
    await opentrain.get_by_label("Write as Linus").fill(said)
    await opentrain.get_by_role("button", name="Send as Linus").click()
    await expect(opentrain.locator("#notice")).to_contain_text("message.received")
    await expect(opentrain.locator("#conversation-ctr_linus")).to_contain_text(said)
    parent = timeline.get_by_test_id("message").filter(has_text="ctr_linus")
    await expect(parent).to_have_count(1, timeout=20_000)
    await parent.get_by_test_id("open-thread").click()
    thread = slack.get_by_test_id("thread")
    await expect(thread.get_by_test_id("message").filter(has_text=said)).to_have_count(
        1, timeout=20_000
    )
    await expect(thread).to_contain_text("Linus T.")
    assert problems == []
