"""The golden path in a real browser: Debian's Chromium, driven by Playwright, through the
sandbox's Slack viewer and the OpenTrain simulator's approval page.

Run with UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/card.png (the README's picture)
and docs/screenshots/home.png (the App Home tab).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.sandbox.runner import seed_demo
from tests.support.bot_harness import SandboxFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DOCS_SCREENSHOT = DOCS / "card.png"
HOUR = 3600.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The bot answers within a second; generous only so a loaded CI machine does not flake.
expect.set_options(timeout=15_000)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (Debian package `chromium`); "
            "or run `sudo apt-get install -y chromium`."
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def open_page(browser: Browser, url: str, problems: list[str]) -> Page:
    """A page at `url` that records script errors and console errors (a CSP violation
    is one) into `problems`, so a test can insist the page ran cleanly."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text} at {message.location}")
            if message.type == "error"
            else None
        ),
    )
    await page.goto(url)
    return page


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000, f"{path} is not a real PNG"


async def test_hire_confirm_and_see_the_card_change(
    make_sandbox: SandboxFactory, browser: Browser, tmp_path: Path
) -> None:
    # As `python -m bot sandbox` runs it: webhooks wired. Feed polls an hour apart, so the
    # card can only change as soon as it does below by the webhook's doorbell.
    sandbox = await make_sandbox(webhooks=True, ot_poll_interval_seconds=HOUR)
    await seed_demo(sandbox)
    problems: list[str] = []
    page = await open_page(browser, sandbox.viewer_url, problems)
    await expect(page.get_by_test_id("conversation-title")).to_have_text("# hiring")
    await expect(page.get_by_test_id("live")).to_have_text("live")

    composer = page.get_by_test_id("composer-input")
    await composer.fill("/opentrain hire prop_ada 450 Batch 1")
    await composer.press("Enter")

    modal = page.get_by_test_id("modal")
    await expect(modal).to_be_visible()
    await expect(modal.locator("h3").first).to_have_text("Hire on OpenTrain")
    await expect(modal).to_contain_text("Hire Ada L. from proposal prop_ada")
    await expect(page.locator("#input-hire-name")).to_have_value("Batch 1")
    await expect(page.locator("#input-hire-amount")).to_have_value("450.00")
    await page.locator("#input-hire-description").fill("Bounding boxes for 10k dashcam frames")
    await page.get_by_test_id("modal-submit").click()
    await expect(modal).to_have_count(0)

    card = page.get_by_test_id("timeline").locator(
        '[data-testid="message"][data-event-type="opentrain_approval"]'
    )
    await expect(card).to_have_count(1)
    for shown in ("Hire Ada L. — Batch 1", "$450.00", "$45.00", "$9.95", "$504.95"):
        await expect(card).to_contain_text(shown)
    await expect(card).to_contain_text("Waiting for a human to confirm in OpenTrain")
    await expect(card).to_contain_text("Approvers: @finance-team")
    review = card.get_by_role("link", name="Review & confirm in OpenTrain")
    await expect(review).to_have_attribute("target", "_blank")
    before = tmp_path / "card-pending.png"
    await card.screenshot(path=before)

    # Two days later the card still tells the truth: a deadline, never a frozen countdown.
    sandbox.opentrain.state.advance(48 * HOUR)
    await sandbox.services.clock.sync()
    await expect(card).to_contain_text(re.compile(r"expires \w+", re.IGNORECASE))
    for stale in ("expires in", " ago", "days left"):
        await expect(card).not_to_contain_text(stale)

    # App Home lists it; its "View card" opens the card in the channel.
    await page.get_by_test_id("sidebar").get_by_text("OpenTrain Co-sign").click()
    home = page.get_by_test_id("app-home")
    await expect(home).to_contain_text("Batch 1")
    home_shot = tmp_path / "home.png"
    await page.screenshot(path=home_shot)
    await home.get_by_test_id("link-button").filter(has_text="View card").first.click()
    await expect(page.get_by_test_id("conversation-title")).to_have_text("# hiring")
    await expect(card).to_be_in_viewport()
    await expect(card).to_have_class(re.compile(r"\blinked\b"))

    async with page.context.expect_page() as opened:
        await review.click()
    approval_page = await opened.value
    await approval_page.wait_for_load_state()
    assert approval_page.url.startswith(f"{sandbox.opentrain.origin}/approvals/")
    await expect(approval_page.locator("#cost")).to_contain_text("$504.95")
    await approval_page.locator("#confirm").click()
    await expect(approval_page.locator("#status")).to_have_attribute("data-status", "confirmed")
    await approval_page.close()

    await page.bring_to_front()
    await expect(card).to_contain_text("Confirmed in OpenTrain")
    await expect(review).to_have_count(0)
    await card.get_by_test_id("open-thread").click()
    thread = page.get_by_test_id("thread")
    reply = thread.locator('[data-testid="message"]').nth(1)
    await expect(reply).to_contain_text("Confirmed in OpenTrain")
    await expect(reply.locator(".mention-me")).to_have_text("@Ana")
    after = tmp_path / "card-confirmed.png"
    await card.screenshot(path=after)

    assert_png(before)
    assert_png(after)
    assert_png(home_shot)
    assert problems == []
    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(before, DOCS_SCREENSHOT)
        shutil.copyfile(home_shot, DOCS / "home.png")
