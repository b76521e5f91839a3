"""The Slack viewer in a real browser: Block Kit and mrkdwn rendering, escaping, live updates,
threads, modal validation errors, App Home, acting as another person, and block actions.
(The mrkdwn corner cases are checked on the renderer directly: tests/unit/test_viewer_markup.py.)
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards import BlockId
from bot.money import format_usd, hire_cost
from bot.sandbox.runner import TRY_THIS, Sandbox
from bot.sandbox.slack import SlackSim
from tests.e2e.test_browser_golden_path import chromium, open_page
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

CHANNEL = "C0HIRING"
NEW_YEAR_2026 = 1767225600  # 2026-01-01 00:00 UTC: 1:00 AM in Ana's Berlin


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def bot_client(sandbox: Sandbox) -> AsyncWebClient:
    return AsyncWebClient(token=sandbox.slack.bot_token, base_url=sandbox.slack.api_url)


async def hiring(browser: Browser, sandbox: Sandbox, problems: list[str]) -> Page:
    page = await open_page(browser, sandbox.viewer_url, problems)
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    await expect(page.get_by_test_id("live")).to_have_text("live")
    return page


async def test_block_kit_and_mrkdwn_render_live(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    text = (
        "*bold* _italic_ ~gone~ `prop_ada` <https://example.com/a?b=1&amp;c=2|a link> "
        "<@U0BEN> <#C0GENERAL> <!subteam^S0FINANCE> "
        f"<!date^{NEW_YEAR_2026}^{{date_long}} at {{time}}|2026-01-01 00:00 UTC> "
        "<!date^soon^{date}|the fallback>"
    )
    await bot_client(sandbox).chat_postMessage(
        channel=CHANNEL,
        text="fallback only",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "A header"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Amount*\n$450.00"},
                    {"type": "mrkdwn", "text": "*Total*\n$504.95"},
                ],
            },
            {"type": "divider"},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "small print"}]},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open it"},
                        "url": "https://example.com/open",
                        "action_id": "open-link",
                    }
                ],
            },
        ],
    )
    message = page.get_by_test_id("timeline").get_by_test_id("message").last
    await expect(message.locator(".bk-header")).to_have_text("A header")
    body = message.locator(".bk-section").first
    await expect(body.locator("b").first).to_have_text("bold")
    await expect(body.locator("i")).to_have_text("italic")
    await expect(body.locator("s")).to_have_text("gone")
    await expect(body.locator("code")).to_have_text("prop_ada")
    link = body.get_by_role("link", name="a link")
    await expect(link).to_have_attribute("href", "https://example.com/a?b=1&c=2")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(body.locator(".mention").nth(0)).to_have_text("@Ben")
    await expect(body.locator(".channel-link")).to_have_text("#general")
    await expect(body.locator(".mention").nth(1)).to_have_text("@finance-team")
    await expect(body).to_contain_text("Thursday, January 1st, 2026 at 1:00 AM")
    await expect(body).to_contain_text("the fallback")
    await expect(message.locator(".bk-field b")).to_have_text(["Amount", "Total"])
    await expect(message.locator(".bk-field")).to_contain_text(["$450.00", "$504.95"])
    await expect(message.locator(".bk-divider")).to_have_count(1)
    await expect(message.locator(".bk-context")).to_have_text("small print")
    button = message.get_by_role("link", name="Open it")
    await expect(button).to_have_attribute("href", "https://example.com/open")
    await expect(message).not_to_contain_text("fallback only")
    assert problems == []


async def test_everything_shown_is_escaped(make_sandbox: SandboxFactory, browser: Browser) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    attack = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    await bot_client(sandbox).chat_postMessage(
        channel=CHANNEL,
        text="attack",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": attack}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "&lt;script&gt;alert(3)&lt;/script&gt; <javascript:alert(4)|click me> "
                    '<https://x.example/"onmouseover="alert(5)|quoted>',
                },
            },
        ],
    )
    await sandbox.slack.driver.post_user_message(
        user_id="U0BEN", channel_id=CHANNEL, text=f"{attack} & <b>not bold</b>"
    )
    timeline = page.get_by_test_id("timeline")
    await expect(timeline.get_by_test_id("message")).to_have_count(2)
    await expect(timeline.locator(".bk-header")).to_have_text(attack)
    await expect(timeline).to_contain_text("<script>alert(3)</script> click me")
    await expect(timeline.locator("img, script, b:text('not bold')")).to_have_count(0)
    await expect(timeline.locator('a[href^="javascript"]')).to_have_count(0)
    quoted = timeline.get_by_role("link", name="quoted")
    assert await quoted.get_attribute("onmouseover") is None
    assert problems == []


async def test_composer_posts_like_slack_and_threads_work(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    composer = page.get_by_test_id("composer-input")
    await composer.fill("Is <b>this</b> & https://example.com/x?a=1 in?")
    await composer.press("Enter")
    message = page.get_by_test_id("timeline").get_by_test_id("message").last
    await expect(message).to_contain_text("Is <b>this</b> & https://example.com/x?a=1 in?")
    await expect(message.get_by_role("link")).to_have_attribute("href", "https://example.com/x?a=1")
    posted = sandbox.slack.messages(CHANNEL)[-1]
    assert posted.text == "Is &lt;b&gt;this&lt;/b&gt; &amp; <https://example.com/x?a=1> in?"

    await sandbox.slack.driver.post_user_message(
        user_id="U0BEN", channel_id=CHANNEL, text="A reply from Ben", thread_ts=posted.ts
    )
    await message.get_by_test_id("open-thread").click()
    thread = page.get_by_test_id("thread")
    await expect(thread.get_by_test_id("message")).to_have_count(2)
    reply = page.get_by_test_id("thread-composer-input")
    await reply.fill("And one from Ana")
    await reply.press("Enter")
    await expect(thread.get_by_test_id("message")).to_have_count(3)
    replies = sandbox.slack.replies(CHANNEL, posted.ts)
    assert [r.text for r in replies] == ["A reply from Ben", "And one from Ana"]
    await page.get_by_test_id("thread-close").click()
    await expect(thread).to_have_count(0)
    assert problems == []


async def test_a_link_typed_in_the_composer_is_previewed_before_it_is_sent(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    sandbox.slack.config.unfurl_domains = ("127.0.0.1",)  # Slack matches host names, no port
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base,
        headers={"Authorization": f"Bearer {sandbox.opentrain.state.seeded['fullToken']}"},
    ) as opentrain:
        approval = (await opentrain.post("/milestones/ms_batch2/fund")).json()["approval"]
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    composer = page.get_by_test_id("composer-input")
    await composer.fill(f"Please confirm {approval['approvalUrl']}")
    await wait_for(
        lambda: [u for u in sandbox.slack.state.unfurls if u.channel == "COMPOSER"],
        message="the composer's preview",
    )
    assert await sandbox.services.store.get_approval(approval["id"]) is None  # not yet
    await composer.press("Enter")
    card = (
        page.get_by_test_id("timeline").get_by_test_id("message").filter(has_text="Fund milestone")
    )
    await expect(card).to_have_count(1)
    assert problems == []


async def test_the_modal_shows_the_bots_errors_and_keeps_what_was_typed(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    composer = page.get_by_test_id("composer-input")
    await composer.fill("/opentrain hire prop_ada")
    await composer.press("Enter")
    modal = page.get_by_test_id("modal")
    await expect(modal).to_be_visible()
    await page.locator("#input-hire-name").fill("Batch 2")
    await page.locator("#input-hire-description").fill("Line one\nLine two")
    await page.locator("#input-hire-amount").fill("a lot")
    await page.get_by_test_id("modal-submit").click()

    error = modal.locator('[data-error-for="hire-amount"]')
    await expect(error).to_be_visible()
    assert (await error.inner_text()).strip()
    await expect(page.locator("#input-hire-description")).to_have_value("Line one\nLine two")
    assert sandbox.opentrain.state.approvals == {}

    await page.locator("#input-hire-amount").fill("300")
    await page.get_by_test_id("modal-submit").click()
    await expect(modal).to_have_count(0)
    await wait_for(lambda: sandbox.opentrain.state.approvals, message="the hire request")

    await composer.fill("/opentrain hire prop_ada 100")
    await composer.press("Enter")
    await expect(modal).to_be_visible()
    await modal.get_by_test_id("modal-close").click()
    await expect(modal).to_have_count(0)
    assert sandbox.slack.state.open_views("U0ANA") == []
    assert problems == []


async def test_app_home_and_acting_as_someone_else(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    composer = page.get_by_test_id("composer-input")
    await composer.fill("/opentrain help")
    await composer.press("Enter")
    await expect(page.get_by_test_id("ephemeral")).to_have_count(1)

    await page.get_by_test_id("sidebar").get_by_text("OpenTrain Co-sign").click()
    await expect(page.get_by_test_id("tab-home")).to_have_class("tab active")
    home = page.get_by_test_id("app-home")
    published = await wait_for(lambda: sandbox.slack.state.home_view("U0ANA"), message="home")
    first_block = published.content["blocks"][0]
    await expect(home.locator("[data-block-id]").first).to_have_attribute(
        "data-block-id", first_block["block_id"]
    )
    await expect(page.get_by_test_id("composer")).to_be_hidden()
    await page.get_by_test_id("tab-messages").click()
    await expect(page.get_by_test_id("composer")).to_be_visible()

    await page.get_by_test_id("user-picker").select_option("U0LEI")
    # Lei is not in #hiring, and never sees what only Ana was shown.
    sidebar = page.get_by_test_id("sidebar")
    await expect(sidebar.get_by_text("# hiring")).to_have_count(0)
    await sidebar.get_by_text("# general").click()
    await expect(page.get_by_test_id("conversation-title")).to_have_text("# general")
    await expect(page.get_by_test_id("ephemeral")).to_have_count(0)
    assert "user=U0LEI" in page.url and "channel=C0GENERAL" in page.url
    assert problems == []


async def test_clicking_a_button_sends_the_block_action(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    await sandbox.slack.send_command(
        command="/opentrain", text="hire prop_ada 450 Batch 1", user_id="U0ANA", channel_id=CHANNEL
    )
    view = await wait_for(lambda: sandbox.slack.state.open_views("U0ANA"), message="modal")
    await expect(page.get_by_test_id("modal")).to_have_attribute("data-view-id", view[0].id)
    await page.get_by_test_id("modal-submit").click()
    card = page.get_by_test_id("timeline").locator('[data-event-type="opentrain_approval"]')
    await card.get_by_role("button", name="Remind approvers").click()

    def remind_delivery() -> list[int | None]:
        return [
            d.status
            for d in sandbox.slack.state.deliveries
            if d.kind == "block_actions" and d.summary == "remind-approvers"
        ]

    assert await wait_for(remind_delivery, message="the block action") == [200]
    assert problems == []


async def test_the_viewer_serves_only_its_assets_and_refuses_unknown_modals(
    slack_sim: SlackSim,
) -> None:
    async with httpx.AsyncClient(base_url=slack_sim.origin) as client:
        script = await client.get("/viewer/static/viewer.js")
        assert script.status_code == 200
        assert script.headers["Content-Type"].startswith("text/javascript")
        assert (await client.get("/viewer/static/screen.py")).status_code == 404
        refused = await client.post(
            "/viewer/close_view", json={"user_id": "U0ANA", "view_id": "V0NOPE"}
        )
        assert refused.status_code == 400
        assert refused.json() == {"ok": False, "error": "U0ANA has no open modal V0NOPE"}


async def test_the_viewer_opens_a_permalink_on_its_message(slack_sim: SlackSim) -> None:
    client = AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url)
    parent = await client.chat_postMessage(channel="C0GENERAL", text="card")
    reply = await client.chat_postMessage(channel="C0GENERAL", text="r", thread_ts=parent["ts"])
    link = (await client.chat_getPermalink(channel="C0GENERAL", message_ts=reply["ts"]))[
        "permalink"
    ]
    async with httpx.AsyncClient() as http:
        opened = await http.get(f"{link}&user=U0BEN")
        assert opened.status_code == 302
        assert opened.headers["Location"] == (
            f"/?user=U0BEN&channel=C0GENERAL&thread={parent['ts']}&message={reply['ts']}"
        )
        nothing = await http.get(f"{slack_sim.origin}/archives/C0GENERAL/soon")
        assert nothing.status_code == 404


# ---- links, live modals, unread markers, the thread panel, emoji ---------------------------


async def test_a_permalink_opens_its_message_in_the_viewer(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    client = bot_client(sandbox)
    # Enough before and after that neither end of the channel shows the linked message.
    for n in range(25):
        await client.chat_postMessage(channel=CHANNEL, text=f"Before {n}")
    first = await client.chat_postMessage(channel=CHANNEL, text="The one linked to")
    reply = await client.chat_postMessage(channel=CHANNEL, text="A reply", thread_ts=first["ts"])
    for n in range(25):
        await client.chat_postMessage(channel=CHANNEL, text=f"After {n}")
    link = (await client.chat_getPermalink(channel=CHANNEL, message_ts=first["ts"]))["permalink"]
    assert link.startswith(f"{sandbox.slack.origin}/archives/{CHANNEL}/p")

    problems: list[str] = []
    page = await open_page(browser, link, problems)
    linked = page.get_by_test_id("timeline").locator(f'[data-ts="{first["ts"]}"]')
    await expect(linked).to_have_class(re.compile(r"\blinked\b"))
    await expect(linked).to_be_in_viewport()
    await expect(page.get_by_test_id("conversation-title")).to_have_text("# hiring")
    assert f"message={first['ts']}" in page.url and "user=U0ANA" in page.url
    # A new message does not carry the reader away from it.
    await client.chat_postMessage(channel=CHANNEL, text="Meanwhile")
    await expect(page.get_by_test_id("timeline")).to_contain_text("Meanwhile")
    await expect(linked).to_be_in_viewport()

    # A reply's link opens its thread on it.
    reply_link = (await client.chat_getPermalink(channel=CHANNEL, message_ts=reply["ts"]))[
        "permalink"
    ]
    await page.goto(reply_link)
    in_thread = page.get_by_test_id("thread").locator(f'[data-ts="{reply["ts"]}"]')
    await expect(in_thread).to_have_class(re.compile(r"\blinked\b"))
    await expect(in_thread).to_be_in_viewport()

    # A button whose url is a permalink opens it here, as the person acting (not a new tab).
    await page.get_by_test_id("user-picker").select_option("U0BEN")
    await expect(page.get_by_test_id("user-picker")).to_have_value("U0BEN")
    await client.chat_postMessage(
        channel=CHANNEL,
        text="See the card",
        blocks=[
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View card"},
                        "url": link,
                        "action_id": "open-card",
                    }
                ],
            }
        ],
    )
    await page.get_by_role("link", name="View card").click()
    await expect(page).to_have_url(re.compile(rf"message={re.escape(first['ts'])}"))
    await expect(linked).to_have_class(re.compile(r"\blinked\b"))
    await expect(linked).to_be_in_viewport()
    assert "user=U0BEN" in page.url
    assert len(page.context.pages) == 1
    clicks = [d for d in sandbox.slack.state.deliveries if d.summary == "open-card"]
    assert [d.status for d in clicks] == [200]  # Slack tells the app about the click too
    assert problems == []


async def test_typing_an_amount_updates_the_hire_modals_total(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    composer = page.get_by_test_id("composer-input")
    await composer.fill(TRY_THIS)
    await composer.press("Enter")
    modal = page.get_by_test_id("modal")
    total = modal.locator(f'[data-block-id="{BlockId.HIRE_COST}"]')
    await expect(total).to_contain_text(format_usd(hire_cost(Decimal(450)).total))

    description = page.locator(f"#input-{BlockId.HIRE_DESCRIPTION}")
    await description.fill("Bounding boxes, second batch")
    amount = page.locator(f"#input-{BlockId.HIRE_AMOUNT}")
    # One change, so one dispatch. Keystrokes further apart than the viewer's pause would each
    # reach the app, and the app drops an update that meets `hash_conflict`: on a slow machine
    # the update that lands last could be an older keystroke's.
    await amount.fill("600")
    await expect(total).to_contain_text(format_usd(hire_cost(Decimal(600)).total))
    # The update kept what was typed, and where.
    await expect(amount).to_have_value("600")
    await expect(amount).to_be_focused()
    await expect(description).to_have_value("Bounding boxes, second batch")

    await amount.press("End")
    await amount.press("0")  # 6000, sent at once with Enter (the input takes both triggers)
    await amount.press("Enter")
    await expect(total).to_contain_text(format_usd(hire_cost(Decimal(6000)).total))
    await expect(modal).to_be_visible()  # Enter went to the app, not to "Request hire"
    assert [d for d in sandbox.slack.state.deliveries if d.kind == "view_submission"] == []
    assert sandbox.opentrain.state.approvals == {}
    assert problems == []


async def test_unread_conversations_are_marked_until_opened(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    sidebar = page.get_by_test_id("sidebar")
    general = sidebar.locator('[data-conversation="C0GENERAL"]')
    app = sidebar.locator(".app-link")
    await expect(sidebar.get_by_test_id("unread-count")).to_have_count(0)

    for text in ("Lunch?", "At noon"):
        await sandbox.slack.driver.post_user_message(
            user_id="U0BEN", channel_id="C0GENERAL", text=text
        )
    await bot_client(sandbox).chat_postMessage(channel="U0ANA", text="Your hire was confirmed")
    await expect(general).to_have_class(re.compile(r"\bunread\b"))
    await expect(general.get_by_test_id("unread-count")).to_have_text("2")
    await expect(app.get_by_test_id("unread-count")).to_have_text("1")
    await expect(sidebar.locator('[data-conversation="C0HIRING"]')).not_to_have_class(
        re.compile(r"\bunread\b")
    )

    await general.click()
    await expect(page.get_by_test_id("conversation-title")).to_have_text("# general")
    await expect(general.get_by_test_id("unread-count")).to_have_count(0)
    await app.click()
    await expect(page.get_by_test_id("tab-messages")).to_have_class("tab active")
    await expect(page.get_by_test_id("timeline")).to_contain_text("Your hire was confirmed")
    await expect(sidebar.get_by_test_id("unread-count")).to_have_count(0)
    assert problems == []


async def test_the_thread_panel_stays_in_view_however_the_channel_scrolls(
    make_sandbox: SandboxFactory, browser: Browser
) -> None:
    sandbox = await make_sandbox()
    client = bot_client(sandbox)
    parent = await client.chat_postMessage(channel=CHANNEL, text="Thread starter")
    for n in range(30):
        await client.chat_postMessage(channel=CHANNEL, text=f"Reply {n}", thread_ts=parent["ts"])
    for n in range(60):
        await client.chat_postMessage(channel=CHANNEL, text=f"Later message {n}")
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    timeline = page.get_by_test_id("timeline")
    await timeline.locator(f'[data-ts="{parent["ts"]}"]').get_by_test_id("open-thread").click()
    thread = page.get_by_test_id("thread")
    await expect(thread.get_by_test_id("message")).to_have_count(31)

    for where in ("el.scrollHeight", "0", "el.scrollHeight / 2"):
        await timeline.evaluate(f"el => {{ el.scrollTop = {where}; }}")
        await expect(page.locator(".thread-header")).to_be_in_viewport()
        await expect(thread.get_by_test_id("message").first).to_be_in_viewport()
        await expect(page.get_by_test_id("thread-composer-input")).to_be_in_viewport()
    # Each column scrolls by itself; the page as a whole never does.
    assert await page.evaluate("document.scrollingElement.scrollTop") == 0
    assert await page.evaluate(
        "document.scrollingElement.scrollHeight <= document.scrollingElement.clientHeight"
    )
    # A new reply keeps the thread where the reader is.
    await client.chat_postMessage(channel=CHANNEL, text="One more", thread_ts=parent["ts"])
    await expect(thread.get_by_test_id("message")).to_have_count(32)
    await expect(thread.get_by_test_id("message").first).to_be_in_viewport()
    await thread.get_by_test_id("message").last.scroll_into_view_if_needed()
    await expect(thread.get_by_test_id("message").last).to_be_in_viewport()
    await expect(page.locator(".thread-header")).to_be_in_viewport()
    assert problems == []


# Draws `text` in the element's font on a canvas and counts clearly colored pixels: a color
# emoji font gives many, an empty box or a black-and-white glyph none.
COLORED_PIXELS = """(element, text) => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  const context = canvas.getContext("2d");
  context.font = "48px " + getComputedStyle(element).fontFamily;
  context.textBaseline = "top";
  context.fillText(text, 4, 4);
  const pixels = context.getImageData(0, 0, 64, 64).data;
  let colored = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b, a] = pixels.slice(i, i + 4);
    if (a > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 80) colored += 1;
  }
  return colored;
}"""


async def test_emoji_are_shown_in_color(make_sandbox: SandboxFactory, browser: Browser) -> None:
    sandbox = await make_sandbox()
    problems: list[str] = []
    page = await hiring(browser, sandbox, problems)
    await bot_client(sandbox).chat_postMessage(
        channel=CHANNEL, text="✅ Confirmed ⏳ Waiting 🏁 Ended :white_check_mark: :tada: :nope:"
    )
    body = page.get_by_test_id("timeline").get_by_test_id("message").last.locator(".bk-text")
    await expect(body).to_have_text("✅ Confirmed ⏳ Waiting 🏁 Ended ✅ 🎉 :nope:")
    for emoji in ("✅", "⏳", "🎉"):  # (🏁 is black and white in every font)
        count = await body.evaluate(COLORED_PIXELS, emoji)
        assert count > 50, (
            f"{emoji} is not drawn in color ({count} colored pixels): is a color emoji font "
            "installed? `make test` installs Debian's fonts-noto-color-emoji"
        )
    assert problems == []
