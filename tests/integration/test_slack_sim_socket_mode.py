"""The simulator speaking Socket Mode to a real slack-bolt app over a real WebSocket.

A tiny `AsyncApp` connects with bolt's `AsyncSocketModeHandler` (slack_sdk's aiohttp
Socket Mode client); every delivery then travels as an envelope the app acknowledges,
and the acknowledgement's payload is what Slack acts on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.errors import SimUsageError
from tests.support.slack_sim import CARD_BLOCKS, modal
from tests.support.wait import wait_for

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")

USER = "U0ANA"
CHANNEL = "C0HIRING"


@dataclass
class SocketBot:
    handler: AsyncSocketModeHandler
    seen: list[dict[str, Any]] = field(default_factory=list)
    frames: list[dict[str, Any]] = field(default_factory=list)  # what came down the socket

    def envelopes(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("type") == kind]

    def hellos(self) -> list[dict[str, Any]]:
        return self.envelopes("hello")


def build_app(sim: SlackSim, seen: list[dict[str, Any]]) -> AsyncApp:
    # No signing secret: Socket Mode deliveries are not signed, the socket is authenticated.
    app = AsyncApp(client=AsyncWebClient(token=sim.bot_token, base_url=sim.api_url))

    @app.command("/opentrain")
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        seen.append({"type": "command", **body})
        verb = body["text"].split(" ")[0]
        if verb == "hire":
            await ack()
            await client.views_open(trigger_id=body["trigger_id"], view=modal())
        else:
            await ack(text=f"All systems go for {body['user_name']}")

    @app.action("fund")
    async def fund(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        seen.append(body)
        await respond(replace_original=True, text="Funding requested")

    @app.view("hire")
    async def hire(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        seen.append(body)
        amount = view["state"]["values"]["amount"]["value"]["value"]
        if not amount.isdigit():
            await ack(response_action="errors", errors={"amount": "Enter an amount like 120"})
            return
        await ack()

    @app.event("app_mention")
    async def mention(event: dict[str, Any]) -> None:
        seen.append(event)

    return app


async def connect(sim: SlackSim, seen: list[dict[str, Any]]) -> SocketBot:
    handler = AsyncSocketModeHandler(build_app(sim, seen), sim.app_token)
    bot = SocketBot(handler, seen)

    async def record(_: AsyncBaseSocketModeClient, message: dict[str, Any], __: str | None) -> None:
        bot.frames.append(message)

    handler.client.message_listeners.append(record)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    await wait_for(bot.hellos, message="hello")
    return bot


@pytest.fixture
async def socket_bot(slack_sim: SlackSim) -> AsyncIterator[SocketBot]:
    bot = await connect(slack_sim, [])
    yield bot
    await bot.handler.close_async()  # type: ignore[no-untyped-call]


async def test_the_app_is_greeted_with_hello(slack_sim: SlackSim, socket_bot: SocketBot) -> None:
    [hello] = socket_bot.hellos()
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": slack_sim.state.app_id}
    ws_origin = slack_sim.origin.replace("http://", "ws://")
    assert socket_bot.handler.client.wss_uri.startswith(f"{ws_origin}/link/?ticket=")
    assert slack_sim.socket_mode.connections == 1


async def test_a_command_is_acked_with_its_reply(
    slack_sim: SlackSim, socket_bot: SocketBot
) -> None:
    result = await slack_sim.send_command(
        command="/opentrain", text="status", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()
    assert result.body == {"text": "All systems go for ana"}
    assert result.headers == {} and 0 < result.elapsed_ms < 3000
    [envelope] = socket_bot.envelopes("slash_commands")
    assert envelope["accepts_response_payload"] is True
    assert envelope["payload"]["command"] == "/opentrain"
    assert envelope["payload"]["text"] == "status"
    [reply] = slack_sim.ephemerals(USER)
    assert reply.text == "All systems go for ana"
    [delivery] = slack_sim.state.deliveries
    assert delivery.kind == "command" and delivery.status == 200 and not delivery.timed_out


async def test_a_view_submission_can_answer_with_errors(
    slack_sim: SlackSim, socket_bot: SocketBot
) -> None:
    await slack_sim.send_command(
        command="/opentrain", text="hire", user_id=USER, channel_id=CHANNEL
    )
    [view] = await wait_for(lambda: slack_sim.state.open_views(USER), message="modal")

    result = await slack_sim.submit_view(
        user_id=USER, view_id=view.id, values={"amount": {"value": "lots"}}
    )
    assert result.ok and result.response_action == "errors", result.to_dict()
    assert result.body == {
        "response_action": "errors",
        "errors": {"amount": "Enter an amount like 120"},
    }
    assert slack_sim.state.open_views(USER) == [view]  # the modal stays, showing the error
    [envelope] = socket_bot.envelopes("interactive")
    assert envelope["accepts_response_payload"] is True
    assert envelope["payload"]["type"] == "view_submission"

    accepted = await slack_sim.submit_view(
        user_id=USER, view_id=view.id, values={"amount": {"value": "120"}}
    )
    assert accepted.ok and accepted.response_action is None
    assert slack_sim.state.open_views(USER) == []


async def test_a_button_click_reaches_the_app(slack_sim: SlackSim, socket_bot: SocketBot) -> None:
    client = AsyncWebClient(token=slack_sim.bot_token, base_url=slack_sim.api_url)
    posted = await client.chat_postMessage(channel=CHANNEL, text="Fund ms_1?", blocks=CARD_BLOCKS)

    result = await slack_sim.click(
        user_id=USER, action_id="fund", channel_id=CHANNEL, message_ts=posted["ts"]
    )
    assert result.ok and result.body == "", result.to_dict()
    [envelope] = socket_bot.envelopes("interactive")
    assert envelope["accepts_response_payload"] is False
    assert envelope["payload"]["actions"][0]["value"] == "ms_1"
    [card] = await wait_for(
        lambda: [m for m in slack_sim.messages(CHANNEL) if m.text == "Funding requested"],
        message="card replaced through response_url",
    )
    assert card.ts == posted["ts"]


async def test_an_event_and_its_retry_reach_the_app(
    slack_sim: SlackSim, socket_bot: SocketBot
) -> None:
    event = {"type": "app_mention", "user": USER, "channel": CHANNEL, "text": "<@U0BOT> hi"}
    first = await slack_sim.send_event(event, event_id="Ev0SOCKET1")
    retry = await slack_sim.send_event(
        event, event_id="Ev0SOCKET1", retry_num=1, retry_reason="timeout"
    )
    assert first.ok and retry.ok
    envelopes = socket_bot.envelopes("events_api")
    assert [(e["retry_attempt"], e["retry_reason"]) for e in envelopes] == [
        (0, ""),
        (1, "timeout"),
    ]
    assert {e["payload"]["event_id"] for e in envelopes} == {"Ev0SOCKET1"}
    assert all(e["accepts_response_payload"] is False for e in envelopes)
    mentions = await wait_for(lambda: len(socket_bot.seen) == 2 and socket_bot.seen)
    assert [m["text"] for m in mentions] == ["<@U0BOT> hi", "<@U0BOT> hi"]


async def test_a_slow_ack_is_reported_as_timed_out(
    slack_sim: SlackSim, socket_bot: SocketBot
) -> None:
    # Any real round trip takes longer than a microsecond: the ack arrives, but too late.
    async with aiohttp.ClientSession() as http:
        response = await http.post(f"{slack_sim.origin}/_sim/config", json={"ackTimeoutMs": 0.001})
        assert response.status == 200

    result = await slack_sim.send_command(
        command="/opentrain", text="status", user_id=USER, channel_id=CHANNEL
    )
    assert result.status == 200 and result.timed_out and not result.ok
    assert result.body == {"text": "All systems go for ana"}  # acked, just late
    [shown] = slack_sim.ephemerals(USER)
    assert shown.text == '/opentrain failed with the error "operation_timeout"'
    assert slack_sim.state.deliveries[-1].timed_out


async def test_a_refresh_moves_deliveries_to_the_new_connection(
    slack_sim: SlackSim, socket_bot: SocketBot
) -> None:
    # slack_sdk handles `disconnect` itself (listeners never see it): it dials in anew.
    await slack_sim.socket_mode.refresh()
    await wait_for(lambda: len(socket_bot.hellos()) == 2, message="the second hello")
    await wait_for(lambda: slack_sim.socket_mode.connections == 1, message="old socket closed")

    result = await slack_sim.send_command(
        command="/opentrain", text="status", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()
    assert len(socket_bot.envelopes("slash_commands")) == 1


async def test_wrong_tokens_and_reused_urls_are_refused(slack_sim: SlackSim) -> None:
    client = AsyncWebClient(base_url=slack_sim.api_url)
    for token, error in [
        ("xapp-not-the-one", "invalid_auth"),
        (slack_sim.bot_token, "not_allowed_token_type"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await client.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error

    opened = await client.apps_connections_open(app_token=slack_sim.app_token)
    async with aiohttp.ClientSession() as http:
        missing = await http.post(f"{slack_sim.api_url}apps.connections.open")
        assert (await missing.json()) == {"ok": False, "error": "not_authed"}
        async with http.ws_connect(opened["url"]) as socket:
            hello = await socket.receive_json()
            assert hello["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as reused:
            await http.ws_connect(opened["url"])
        assert reused.value.status == 401


async def test_without_a_socket_deliveries_go_over_http(slack_sim: SlackSim) -> None:
    bot = await connect(slack_sim, [])
    await bot.handler.close_async()  # type: ignore[no-untyped-call]
    await wait_for(lambda: not slack_sim.socket_mode.connected, message="socket closed")

    # No socket and no bot URL: the HTTP transport is what complains.
    with pytest.raises(SimUsageError, match="no bot URL"):
        await slack_sim.send_command(
            command="/opentrain", text="status", user_id=USER, channel_id=CHANNEL
        )


async def test_stopping_the_simulator_hangs_up_on_the_app(
    slack_sim: SlackSim, socket_bot: SocketBot
) -> None:
    await slack_sim.stop()

    assert not slack_sim.socket_mode.connected
    assert not await socket_bot.handler.client.is_connected()
