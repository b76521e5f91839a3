"""The simulated workspace's people: members, a guest and a Slack Connect user, over real HTTP.

The demo seed has a multi-channel guest (U0GUEST, Gina) and a Slack Connect user of
the partner organisation T0PARTNER (U0EXT, Omar), both only in #hiring, which is
shared with that partner. The bot decides permissions from who acts, so the simulator
must report them, in the Web API and in what it sends the bot, as Slack does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.config import DEFAULT_SCOPES
from bot.sandbox.slack.errors import SimUsageError
from tests.support.slack_sim import CARD_BLOCKS, MakeSlackSim, client_for, modal, slack_error

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")

OURS, PARTNER = "T0SANDBOX", "T0PARTNER"
GUEST, EXTERNAL = "U0GUEST", "U0EXT"
HIDDEN = "W0WALT"  # Slack Connect, profile kept by the partner


@dataclass
class Bot:
    """A bot that answers 200 to everything and keeps what Slack sent it."""

    bodies: list[tuple[str, bytes]] = field(default_factory=list)

    def forms(self) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(body.decode()).items()}
            for kind, body in self.bodies
            if kind.startswith("application/x-www-form-urlencoded")
        ]

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        found = [json.loads(form["payload"]) for form in self.forms() if "payload" in form]
        return [payload for payload in found if payload["type"] == kind]

    def commands(self) -> list[dict[str, str]]:
        return [form for form in self.forms() if "command" in form]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for kind, body in self.bodies if kind == "application/json"]


@pytest.fixture
async def bot(slack_sim: SlackSim) -> AsyncIterator[Bot]:
    received = Bot()

    async def receive(request: web.Request) -> web.StreamResponse:
        received.bodies.append((request.content_type, await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    slack_sim.bot_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    yield received
    await runner.cleanup()


# ---- users.info --------------------------------------------------------------------------


async def test_users_info_reports_a_guest_and_a_slack_connect_user(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    guest = (await client.users_info(user=GUEST))["user"]
    assert (guest["name"], guest["real_name"], guest["tz"]) == (
        "gina",
        "Gina Guest",
        "Europe/London",
    )
    assert (guest["is_restricted"], guest["is_ultra_restricted"]) == (True, False)
    assert (guest["team_id"], guest["profile"]["team"]) == (OURS, OURS)
    assert "is_stranger" not in guest  # a guest is still one of the workspace's own

    external = (await client.users_info(user=EXTERNAL))["user"]
    assert (external["name"], external["tz"]) == ("omar", "America/Los_Angeles")
    assert (external["team_id"], external["profile"]["team"]) == (PARTNER, PARTNER)
    assert external["is_stranger"] is True
    assert (external["is_restricted"], external["is_admin"], external["is_owner"]) == (
        False,
        False,
        False,
    )

    ana = (await client.users_info(user="U0ANA"))["user"]
    assert (ana["team_id"], ana["is_admin"], ana["is_owner"], ana["is_primary_owner"]) == (
        OURS,
        True,
        False,
        False,
    )
    assert (ana["is_restricted"], ana["is_ultra_restricted"]) == (False, False)
    assert "is_stranger" not in ana


# ---- users.list --------------------------------------------------------------------------


async def test_users_list_is_the_workspaces_own_directory(slack_sim: SlackSim) -> None:
    response = await client_for(slack_sim).users_list()
    members = {member["id"]: member for member in response["members"]}
    own = {u.id for u in slack_sim.state.users.values() if u.team_id is None}
    # Deactivated people, guests and bots are listed; Slack Connect users are not.
    assert set(members) == own
    assert {"U0GONE", GUEST, "U0BOT", "U0OTHERBOT"} <= set(members)
    assert EXTERNAL not in members
    assert members["U0GONE"]["deleted"] is True
    assert members[GUEST]["is_restricted"] is True
    assert response["response_metadata"]["next_cursor"] == ""
    assert isinstance(response["cache_ts"], int)
    assert "locale" not in members["U0ANA"]
    with_locale = await client_for(slack_sim).users_list(include_locale=True)
    assert {m["locale"] for m in with_locale["members"]} == {"en-US"}


async def test_users_list_pages_with_a_cursor(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await client.users_list(limit=3, cursor=cursor)
        assert len(page["members"]) <= 3
        seen += [member["id"] for member in page["members"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    everyone = [m["id"] for m in (await client.users_list(limit=0))["members"]]
    assert len(seen) == len(set(seen)) == len(everyone) > 3
    assert set(seen) == set(everyone)
    bad = await slack_error(client.users_list(cursor="not-a-cursor"))
    assert bad["error"] == "invalid_cursor"


async def test_users_list_needs_users_read(make_slack_sim: MakeSlackSim) -> None:
    sim = await make_slack_sim(scopes=DEFAULT_SCOPES - {"users:read"})
    body = await slack_error(client_for(sim).users_list())
    assert (body["error"], body["needed"]) == ("missing_scope", "users:read")


# ---- #hiring, the Slack Connect channel ----------------------------------------------------


async def test_a_slack_connect_user_whose_profile_is_kept_is_unknown_to_lookups(
    slack_sim: SlackSim,
) -> None:
    client = client_for(slack_sim)
    assert (await slack_error(client.users_info(user=HIDDEN)))["error"] == "user_not_found"
    opened = await slack_error(client.conversations_open(users=HIDDEN))
    assert opened["error"] == "user_not_found"
    # … yet they are in #hiring, where an ephemeral reaches them.
    await client.chat_postEphemeral(channel="C0HIRING", user=HIDDEN, text="only Walt")


async def test_hiring_is_shared_and_lists_its_outsiders(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    members = await client.conversations_members(channel="C0HIRING")
    assert {GUEST, EXTERNAL} <= set(members["members"])
    everyone = {"U0ANA", "U0BEN", "U0KAI", GUEST, EXTERNAL, HIDDEN, "U0BOT"}
    assert set(members["members"]) == everyone
    info = (await client.conversations_info(channel="C0HIRING", include_num_members=True))[
        "channel"
    ]
    assert (info["is_shared"], info["is_ext_shared"], info["num_members"]) == (True, True, 7)
    assert info["context_team_id"] == OURS
    general = (await client.conversations_info(channel="C0GENERAL"))["channel"]
    assert (general["is_shared"], general["is_ext_shared"]) == (False, False)
    everyone_in_general = (await client.conversations_members(channel="C0GENERAL"))["members"]
    assert not {GUEST, EXTERNAL} & set(everyone_in_general)


# ---- what the bot is sent --------------------------------------------------------------------


async def test_a_click_carries_the_acting_users_own_team(slack_sim: SlackSim, bot: Bot) -> None:
    card = await client_for(slack_sim).chat_postMessage(
        channel="C0HIRING", text="Fund ms_1?", blocks=CARD_BLOCKS
    )
    for user_id in (EXTERNAL, "U0BEN", GUEST):
        await slack_sim.click(
            user_id=user_id, channel_id="C0HIRING", message_ts=card["ts"], action_id="fund"
        )
    external, member, guest = bot.payloads("block_actions")
    assert (external["user"]["id"], external["user"]["team_id"]) == (EXTERNAL, PARTNER)
    assert (member["user"]["id"], member["user"]["team_id"]) == ("U0BEN", OURS)
    assert (guest["user"]["id"], guest["user"]["team_id"]) == (GUEST, OURS)
    # The workspace the app is installed in stays ours.
    assert {p["team"]["id"] for p in (external, member, guest)} == {OURS}


async def test_a_submission_carries_the_acting_users_own_team(
    slack_sim: SlackSim, bot: Bot
) -> None:
    client = client_for(slack_sim)
    for user_id in (EXTERNAL, "U0KAI"):
        opened = await client.views_open(
            trigger_id=slack_sim.state.issue_trigger(user_id).id, view=modal()
        )
        await slack_sim.submit_view(
            user_id=user_id, view_id=opened["view"]["id"], values={"amount": {"value": "120"}}
        )
    external, member = bot.payloads("view_submission")
    assert (external["user"]["id"], external["user"]["team_id"]) == (EXTERNAL, PARTNER)
    assert (member["user"]["id"], member["user"]["team_id"]) == ("U0KAI", OURS)
    assert external["team"]["id"] == member["team"]["id"] == OURS


async def test_a_slash_command_names_our_team_whoever_types_it(
    slack_sim: SlackSim, bot: Bot
) -> None:
    for user_id in (EXTERNAL, "U0ANA"):
        await slack_sim.send_command(
            command="/opentrain", text="status", user_id=user_id, channel_id="C0HIRING"
        )
    external, member = bot.commands()
    # Slack sends the workspace the command ran in and the user id, never the user's team.
    assert (external["team_id"], external["user_id"], external["user_name"]) == (
        OURS,
        EXTERNAL,
        "omar",
    )
    assert set(external) == set(member)


async def test_events_say_when_they_happen_in_a_shared_channel(
    slack_sim: SlackSim, bot: Bot
) -> None:
    await slack_sim.driver.post_user_message(user_id=EXTERNAL, channel_id="C0HIRING", text="hello")
    await slack_sim.driver.post_user_message(user_id="U0ANA", channel_id="C0GENERAL", text="hi")
    shared, internal = bot.events()
    assert (shared["event"]["user"], shared["is_ext_shared_channel"]) == (EXTERNAL, True)
    assert (internal["event"]["user"], internal["is_ext_shared_channel"]) == ("U0ANA", False)


async def test_outsiders_act_only_where_they_are_members(slack_sim: SlackSim, bot: Bot) -> None:
    card = await client_for(slack_sim).chat_postMessage(
        channel="C0GENERAL", text="Fund ms_1?", blocks=CARD_BLOCKS
    )
    # A member may click in any public channel; a guest or a Slack Connect user cannot see it.
    hiring_card = await client_for(slack_sim).chat_postMessage(
        channel="C0HIRING", text="Fund ms_1?", blocks=CARD_BLOCKS
    )
    await slack_sim.click(
        user_id="U0LEI", channel_id="C0HIRING", message_ts=hiring_card["ts"], action_id="fund"
    )
    for outsider in (GUEST, EXTERNAL):
        with pytest.raises(SimUsageError, match="is not in C0GENERAL"):
            await slack_sim.click(
                user_id=outsider, channel_id="C0GENERAL", message_ts=card["ts"], action_id="fund"
            )
        with pytest.raises(SimUsageError, match="is not in C0GENERAL"):
            await slack_sim.send_command(
                command="/opentrain", text="status", user_id=outsider, channel_id="C0GENERAL"
            )
    assert [p["user"]["id"] for p in bot.payloads("block_actions")] == ["U0LEI"]


async def test_the_control_api_adds_outsiders_outside_general(slack_sim: SlackSim) -> None:
    async with aiohttp.ClientSession(base_url=slack_sim.origin) as http:
        for body in (
            {"id": "U0GUEST2", "name": "gus", "is_restricted": True},
            {"id": "U0EXT2", "name": "pia", "team_id": PARTNER},
            {"id": "U0NEW", "name": "ned"},
        ):
            async with http.post("/_sim/users", json=body) as response:
                assert response.status == 200, await response.text()
        async with http.post("/_sim/users", json={"id": "U0EXT2", "team_id": OURS}) as response:
            assert response.status == 400  # a user's team is fixed when they are created
    client = client_for(slack_sim)
    assert (await client.users_info(user="U0EXT2"))["user"]["team_id"] == PARTNER
    assert (await client.users_info(user="U0GUEST2"))["user"]["is_restricted"] is True
    # New members land in #general; guests and people of another organisation do not.
    general = slack_sim.state.channels["C0GENERAL"].members
    assert "U0NEW" in general
    assert not {"U0GUEST2", "U0EXT2"} & general
