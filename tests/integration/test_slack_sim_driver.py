"""The simulator driving a bot like Slack does: signed commands, clicks, submissions, events.

Two kinds of bot: a tiny real slack-bolt `AsyncApp` (proof that bolt accepts
what the simulator sends) and a raw aiohttp receiver (to look at the exact
bytes, headers and signatures, and to answer whatever a test needs).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.errors import SimUsageError
from tests.support.slack_sim import CARD_BLOCKS
from tests.support.wait import wait_for

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")

HIRE_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "hire",
    "private_metadata": "prop_1",
    "title": {"type": "plain_text", "text": "Hire"},
    "submit": {"type": "plain_text", "text": "Hire"},
    "blocks": [
        {
            "type": "input",
            "block_id": "amount",
            "label": {"type": "plain_text", "text": "Amount (USD)"},
            "element": {"type": "plain_text_input", "action_id": "value", "max_length": 12},
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due date"},
            "element": {"type": "datepicker", "action_id": "date"},
        },
        {
            "type": "input",
            "block_id": "kind",
            "label": {"type": "plain_text", "text": "Kind"},
            "element": {
                "type": "static_select",
                "action_id": "choice",
                "options": [
                    {"text": {"type": "plain_text", "text": "Fixed"}, "value": "fixed"},
                    {"text": {"type": "plain_text", "text": "Hourly"}, "value": "hourly"},
                ],
            },
        },
    ],
}


# ---- a real bolt app -----------------------------------------------------------------------


@dataclass
class BoltBot:
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    def bodies(self, kind: str) -> list[dict[str, Any]]:
        return [body for body in self.seen if body.get("type") == kind]


def build_bolt_app(sim: SlackSim, seen: list[dict[str, Any]]) -> AsyncApp:
    client = AsyncWebClient(token=sim.bot_token, base_url=sim.api_url)
    app = AsyncApp(client=client, signing_secret=sim.signing_secret)

    @app.command("/opentrain")
    async def command(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        seen.append({"type": "command", **body})
        verb = body["text"].split(" ")[0]
        if verb == "status":
            await ack("All systems go")
            return
        await ack()
        if verb == "hire":
            await client.views_open(trigger_id=body["trigger_id"], view=HIRE_MODAL)
        elif verb == "announce":
            await respond(response_type="in_channel", text="Payout approved")
        elif verb == "card":
            await client.chat_postMessage(
                channel=body["channel_id"], text="Fund ms_1?", blocks=CARD_BLOCKS
            )

    @app.action("fund")
    async def fund(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen.append(body)
        await respond(replace_original=True, text="Funding requested")

    @app.action("refresh")
    async def refresh(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body)

    @app.view("hire")
    async def hire(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        seen.append(body)
        amount = view["state"]["values"]["amount"]["value"]["value"]
        if not amount.replace(".", "", 1).isdigit():
            await ack(response_action="errors", errors={"amount": "Enter an amount like 120.00"})
            return
        await ack()
        await client.chat_postMessage(channel="C0HIRING", text=f"Hire requested: ${amount}")

    @app.event("link_shared")
    async def link_shared(event: dict[str, Any], client: AsyncWebClient) -> None:
        seen.append(event)
        unfurls = {
            link["url"]: {
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "apr_1"}}]
            }
            for link in event["links"]
        }
        await client.chat_unfurl(channel=event["channel"], ts=event["message_ts"], unfurls=unfurls)

    @app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        seen.append(event)
        await client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "action_id": "refresh",
                                "text": {"type": "plain_text", "text": "Refresh"},
                            }
                        ],
                    }
                ],
            },
        )

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        seen.append(event)

    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def bolt_bot(slack_sim: SlackSim) -> AsyncIterator[BoltBot]:
    seen: list[dict[str, Any]] = []
    runner, origin = await serve(build_bolt_app(slack_sim, seen).web_app(path="/slack/events"))
    bot = BoltBot(url=f"{origin}/slack/events", seen=seen)
    slack_sim.bot_url = bot.url
    yield bot
    await runner.cleanup()


async def test_bolt_accepts_a_signed_slash_command(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    result = await slack_sim.send_command(
        command="/opentrain", text="status", user_id="U0ANA", channel_id="C0GENERAL"
    )
    assert result.status == 200
    assert result.timed_out is False
    [command] = bolt_bot.bodies("command")
    assert (command["user_id"], command["channel_id"], command["text"]) == (
        "U0ANA",
        "C0GENERAL",
        "status",
    )
    # A command's direct answer is shown to the user who typed it, and nobody else.
    [ephemeral] = slack_sim.ephemerals("U0ANA")
    assert (ephemeral.text, ephemeral.source) == ("All systems go", "command_response")
    assert slack_sim.messages("C0GENERAL") == []
    assert slack_sim.state.deliveries[-1].status == 200


async def test_bolt_rejects_a_wrong_signing_secret(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    async with aiohttp.ClientSession() as http:
        await http.post(f"{slack_sim.origin}/_sim/config", json={"signingSecret": "not-bolts"})
    result = await slack_sim.send_command(
        command="/opentrain", text="status", user_id="U0ANA", channel_id="C0GENERAL"
    )
    assert result.status == 401
    assert bolt_bot.bodies("command") == []
    [ephemeral] = slack_sim.ephemerals("U0ANA")
    assert "dispatch_failed" in ephemeral.text


async def test_response_url_posts_are_recorded_and_in_channel_ones_posted(
    slack_sim: SlackSim, bolt_bot: BoltBot
) -> None:
    await slack_sim.send_command(
        command="/opentrain", text="announce", user_id="U0BEN", channel_id="C0HIRING"
    )
    messages = await wait_for(lambda: slack_sim.messages("C0HIRING"), message="the announcement")
    assert (messages[0].text, messages[0].source, messages[0].bot_id) == (
        "Payout approved",
        "response_url",
        "B0BOT",
    )
    [post] = slack_sim.state.response_posts
    assert (post.kind, post.outcome, post.body["response_type"]) == (
        "command",
        "posted",
        "in_channel",
    )


async def test_views_open_with_the_commands_trigger_then_submit(
    slack_sim: SlackSim, bolt_bot: BoltBot
) -> None:
    await slack_sim.send_command(
        command="/opentrain", text="hire prop_1", user_id="U0KAI", channel_id="C0HIRING"
    )
    [view] = await wait_for(lambda: slack_sim.state.open_views("U0KAI"), message="the modal")
    assert view.content["callback_id"] == "hire"

    invalid = await slack_sim.submit_view(
        user_id="U0KAI",
        view_id=view.id,
        values={"amount": {"value": "lots"}, "kind": {"choice": "fixed"}},
    )
    assert invalid.response_action == "errors"
    assert view.errors == {"amount": "Enter an amount like 120.00"}
    assert not view.closed

    valid = await slack_sim.submit_view(
        user_id="U0KAI",
        view_id=view.id,
        values={"amount": {"value": "120.00"}, "kind": {"choice": "hourly"}},
    )
    assert valid.status == 200
    assert valid.response_action is None
    assert view.closed
    submission = bolt_bot.bodies("view_submission")[-1]
    values = submission["view"]["state"]["values"]
    assert values["amount"]["value"] == {"type": "plain_text_input", "value": "120.00"}
    assert values["kind"]["choice"]["selected_option"]["value"] == "hourly"
    assert values["due"]["date"] == {"type": "datepicker", "selected_date": None}
    assert submission["view"]["private_metadata"] == "prop_1"
    await wait_for(lambda: slack_sim.messages("C0HIRING"), message="the hire message")
    assert slack_sim.messages("C0HIRING")[0].text == "Hire requested: $120.00"


async def test_submitting_like_slacks_client_would(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    trigger = slack_sim.state.issue_trigger("U0ANA")
    opened = await AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url).views_open(
        trigger_id=trigger.id, view=HIRE_MODAL
    )
    view_id = opened["view"]["id"]
    with pytest.raises(SimUsageError, match="required input kind"):
        await slack_sim.submit_view(
            user_id="U0ANA", view_id=view_id, values={"amount": {"value": "1"}}
        )
    with pytest.raises(SimUsageError, match="no option"):
        await slack_sim.submit_view(
            user_id="U0ANA",
            view_id=view_id,
            values={"amount": {"value": "1"}, "kind": {"choice": "monthly"}},
        )
    with pytest.raises(SimUsageError, match="at most 12"):
        await slack_sim.submit_view(
            user_id="U0ANA",
            view_id=view_id,
            values={"amount": {"value": "1" * 13}, "kind": {"choice": "fixed"}},
        )
    with pytest.raises(SimUsageError, match="no open view"):
        await slack_sim.submit_view(user_id="U0BEN", view_id=view_id, values={})
    assert bolt_bot.bodies("view_submission") == []


async def test_a_button_click_reaches_bolt_and_respond_replaces_the_card(
    slack_sim: SlackSim, bolt_bot: BoltBot
) -> None:
    await slack_sim.send_command(
        command="/opentrain", text="card", user_id="U0ANA", channel_id="C0GENERAL"
    )
    [card] = await wait_for(lambda: slack_sim.messages("C0GENERAL"), message="the card")
    result = await slack_sim.click(
        user_id="U0BEN", channel_id="C0GENERAL", message_ts=card.ts, action_id="fund"
    )
    assert result.status == 200
    [click] = bolt_bot.bodies("block_actions")
    assert click["actions"][0]["block_id"] == "card_actions"
    assert click["actions"][0]["value"] == "ms_1"
    assert click["actions"][0]["type"] == "button"
    assert click["message"]["ts"] == card.ts
    assert click["container"] == {
        "type": "message",
        "message_ts": card.ts,
        "channel_id": "C0GENERAL",
        "is_ephemeral": False,
    }
    await wait_for(lambda: card.edits, message="the card to be replaced")
    assert card.text == "Funding requested"
    assert slack_sim.state.response_posts[-1].outcome == "replaced"
    with pytest.raises(SimUsageError, match="no element"):
        await slack_sim.click(
            user_id="U0BEN", channel_id="C0GENERAL", message_ts=card.ts, action_id="cancel"
        )


async def test_views_open_with_an_old_trigger_fails(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    await slack_sim.send_command(
        command="/opentrain", text="status", user_id="U0LEI", channel_id="C0GENERAL"
    )
    [command] = bolt_bot.bodies("command")
    # Pretend the bot took longer than Slack's three seconds before opening its modal.
    slack_sim.state.triggers[command["trigger_id"]].issued_at -= 3.1
    client = AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url)
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=command["trigger_id"], view=HIRE_MODAL)
    assert refused.value.response.status_code == 200
    assert refused.value.response.data == {"ok": False, "error": "expired_trigger_id"}


async def test_link_shared_lets_bolt_unfurl(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    url = "https://app.opentrain.test/approvals/apr_1"
    result = await slack_sim.share_link(user_id="U0ANA", channel_id="C0GENERAL", url=url)
    assert result.status == 200
    await wait_for(lambda: slack_sim.state.unfurls, message="the unfurl")
    [message] = slack_sim.messages("C0GENERAL")
    assert message.user == "U0ANA"
    assert url in message.unfurls
    [event] = [body for body in bolt_bot.seen if body.get("type") == "link_shared"]
    assert event["links"] == [{"domain": "app.opentrain.test", "url": url}]


async def test_user_messages_reach_a_member_bot_and_share_registered_links(
    make_slack_sim_with_bot: Callable[..., Any],
) -> None:
    sim, bot = await make_slack_sim_with_bot(unfurl_domains=["app.opentrain.test"])
    _, results = await sim.driver.post_user_message(
        user_id="U0BEN",
        channel_id="C0HIRING",
        text="please look at https://app.opentrain.test/approvals/apr_2 and https://example.com",
    )
    assert [r.status for r in results] == [200, 200]
    await wait_for(lambda: sim.state.unfurls, message="the unfurl")
    assert [u.url for u in sim.state.unfurls] == ["https://app.opentrain.test/approvals/apr_2"]
    assert [e["channel_type"] for e in bot.bodies("message")] == ["channel"]
    # The bot is not in #finance-private: it hears nothing from there.
    _, private = await sim.driver.post_user_message(
        user_id="U0ANA", channel_id="C0PRIVATE", text="secret"
    )
    assert private == []


async def test_home_tab_opens_and_its_buttons_click(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    await slack_sim.driver.open_home("U0ANA")
    home = await wait_for(lambda: slack_sim.state.home_view("U0ANA"), message="the home tab")
    assert home is not None
    result = await slack_sim.click(user_id="U0ANA", view_id=home.id, action_id="refresh")
    assert result.status == 200
    [click] = bolt_bot.bodies("block_actions")
    assert click["container"] == {"type": "view", "view_id": home.id}
    assert click["view"]["type"] == "home"
    assert "response_url" not in click


async def test_url_verification_is_answered_by_bolt(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    result = await slack_sim.driver.verify_url()
    assert result.status == 200
    assert result.rejected is None


# ---- a raw receiver, for the exact bytes ---------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.form()["payload"])
        return result


@dataclass
class RawBot:
    url: str
    received: list[Received] = field(default_factory=list)
    answer: Callable[[], web.StreamResponse] = lambda: web.Response()
    delay_s: float = 0.0


@pytest.fixture
async def raw_bot(slack_sim: SlackSim) -> AsyncIterator[RawBot]:
    bot = RawBot(url="")

    async def receive(request: web.Request) -> web.StreamResponse:
        bot.received.append(Received(dict(request.headers), await request.read()))
        if bot.delay_s:
            await asyncio.sleep(bot.delay_s)  # a slow bot, on purpose
        return bot.answer()

    app = web.Application()
    app.router.add_post("/slack/events", receive)
    runner, origin = await serve(app)
    bot.url = slack_sim.bot_url = f"{origin}/slack/events"
    yield bot
    await runner.cleanup()


async def test_every_delivery_is_signed_like_slack(slack_sim: SlackSim, raw_bot: RawBot) -> None:
    await slack_sim.send_command(
        command="/opentrain", text="fund ms_1", user_id="U0ANA", channel_id="C0GENERAL"
    )
    await slack_sim.send_event({"type": "app_mention", "user": "U0ANA", "text": "hi"})
    verifier = SignatureVerifier(slack_sim.signing_secret)
    for received in raw_bot.received:
        assert received.headers["X-Slack-Signature"].startswith("v0=")
        assert verifier.is_valid(
            body=received.body,
            timestamp=received.headers["X-Slack-Request-Timestamp"],
            signature=received.headers["X-Slack-Signature"],
        )
    form = raw_bot.received[0].form()
    assert form["command"] == "/opentrain"
    assert form["team_id"] == "T0SANDBOX"
    assert form["channel_name"] == "general"
    assert form["user_name"] == "ana"
    assert form["response_url"].startswith(f"{slack_sim.origin}/_sim/response/")
    assert form["trigger_id"] in slack_sim.state.triggers
    envelope = json.loads(raw_bot.received[1].body)
    assert envelope["type"] == "event_callback"
    assert envelope["event"]["type"] == "app_mention"
    assert envelope["authorizations"][0]["user_id"] == "U0BOT"


async def test_event_retries_carry_slacks_retry_headers(
    slack_sim: SlackSim, raw_bot: RawBot
) -> None:
    event = {"type": "app_mention", "user": "U0ANA", "text": "hi", "channel": "C0GENERAL"}
    await slack_sim.send_event(event, event_id="Ev0FIRST")
    await slack_sim.send_event(event, event_id="Ev0FIRST", retry_num=1, retry_reason="http_timeout")
    first, retry = raw_bot.received
    assert "X-Slack-Retry-Num" not in first.headers
    assert (retry.headers["X-Slack-Retry-Num"], retry.headers["X-Slack-Retry-Reason"]) == (
        "1",
        "http_timeout",
    )
    assert json.loads(first.body)["event_id"] == json.loads(retry.body)["event_id"] == "Ev0FIRST"


async def test_slow_answers_time_out_like_slack(slack_sim: SlackSim, raw_bot: RawBot) -> None:
    slack_sim.config.ack_timeout_ms = 50  # instead of waiting Slack's full three seconds
    raw_bot.delay_s = 0.2
    result = await slack_sim.send_command(
        command="/opentrain", text="status", user_id="U0ANA", channel_id="C0GENERAL"
    )
    assert result.status == 200
    assert result.timed_out is True
    assert result.elapsed_ms >= 200
    [ephemeral] = slack_sim.ephemerals("U0ANA")
    assert ephemeral.text == '/opentrain failed with the error "operation_timeout"'
    assert slack_sim.state.deliveries[-1].timed_out is True


async def test_ephemeral_buttons_and_response_url_limits(
    slack_sim: SlackSim, raw_bot: RawBot
) -> None:
    client = AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url)
    posted = await client.chat_postEphemeral(
        channel="C0GENERAL", user="U0ANA", text="Fund?", blocks=CARD_BLOCKS
    )
    await slack_sim.click(
        user_id="U0ANA", channel_id="C0GENERAL", message_ts=posted["message_ts"], action_id="fund"
    )
    payload = raw_bot.received[-1].payload()
    assert payload["container"]["is_ephemeral"] is True
    assert "message" not in payload
    async with aiohttp.ClientSession() as http:
        replaced = await http.post(
            payload["response_url"], json={"replace_original": True, "text": "Done"}
        )
        assert replaced.status == 200
        [ephemeral] = slack_sim.ephemerals("U0ANA")
        assert (ephemeral.text, ephemeral.replaced) == ("Done", 1)
        for _ in range(4):
            await http.post(payload["response_url"], json={"text": "again"})
        sixth = await http.post(payload["response_url"], json={"text": "too many"})
        assert sixth.status == 404
        assert (await sixth.json())["error"] == "used_url"


async def test_view_answers_update_push_and_clear(slack_sim: SlackSim, raw_bot: RawBot) -> None:
    client = AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url)
    opened = await client.views_open(
        trigger_id=slack_sim.state.issue_trigger("U0BEN").id, view=HIRE_MODAL
    )
    view = slack_sim.state.views[opened["view"]["id"]]
    values = {"amount": {"value": "5"}, "kind": {"choice": "fixed"}}
    step_two = {**HIRE_MODAL, "title": {"type": "plain_text", "text": "Confirm"}}

    raw_bot.answer = lambda: web.json_response({"response_action": "update", "view": step_two})
    updated = await slack_sim.submit_view(user_id="U0BEN", view_id=view.id, values=values)
    assert updated.response_action == "update"
    assert view.content["title"]["text"] == "Confirm"

    raw_bot.answer = lambda: web.json_response({"response_action": "push", "view": HIRE_MODAL})
    await slack_sim.submit_view(user_id="U0BEN", view_id=view.id, values=values)
    assert len(slack_sim.state.modal_stack("U0BEN")) == 2

    raw_bot.answer = lambda: web.json_response(
        {"response_action": "errors", "errors": {"not_an_input": "x"}}
    )
    rejected = await slack_sim.submit_view(user_id="U0BEN", view_id=view.id, values=values)
    assert rejected.rejected == "invalid_errors"

    raw_bot.answer = lambda: web.json_response({"response_action": "clear"})
    await slack_sim.submit_view(user_id="U0BEN", view_id=view.id, values=values)
    assert slack_sim.state.modal_stack("U0BEN") == []


async def test_the_driver_refuses_what_no_user_could_do(
    slack_sim: SlackSim, raw_bot: RawBot
) -> None:
    with pytest.raises(SimUsageError, match="not in"):
        await slack_sim.send_command(
            command="/opentrain", text="", user_id="U0LEI", channel_id="C0PRIVATE"
        )
    with pytest.raises(SimUsageError, match="deactivated"):
        await slack_sim.send_command(
            command="/opentrain", text="", user_id="U0GONE", channel_id="C0GENERAL"
        )
    assert raw_bot.received == []


# ---- the control API drives the same way ---------------------------------------------------


async def test_control_endpoints_drive_the_bot(slack_sim: SlackSim, bolt_bot: BoltBot) -> None:
    async with aiohttp.ClientSession(base_url=slack_sim.origin) as http:
        answer = await http.post(
            "/_sim/command",
            json={
                "command": "/opentrain",
                "text": "card",
                "user_id": "U0ANA",
                "channel_id": "C0GENERAL",
            },
        )
        delivery = await answer.json()
        assert (delivery["status"], delivery["timed_out"]) == (200, False)
        [card] = await wait_for(lambda: slack_sim.messages("C0GENERAL"), message="the card")
        clicked = await http.post(
            "/_sim/action",
            json={
                "user_id": "U0BEN",
                "channel_id": "C0GENERAL",
                "message_ts": card.ts,
                "action_id": "fund",
                "value": "ms_1",
            },
        )
        assert (await clicked.json())["status"] == 200
        refused = await http.post(
            "/_sim/action",
            json={
                "user_id": "U0BEN",
                "channel_id": "C0GENERAL",
                "message_ts": card.ts,
                "action_id": "x",
            },
        )
        assert refused.status == 400
        event = await http.post(
            "/_sim/event", json={"type": "app_home_opened", "user": "U0KAI", "tab": "home"}
        )
        assert (await event.json())["status"] == 200
        state = await (await http.get("/_sim/state")).json()
    kinds = [d["kind"] for d in state["deliveries"]]
    assert kinds == ["command", "block_actions", "event"]
    assert state["channels"][0]["messages"][0]["ts"] == card.ts


@pytest.fixture
async def make_slack_sim_with_bot(
    make_slack_sim: Callable[..., Any],
) -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []

    async def make(**options: Any) -> tuple[SlackSim, BoltBot]:
        sim: SlackSim = await make_slack_sim(**options)
        seen: list[dict[str, Any]] = []
        runner, origin = await serve(build_bolt_app(sim, seen).web_app(path="/slack/events"))
        runners.append(runner)
        bot = BoltBot(url=f"{origin}/slack/events", seen=seen)
        sim.bot_url = bot.url
        return sim, bot

    yield make
    for runner in runners:
        await runner.cleanup()
