"""The simulator's control API (`/_sim/*`) and its standalone entry point."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack import SlackSim
from tests.support.slack_sim import client_for


@pytest.fixture
async def http(slack_sim: SlackSim) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=slack_sim.origin) as session:
        yield session


async def post(http: aiohttp.ClientSession, path: str, body: Any) -> tuple[int, Any]:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def test_state_shows_the_demo_workspace(http: aiohttp.ClientSession) -> None:
    async with http.get("/_sim/state") as response:
        state = await response.json()
    assert state["team"]["id"] == "T0SANDBOX"
    assert {c["id"] for c in state["channels"]} == {
        "C0GENERAL",
        "C0HIRING",
        "C0PRIVATE",
        "C0ARCHIVED",
        "C0LABELING",
    }
    private = next(c for c in state["channels"] if c["id"] == "C0PRIVATE")
    assert (private["kind"], private["bot_is_member"]) == ("private", False)
    unjoined = next(c for c in state["channels"] if c["id"] == "C0LABELING")
    assert (unjoined["kind"], unjoined["bot_is_member"]) == ("public", False)
    kai = next(u for u in state["users"] if u["id"] == "U0KAI")
    assert kai["tz"] == "Pacific/Auckland"
    assert state["usergroups"][0]["users"] == ["U0ANA", "U0BEN"]
    assert state["stats"] == {"api_calls": {}, "rate_limited": 0, "deliveries": 0}
    # Secrets never leave through the control API.
    assert "signingSecret" not in state["config"]
    assert "xoxb" not in str(state["config"])


async def test_state_records_threads_edits_dms_and_ephemerals(
    slack_sim: SlackSim, http: aiohttp.ClientSession
) -> None:
    client = client_for(slack_sim)
    card = await client.chat_postMessage(channel="C0GENERAL", text="card")
    await client.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=card["ts"])
    await client.chat_update(channel="C0GENERAL", ts=card["ts"], text="card v2")
    await client.chat_postMessage(channel="U0ANA", text="psst")
    await client.chat_postEphemeral(channel="C0GENERAL", user="U0BEN", text="only Ben")
    async with http.get("/_sim/state") as response:
        state = await response.json()
    general = next(c for c in state["channels"] if c["id"] == "C0GENERAL")
    [message] = general["messages"]
    assert (message["text"], message["edits"], message["bot_id"]) == ("card v2", 1, "B0BOT")
    assert [reply["text"] for reply in message["replies"]] == ["reply"]
    [dm] = state["dms"]
    assert (dm["user"], dm["messages"][0]["text"]) == ("U0ANA", "psst")
    assert [(e["user"], e["text"]) for e in state["ephemerals"]] == [("U0BEN", "only Ben")]
    assert state["stats"]["api_calls"]["chat.postMessage"] == 3


async def test_config_changes_scopes_and_the_bot_url(
    slack_sim: SlackSim, http: aiohttp.ClientSession
) -> None:
    status, body = await post(
        http, "/_sim/config", {"botUrl": "http://127.0.0.1:9/slack/events", "scopes": "chat:write"}
    )
    assert status == 200
    assert body["config"]["scopes"] == ["chat:write"]
    assert slack_sim.bot_url == "http://127.0.0.1:9/slack/events"
    with pytest.raises(SlackApiError) as refused:
        await client_for(slack_sim).usergroups_list()
    assert refused.value.response.data["needed"] == "usergroups:read"
    status, body = await post(http, "/_sim/config", {"noSuchSetting": True})
    assert (status, body["error"]) == (400, "invalid_body")


async def test_channels_can_be_created_joined_and_archived(
    slack_sim: SlackSim, http: aiohttp.ClientSession
) -> None:
    status, body = await post(
        http, "/_sim/channels", {"name": "payouts", "kind": "private", "members": ["U0ANA"]}
    )
    assert status == 200
    payouts = body["channel"]["id"]
    client = client_for(slack_sim)
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=payouts, text="x")
    await post(http, "/_sim/channels", {"id": payouts, "add_members": ["U0BOT"]})
    await client.chat_postMessage(channel=payouts, text="now I can")
    await post(http, "/_sim/channels", {"id": payouts, "archived": True})
    with pytest.raises(SlackApiError) as archived:
        await client.chat_postMessage(channel=payouts, text="x")
    assert archived.value.response.data["error"] == "is_archived"
    status, body = await post(http, "/_sim/channels", {"id": payouts, "add_members": ["U0NOBODY"]})
    assert status == 400


async def test_users_can_be_added_and_changed(
    slack_sim: SlackSim, http: aiohttp.ClientSession
) -> None:
    status, body = await post(
        http, "/_sim/users", {"id": "U0MIA", "name": "mia", "tz": "Asia/Tokyo"}
    )
    assert status == 200
    assert (body["user"]["tz_offset"], body["user"]["tz_label"]) == (
        9 * 3600,
        "Japan Standard Time",
    )
    assert "U0MIA" in slack_sim.state.channels["C0GENERAL"].members
    await post(http, "/_sim/users", {"id": "U0BEN", "deleted": True})
    ben = (await client_for(slack_sim).users_info(user="U0BEN"))["user"]
    assert ben["deleted"] is True
    status, body = await post(http, "/_sim/users", {"id": "U0MIA", "tz": "Mars/Olympus"})
    assert status == 400


async def test_events_long_poll_wakes_on_the_next_change(
    slack_sim: SlackSim, http: aiohttp.ClientSession
) -> None:
    async with http.get("/_sim/events", params={"after": "0", "timeout": "1"}) as response:
        now = await response.json()
    seq = now["seq"]

    async def next_change() -> dict[str, Any]:
        async with http.get("/_sim/events", params={"after": str(seq), "timeout": "10"}) as r:
            result: dict[str, Any] = await r.json()
            return result

    waiting = asyncio.create_task(next_change())
    await client_for(slack_sim).chat_postMessage(channel="C0HIRING", text="news")
    changes = await asyncio.wait_for(waiting, timeout=5)
    assert changes["seq"] > seq
    assert changes["changes"][0]["kind"] == "message"
    assert changes["changes"][0]["channel"] == "C0HIRING"


async def test_driving_without_a_bot_url_is_refused(http: aiohttp.ClientSession) -> None:
    status, body = await post(
        http,
        "/_sim/command",
        {"command": "/opentrain", "text": "", "user_id": "U0ANA", "channel_id": "C0GENERAL"},
    )
    assert status == 400
    assert "no bot URL" in body["error"]


async def test_typing_without_a_link_sends_no_composer_preview(
    http: aiohttp.ClientSession,
) -> None:
    status, body = await post(
        http, "/_sim/composer", {"user_id": "U0ANA", "channel_id": "C0GENERAL", "text": "hi"}
    )
    assert (status, body) == (200, {"ok": True, "delivery": None})


async def test_faults_can_be_listed_and_cleared(http: aiohttp.ClientSession) -> None:
    status, body = await post(http, "/_sim/faults", {"path": "chat.postMessage", "status": 500})
    assert status == 200
    assert body["faults"][0]["path"] == "chat.postMessage"
    async with http.delete("/_sim/faults") as response:
        assert (await response.json())["faults"] == []
    async with http.get("/_sim/state") as response:
        assert (await response.json())["faults"] == []


async def test_a_fault_after_acting_posts_then_answers_the_error(
    slack_sim: SlackSim, http: aiohttp.ClientSession
) -> None:
    await post(
        http,
        "/_sim/faults",
        {"path": "chat.postMessage", "status": 500, "afterActing": True, "count": 1},
    )
    with pytest.raises(SlackApiError):
        await client_for(slack_sim).chat_postMessage(channel="C0GENERAL", text="after acting")
    async with http.get("/_sim/state") as response:
        state = await response.json()
    general = next(c for c in state["channels"] if c["id"] == "C0GENERAL")
    assert [m["text"] for m in general["messages"]] == ["after acting"]  # posted, answer lost


async def test_runs_standalone_and_prints_its_urls() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.slack",
        "--port",
        "0",
        "--signing-secret",
        "standalone-secret",
        "--app-token",
        "xapp-standalone",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first_line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        origin = first_line.split()[-1]
        assert origin.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{origin}/_sim/state") as response:
                assert (await response.json())["team"]["id"] == "T0SANDBOX"
            socket_url = f"{origin}/api/apps.connections.open"
            headers = {"Authorization": "Bearer xapp-standalone"}
            async with http.post(socket_url, headers=headers) as response:
                opened = await response.json()
        assert opened["ok"] and opened["url"].startswith("ws://127.0.0.1:"), opened
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
