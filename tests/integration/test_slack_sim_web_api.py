"""The Slack simulator's Web API, driven with slack_sdk's AsyncWebClient over real HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.config import DEFAULT_SCOPES
from tests.support.slack_sim import MakeSlackSim, client_for, modal, slack_error

pytestmark = pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")

HISTORY_SCOPES = DEFAULT_SCOPES | {"channels:history", "groups:history", "im:history", "im:read"}
CARD_METADATA = {"event_type": "opentrain_approval", "event_payload": {"approvalId": "apr_1"}}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str, action_id: str = "go", **extra: Any) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        **extra,
    }


@pytest.fixture
async def history_sim(make_slack_sim: MakeSlackSim) -> SlackSim:
    return await make_slack_sim(scopes=HISTORY_SCOPES)


# ---- auth ----------------------------------------------------------------------------------


async def test_auth_test_identifies_the_bot_and_lists_scopes(slack_sim: SlackSim) -> None:
    response = await client_for(slack_sim).auth_test()
    assert response["user_id"] == "U0BOT"
    assert response["bot_id"] == "B0BOT"
    assert response["team_id"] == "T0SANDBOX"
    assert set(response.headers["x-oauth-scopes"].split(",")) == DEFAULT_SCOPES


async def test_calls_without_or_with_a_wrong_token_are_refused(slack_sim: SlackSim) -> None:
    no_token = AsyncWebClient(base_url=slack_sim.api_url)
    assert (await slack_error(no_token.auth_test()))["error"] == "not_authed"
    wrong = client_for(slack_sim, token="xoxb-not-the-one")
    assert (await slack_error(wrong.auth_test()))["error"] == "invalid_auth"


async def test_form_posts_may_carry_the_token_but_json_bodies_may_not(slack_sim: SlackSim) -> None:
    async with aiohttp.ClientSession() as http:
        form = await http.post(f"{slack_sim.api_url}auth.test", data={"token": slack_sim.bot_token})
        assert (await form.json())["ok"] is True
        as_json = await http.post(
            f"{slack_sim.api_url}auth.test", json={"token": slack_sim.bot_token}
        )
        assert (await as_json.json())["error"] == "not_authed"


async def test_missing_scope_names_what_is_needed_and_provided(
    make_slack_sim: MakeSlackSim,
) -> None:
    sim = await make_slack_sim(scopes={"chat:write"})
    body = await slack_error(client_for(sim).users_info(user="U0ANA"))
    assert body == {
        "ok": False,
        "error": "missing_scope",
        "needed": "users:read",
        "provided": "chat:write",
    }


async def test_unknown_methods_are_refused(slack_sim: SlackSim) -> None:
    body = await slack_error(client_for(slack_sim).api_call("chat.nonsense"))
    assert body["error"] == "unknown_method"


# ---- chat.postMessage ----------------------------------------------------------------------


async def test_post_message_records_text_blocks_and_metadata(slack_sim: SlackSim) -> None:
    response = await client_for(slack_sim).chat_postMessage(
        channel="C0GENERAL", text="Approve?", blocks=[section("*Hire*")], metadata=CARD_METADATA
    )
    assert response["channel"] == "C0GENERAL"
    assert response["message"]["bot_id"] == "B0BOT"
    [message] = slack_sim.messages("C0GENERAL")
    assert message.ts == response["ts"]
    assert message.text == "Approve?"
    assert message.metadata == CARD_METADATA
    # Slack stores a generated block_id on blocks that came without one.
    assert message.blocks[0]["block_id"]
    assert response["message"]["blocks"] == message.blocks


async def test_post_message_threads_replies_under_their_parent(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    parent = await client.chat_postMessage(channel="C0HIRING", text="card")
    reply = await client.chat_postMessage(channel="C0HIRING", text="done", thread_ts=parent["ts"])
    # A reply to a reply lands in the same thread.
    await client.chat_postMessage(channel="C0HIRING", text="again", thread_ts=reply["ts"])
    assert [m.text for m in slack_sim.replies("C0HIRING", parent["ts"])] == ["done", "again"]
    assert [m.text for m in slack_sim.messages("C0HIRING")] == ["card"]
    unknown = await slack_error(
        client.chat_postMessage(channel="C0HIRING", text="x", thread_ts="1.000001")
    )
    assert unknown["error"] == "thread_not_found"


async def test_post_message_to_a_user_id_lands_in_their_dm(slack_sim: SlackSim) -> None:
    response = await client_for(slack_sim).chat_postMessage(channel="U0BEN", text="Reminder")
    assert response["channel"] == "D0BEN"
    assert [m.text for m in slack_sim.dms("U0BEN")] == ["Reminder"]


async def test_post_message_refuses_like_slack(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)

    async def error(**kwargs: Any) -> str:
        return str((await slack_error(client.chat_postMessage(**kwargs)))["error"])

    assert await error(channel="C0NOPE", text="x") == "channel_not_found"
    # A private channel the bot is not in is invisible to it.
    assert await error(channel="C0PRIVATE", text="x") == "channel_not_found"
    assert await error(channel="C0ARCHIVED", text="x") == "is_archived"
    assert await error(channel="C0GENERAL") == "no_text"
    assert await error(channel="C0GENERAL", text="x" * 40_001) == "msg_too_long"
    assert await error(channel="U0OTHERBOT", text="x") == "cannot_dm_bot"
    assert await error(channel="U0GONE", text="x") == "is_archived"
    assert slack_sim.messages("C0GENERAL") == []


async def test_public_channels_need_chat_write_public_without_membership(
    make_slack_sim: MakeSlackSim,
) -> None:
    scoped = await make_slack_sim(scopes=DEFAULT_SCOPES - {"chat:write.public"})
    open_sim = await make_slack_sim()
    for sim in (scoped, open_sim):
        sim.state.channels["C0HIRING"].members.discard("U0BOT")
    refused = await slack_error(client_for(scoped).chat_postMessage(channel="C0HIRING", text="x"))
    assert refused["error"] == "not_in_channel"
    await client_for(open_sim).chat_postMessage(channel="C0HIRING", text="x")
    assert [m.text for m in open_sim.messages("C0HIRING")] == ["x"]


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([{"type": "divider"}] * 51, "/blocks"),
        ([section("x" * 3001)], "/blocks/0/text/text"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        ([{"type": "actions", "elements": [button("b" * 76)]}], "/blocks/0/elements/0/text/text"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "/blocks/0/fields",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
            "/blocks/0/fields/0/text",
        ),
        (
            [{"type": "actions", "elements": [button("b", f"a{i}") for i in range(26)]}],
            "/blocks/0/elements",
        ),
        (
            [{"type": "actions", "elements": [button("b", url="https://x/" + "u" * 3000)]}],
            "/blocks/0/elements/0/url",
        ),
        (
            [{"type": "actions", "elements": [button("b", "a" * 256)]}],
            "/blocks/0/elements/0/action_id",
        ),
        ([{**section("x"), "block_id": "b" * 256}], "/blocks/0/block_id"),
        ([{"type": "carousel_of_dreams"}], "/blocks/0/type"),
        ([{"type": "section", "text": "a bare string"}], "/blocks/0/text"),
        ([{**section("x"), "colour": "red"}], "/blocks/0/colour"),
        (
            [{"type": "actions", "elements": [{"type": "button", "action_id": "a"}]}],
            "/blocks/0/elements/0/text",
        ),
        (
            [section("x") | {"block_id": "same"}, section("y") | {"block_id": "same"}],
            "/blocks/1/block_id",
        ),
    ],
)
async def test_invalid_blocks_are_refused_with_slacks_explanation(
    slack_sim: SlackSim, blocks: list[dict[str, Any]], pointer: str
) -> None:
    body = await slack_error(
        client_for(slack_sim).chat_postMessage(channel="C0GENERAL", text="x", blocks=blocks)
    )
    assert body["error"] == "invalid_blocks"
    messages = body["response_metadata"]["messages"]
    assert any(
        m.startswith("[ERROR] ") and m.endswith(f"[json-pointer:{pointer}]") for m in messages
    )
    assert slack_sim.messages("C0GENERAL") == []


async def test_blocks_that_are_not_a_json_array_are_malformed(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    broken = await slack_error(
        client.api_call("chat.postMessage", data={"channel": "C0GENERAL", "blocks": "[{"})
    )
    assert broken["error"] == "invalid_blocks_format"


async def test_metadata_must_be_an_event_type_and_a_payload_object(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    malformed: list[Any] = [{"event_type": "x"}, {"event_type": "x", "event_payload": "y"}, ["x"]]
    for metadata in malformed:
        body = await slack_error(
            client.chat_postMessage(channel="C0GENERAL", text="x", metadata=metadata)
        )
        assert body["error"] == "invalid_metadata_format"
    # An unusable event_type is dropped with a warning; the message still posts.
    response = await client.chat_postMessage(
        channel="C0GENERAL", text="x", metadata={"event_type": "not.allowed", "event_payload": {}}
    )
    assert response["response_metadata"]["warnings"] == ["invalid_metadata_schema"]
    assert slack_sim.messages("C0GENERAL")[0].metadata is None


# ---- chat.update / postEphemeral / getPermalink / unfurl -----------------------------------


async def test_update_replaces_content_and_keeps_history(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    posted = await client.chat_postMessage(
        channel="C0GENERAL", text="pending", blocks=[section("pending")], metadata=CARD_METADATA
    )
    updated = await client.chat_update(
        channel="C0GENERAL", ts=posted["ts"], text="confirmed", blocks=[section("confirmed")]
    )
    assert updated["text"] == "confirmed"
    [message] = slack_sim.messages("C0GENERAL")
    assert message.text == "confirmed"
    assert message.blocks[0]["text"]["text"] == "confirmed"
    assert message.metadata == CARD_METADATA  # kept when not given
    assert [edit.text for edit in message.edits] == ["pending"]


async def test_update_refuses_like_slack(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    posted = await client.chat_postMessage(channel="C0GENERAL", text="mine")
    someone_elses = slack_sim.state.post(
        slack_sim.state.channels["C0GENERAL"], user="U0ANA", text="hers"
    )
    missing = await slack_error(client.chat_update(channel="C0GENERAL", ts="1.000001", text="x"))
    assert missing["error"] == "message_not_found"
    foreign = await slack_error(
        client.chat_update(channel="C0GENERAL", ts=someone_elses.ts, text="x")
    )
    assert foreign["error"] == "cant_update_message"
    empty = await slack_error(client.chat_update(channel="C0GENERAL", ts=posted["ts"]))
    assert empty["error"] == "no_text"


async def test_ephemerals_go_to_channel_members_only(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    response = await client.chat_postEphemeral(channel="C0HIRING", user="U0KAI", text="only you")
    [ephemeral] = slack_sim.ephemerals("U0KAI")
    assert (ephemeral.ts, ephemeral.channel, ephemeral.text) == (
        response["message_ts"],
        "C0HIRING",
        "only you",
    )
    outsider = await slack_error(
        client.chat_postEphemeral(channel="C0HIRING", user="U0LEI", text="x")
    )
    assert outsider["error"] == "user_not_in_channel"


async def test_permalinks_point_at_messages_and_thread_replies(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    parent = await client.chat_postMessage(channel="C0GENERAL", text="card")
    reply = await client.chat_postMessage(channel="C0GENERAL", text="r", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=parent["ts"])
    # Slack's shape, on the simulator's own origin: its viewer opens the message there.
    path = f"/archives/C0GENERAL/p{parent['ts'].replace('.', '')}"
    assert link["permalink"] == f"{slack_sim.origin}{path}"
    reply_link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=reply["ts"])
    assert f"thread_ts={parent['ts']}" in reply_link["permalink"]
    missing = await slack_error(client.chat_getPermalink(channel="C0GENERAL", message_ts="1.1"))
    assert missing["error"] == "message_not_found"


async def test_a_permalink_base_gives_the_links_real_slack_would(
    make_slack_sim: MakeSlackSim,
) -> None:
    sim = await make_slack_sim(permalink_base="https://acme.slack.com")
    client = client_for(sim)
    posted = await client.chat_postMessage(channel="C0GENERAL", text="card")
    link = await client.chat_getPermalink(channel="C0GENERAL", message_ts=posted["ts"])
    path = f"/archives/C0GENERAL/p{posted['ts'].replace('.', '')}"
    assert link["permalink"] == f"https://acme.slack.com{path}"
    # The workspace's own URL is Slack's either way.
    assert (await client.auth_test())["url"] == "https://opentrain-sandbox.slack.com/"


async def test_unfurl_accepts_only_offered_links(slack_sim: SlackSim) -> None:
    state = slack_sim.state
    message = state.post(state.channels["C0GENERAL"], user="U0ANA", text="<https://ot.test/a/1>")
    state.offer_links("C0GENERAL", message.ts, ["https://ot.test/a/1"])
    client = client_for(slack_sim)
    await client.chat_unfurl(
        channel="C0GENERAL",
        ts=message.ts,
        unfurls={"https://ot.test/a/1": {"blocks": [section("Approval apr_1")]}},
    )
    assert [u.url for u in state.unfurls] == ["https://ot.test/a/1"]
    assert "https://ot.test/a/1" in slack_sim.messages("C0GENERAL")[0].unfurls
    refused = await slack_error(
        client.chat_unfurl(
            channel="C0GENERAL", ts=message.ts, unfurls={"https://evil.test/": {"text": "x"}}
        )
    )
    assert refused["error"] == "cannot_unfurl_url"


async def test_a_composer_preview_is_unfurled_by_its_unfurl_id(slack_sim: SlackSim) -> None:
    state = slack_sim.state
    state.offer_links("COMPOSER", "U0ANA-draft1", ["https://ot.test/a/1"], unfurl_id="U0ANA-draft1")
    client = client_for(slack_sim)
    await client.chat_unfurl(
        unfurl_id="U0ANA-draft1",
        source="composer",
        unfurls={"https://ot.test/a/1": {"blocks": [section("Approval apr_1")]}},
    )
    [preview] = state.unfurls
    assert (preview.channel, preview.ts, preview.url) == (
        "COMPOSER",
        "U0ANA-draft1",
        "https://ot.test/a/1",
    )
    unknown = await slack_error(
        client.chat_unfurl(unfurl_id="nope", source="composer", unfurls={"https://ot.test/a/1": {}})
    )
    assert unknown["error"] == "cannot_unfurl_url"
    bad_source = await slack_error(
        client.chat_unfurl(unfurl_id="U0ANA-draft1", source="elsewhere", unfurls={})
    )
    assert bad_source["error"] == "invalid_arguments"


# ---- conversations.* -----------------------------------------------------------------------


async def test_conversations_open_returns_a_stable_dm(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    first = await client.conversations_open(users="U0LEI")
    again = await client.conversations_open(users="U0LEI")
    assert first["channel"]["id"] == again["channel"]["id"] == "D0LEI"
    assert again["already_open"] is True
    assert (await slack_error(client.conversations_open(users="U0GONE")))[
        "error"
    ] == "user_disabled"
    assert (await slack_error(client.conversations_open(users="U0NOBODY")))[
        "error"
    ] == "user_not_found"
    assert (await slack_error(client.conversations_open(users="U0OTHERBOT")))[
        "error"
    ] == "cannot_dm_bot"


async def test_conversations_info_and_members(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    info = await client.conversations_info(channel="C0HIRING", include_num_members=True)
    assert info["channel"]["name"] == "hiring"
    assert info["channel"]["is_member"] is True
    assert info["channel"]["num_members"] == 7  # with the guest and the Slack Connect users
    first = await client.conversations_members(channel="C0GENERAL", limit=4)
    rest = await client.conversations_members(
        channel="C0GENERAL", cursor=first["response_metadata"]["next_cursor"]
    )
    assert len(first["members"]) == 4
    assert rest["response_metadata"]["next_cursor"] == ""
    assert (
        set(first["members"]) | set(rest["members"])
        == slack_sim.state.channels["C0GENERAL"].members
    )
    hidden = await slack_error(client.conversations_info(channel="C0PRIVATE"))
    assert hidden["error"] == "channel_not_found"
    dm = await client.conversations_open(users="U0ANA")
    # Reading a DM's info needs im:read, which the default manifest lacks.
    no_scope = await slack_error(client.conversations_info(channel=dm["channel"]["id"]))
    assert (no_scope["error"], no_scope["needed"]) == ("missing_scope", "im:read")


async def test_history_and_replies_need_history_scopes(make_slack_sim: MakeSlackSim) -> None:
    sim = await make_slack_sim(scopes=DEFAULT_SCOPES - {"channels:history"})
    body = await slack_error(client_for(sim).conversations_history(channel="C0GENERAL"))
    assert (body["error"], body["needed"]) == ("missing_scope", "channels:history")


async def test_metadata_round_trips_through_history_and_replies(history_sim: SlackSim) -> None:
    client = client_for(history_sim)
    card = await client.chat_postMessage(channel="C0GENERAL", text="card", metadata=CARD_METADATA)
    await client.chat_postMessage(
        channel="C0GENERAL",
        text="outcome",
        thread_ts=card["ts"],
        metadata={"event_type": "opentrain_outcome", "event_payload": {"status": "confirmed"}},
    )
    history = await client.conversations_history(channel="C0GENERAL", include_all_metadata=True)
    [listed] = history["messages"]
    assert listed["metadata"] == CARD_METADATA
    assert listed["reply_count"] == 1
    thread = await client.conversations_replies(
        channel="C0GENERAL", ts=card["ts"], include_all_metadata=True
    )
    assert [m["text"] for m in thread["messages"]] == ["card", "outcome"]
    assert thread["messages"][1]["metadata"]["event_payload"] == {"status": "confirmed"}
    # Without include_all_metadata the metadata stays out of the answer.
    plain = await client.conversations_history(channel="C0GENERAL")
    assert "metadata" not in plain["messages"][0]


async def test_history_pages_newest_first(history_sim: SlackSim) -> None:
    client = client_for(history_sim)
    for n in range(5):
        await client.chat_postMessage(channel="C0HIRING", text=f"m{n}")
    first = await client.conversations_history(channel="C0HIRING", limit=3)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3", "m2"]
    assert first["has_more"] is True
    second = await client.conversations_history(
        channel="C0HIRING", limit=3, cursor=first["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in second["messages"]] == ["m1", "m0"]
    assert second["has_more"] is False
    bad = await slack_error(client.conversations_history(channel="C0HIRING", cursor="garbage"))
    assert bad["error"] == "invalid_cursor"


async def test_replies_of_an_unknown_thread(history_sim: SlackSim) -> None:
    body = await slack_error(
        client_for(history_sim).conversations_replies(channel="C0GENERAL", ts="1.000001")
    )
    assert body["error"] == "thread_not_found"


async def test_reading_a_public_channel_needs_membership(history_sim: SlackSim) -> None:
    history_sim.state.channels["C0HIRING"].members.discard("U0BOT")
    body = await slack_error(client_for(history_sim).conversations_history(channel="C0HIRING"))
    assert body["error"] == "not_in_channel"


async def test_joining_a_public_channel_adds_the_bot_so_it_can_read_there(
    history_sim: SlackSim,
) -> None:
    client = client_for(history_sim)
    before = await slack_error(client.conversations_history(channel="C0LABELING"))
    assert before["error"] == "not_in_channel"
    joined = await client.conversations_join(channel="C0LABELING")
    assert joined["channel"]["id"] == "C0LABELING"
    assert joined["channel"]["name"] == "labeling"
    assert joined["channel"]["is_member"] is True
    assert "warning" not in joined
    assert "U0BOT" in history_sim.state.channels["C0LABELING"].members
    # The same channel object conversations.info answers with.
    info = await client.conversations_info(channel="C0LABELING")
    assert joined["channel"] == info["channel"]
    history = await client.conversations_history(channel="C0LABELING")
    assert history["messages"] == []


async def test_joining_a_channel_the_bot_is_in_warns(slack_sim: SlackSim) -> None:
    members = set(slack_sim.state.channels["C0HIRING"].members)
    joined = await client_for(slack_sim).conversations_join(channel="C0HIRING")
    assert joined["channel"]["id"] == "C0HIRING"
    assert joined["warning"] == "already_in_channel"
    assert joined["response_metadata"]["warnings"] == ["already_in_channel"]
    assert slack_sim.state.channels["C0HIRING"].members == members


async def test_join_refuses_like_slack(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)

    async def error(channel: str) -> str:
        return str((await slack_error(client.conversations_join(channel=channel)))["error"])

    assert await error("C0NOPE") == "channel_not_found"
    # A private channel the bot is not in is invisible to it.
    assert await error("C0PRIVATE") == "channel_not_found"
    assert await error("C0ARCHIVED") == "is_archived"
    dm = await client.conversations_open(users="U0ANA")
    assert await error(dm["channel"]["id"]) == "method_not_supported_for_channel_type"
    group, _ = slack_sim.state.open_mpim(["U0ANA", "U0BEN"])
    assert await error(group.id) == "method_not_supported_for_channel_type"
    # Private channels are joined by invitation only, even once the bot is in one.
    slack_sim.state.channels["C0PRIVATE"].members.add("U0BOT")
    assert await error("C0PRIVATE") == "method_not_supported_for_channel_type"


async def test_join_needs_the_channels_join_scope(make_slack_sim: MakeSlackSim) -> None:
    sim = await make_slack_sim(scopes=DEFAULT_SCOPES - {"channels:join"})
    body = await slack_error(client_for(sim).conversations_join(channel="C0LABELING"))
    assert (body["error"], body["needed"]) == ("missing_scope", "channels:join")
    assert "U0BOT" not in sim.state.channels["C0LABELING"].members


# ---- users and user groups -----------------------------------------------------------------


async def test_users_info_reports_time_zones(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    zones = {}
    for user_id in ("U0ANA", "U0BEN", "U0KAI", "U0LEI"):
        user = (await client.users_info(user=user_id))["user"]
        zones[user_id] = user["tz"]
        assert isinstance(user["tz_offset"], int)
        assert user["tz_label"]
        assert user["profile"]["display_name"]
    assert zones == {
        "U0ANA": "Europe/Berlin",
        "U0BEN": "America/New_York",
        "U0KAI": "Pacific/Auckland",
        "U0LEI": "Pacific/Honolulu",
    }
    lei = (await client.users_info(user="U0LEI"))["user"]
    assert lei["tz_offset"] == -10 * 3600  # Hawaii has no daylight saving
    gone = (await client.users_info(user="U0GONE"))["user"]
    assert gone["deleted"] is True
    assert (await slack_error(client.users_info(user="U0NOBODY")))["error"] == "user_not_found"


async def test_usergroups(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    groups = await client.usergroups_list(include_users=True)
    [finance] = groups["usergroups"]
    assert (finance["id"], finance["handle"], finance["users"]) == (
        "S0FINANCE",
        "finance-team",
        ["U0ANA", "U0BEN"],
    )
    members = await client.usergroups_users_list(usergroup="S0FINANCE")
    assert members["users"] == ["U0ANA", "U0BEN"]
    missing = await slack_error(client.usergroups_users_list(usergroup="S0NOPE"))
    assert missing["error"] == "no_such_subteam"


# ---- views.* -------------------------------------------------------------------------------


async def test_views_open_needs_a_fresh_unused_trigger(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    trigger = slack_sim.state.issue_trigger("U0ANA")
    opened = await client.views_open(trigger_id=trigger.id, view=modal())
    assert opened["view"]["callback_id"] == "hire"
    assert [v.id for v in slack_sim.state.open_views("U0ANA")] == [opened["view"]["id"]]
    reused = await slack_error(client.views_open(trigger_id=trigger.id, view=modal()))
    assert reused["error"] == "exchanged_trigger_id"
    stale = slack_sim.state.issue_trigger("U0ANA")
    stale.issued_at -= 3.5  # issued longer ago than Slack's three seconds
    expired = await slack_error(client.views_open(trigger_id=stale.id, view=modal()))
    assert expired["error"] == "expired_trigger_id"
    unknown = await slack_error(client.views_open(trigger_id="1.2.abc", view=modal()))
    assert unknown["error"] == "invalid_trigger_id"


async def test_invalid_views_are_refused_with_explanations(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    long_title = await slack_error(
        client.views_open(
            trigger_id=slack_sim.state.issue_trigger("U0ANA").id, view=modal("x" * 25)
        )
    )
    assert long_title["error"] == "invalid_arguments"
    assert long_title["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]
    too_many = modal(blocks=[section("x")] * 101)
    crowded = await slack_error(
        client.views_open(trigger_id=slack_sim.state.issue_trigger("U0ANA").id, view=too_many)
    )
    assert "[json-pointer:/view/blocks]" in crowded["response_metadata"]["messages"][0]


async def test_views_update_checks_the_hash_and_finds_by_external_id(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    trigger = slack_sim.state.issue_trigger("U0BEN")
    opened = (await client.views_open(trigger_id=trigger.id, view=modal(external_id="hire-1")))[
        "view"
    ]
    updated = await client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=modal("Hire: step 2")
    )
    assert updated["view"]["title"]["text"] == "Hire: step 2"
    assert updated["view"]["hash"] != opened["hash"]
    conflict = await slack_error(
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal())
    )
    assert conflict["error"] == "hash_conflict"
    by_external = await client.views_update(
        external_id="hire-1", view=modal("Hire: step 3", external_id="hire-1")
    )
    assert by_external["view"]["id"] == opened["id"]
    missing = await slack_error(client.views_update(view_id="V0NOPE", view=modal()))
    assert missing["error"] == "not_found"


async def test_views_push_stacks_up_to_three(slack_sim: SlackSim) -> None:
    client, state = client_for(slack_sim), slack_sim.state
    root = await client.views_open(trigger_id=state.issue_trigger("U0KAI").id, view=modal())
    for _ in range(2):
        await client.views_push(trigger_id=state.issue_trigger("U0KAI").id, view=modal("More"))
    stack = state.modal_stack("U0KAI")
    assert len(stack) == 3
    assert {view.root_view_id for view in stack} == {root["view"]["id"]}
    full = await slack_error(
        client.views_push(trigger_id=state.issue_trigger("U0KAI").id, view=modal())
    )
    assert full["error"] == "push_limit_reached"


async def test_views_publish_sets_a_home_tab_per_user(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    home = {"type": "home", "blocks": [section("Pending approvals: 0")]}
    first = await client.views_publish(user_id="U0ANA", view=home)
    second = await client.views_publish(
        user_id="U0ANA", view={"type": "home", "blocks": [section("Pending approvals: 1")]}
    )
    assert first["view"]["id"] == second["view"]["id"]
    stored = slack_sim.state.home_view("U0ANA")
    assert stored is not None
    assert stored.content["blocks"][0]["text"]["text"] == "Pending approvals: 1"
    conflict = await slack_error(
        client.views_publish(user_id="U0ANA", view=home, hash=first["view"]["hash"])
    )
    assert conflict["error"] == "hash_conflict"
    unknown = await slack_error(client.views_publish(user_id="U0NOBODY", view=home))
    assert unknown["error"] == "invalid_arguments"


# ---- faults --------------------------------------------------------------------------------


async def test_faults_answer_in_slacks_shape_and_wear_off(slack_sim: SlackSim) -> None:
    async with aiohttp.ClientSession() as http:
        added = await http.post(
            f"{slack_sim.origin}/_sim/faults",
            json=[
                {"path": "chat.*", "status": 503, "count": 1},
                {"path": "users.info", "status": 429, "retryAfter": 7, "count": 1},
                {"path": "conversations.open", "status": 500, "error": "fatal_error", "count": 1},
            ],
        )
        assert added.status == 200
    client = client_for(slack_sim)
    with pytest.raises(SlackApiError) as unavailable:
        await client.chat_postMessage(channel="C0GENERAL", text="x")
    assert unavailable.value.response.status_code == 503
    assert unavailable.value.response.data == {"ok": False, "error": "service_unavailable"}
    with pytest.raises(SlackApiError) as limited:
        await client.users_info(user="U0ANA")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.response.data["error"] == "ratelimited"
    custom = await slack_error(client.conversations_open(users="U0ANA"))
    assert custom["error"] == "fatal_error"
    # Each fault had a count of one: the same calls now go through.
    await client.chat_postMessage(channel="C0GENERAL", text="x")
    await client.users_info(user="U0ANA")
    assert slack_sim.state.rate_limited == 1
