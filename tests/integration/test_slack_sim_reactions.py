"""The Slack simulator's `reactions.add`, driven with slack_sdk's AsyncWebClient over real HTTP:
what Slack accepts and refuses, and where a reaction shows (history, replies, `/_sim/state`)."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.config import DEFAULT_SCOPES
from bot.sandbox.slack.methods import METHODS
from bot.sandbox.slack.model import Message
from bot.sandbox.slack.ratelimit import Tier
from tests.support.slack_sim import MakeSlackSim, client_for, slack_error

CHECK = "white_check_mark"


def thread_with_reply(sim: SlackSim, channel_id: str = "C0HIRING") -> tuple[Message, Message]:
    """The bot's card and a person's reply in its thread."""
    state = sim.state
    channel = state.channels[channel_id]
    card = state.post(channel, user=state.bot_user_id, text="card")
    reply = state.post(channel, user="U0ANA", text="ok", thread_ts=card.ts, source="user")
    return card, reply


async def test_a_reaction_on_a_thread_reply_is_recorded_as_the_bots(slack_sim: SlackSim) -> None:
    _, reply = thread_with_reply(slack_sim)
    response = await client_for(slack_sim).reactions_add(
        channel="C0HIRING", timestamp=reply.ts, name=CHECK
    )
    assert response.data == {"ok": True}
    assert reply.reactions == {CHECK: ["U0BOT"]}


def test_reactions_add_is_tier_3_and_needs_reactions_write() -> None:
    spec = METHODS["reactions.add"]
    assert (spec.tier, spec.scope) == (Tier.TIER_3, "reactions:write")
    assert "reactions:write" in DEFAULT_SCOPES


async def test_reactions_add_refuses_like_slack(slack_sim: SlackSim) -> None:
    card, reply = thread_with_reply(slack_sim)
    client = client_for(slack_sim)

    async def error(**kwargs: Any) -> str:
        return str((await slack_error(client.api_call("reactions.add", json=kwargs)))["error"])

    ok = {"channel": "C0HIRING", "timestamp": reply.ts, "name": CHECK}
    assert await error(**(ok | {"channel": "C0NOPE"})) == "channel_not_found"
    # A private channel the bot is not in is invisible to it.
    assert await error(**(ok | {"channel": "C0PRIVATE"})) == "channel_not_found"
    assert await error(**(ok | {"timestamp": "1.000001"})) == "message_not_found"
    assert await error(**(ok | {"timestamp": "yesterday"})) == "bad_timestamp"
    assert await error(channel="C0HIRING", name=CHECK) == "no_item_specified"
    assert await error(timestamp=reply.ts, name=CHECK) == "no_item_specified"
    for name in ("", ":white_check_mark:", "White_Check_Mark", "check mark", "ok::skin-tone-9"):
        assert await error(**(ok | {"name": name})) == "invalid_name", name
    deleted = slack_sim.state.post(slack_sim.state.channels["C0HIRING"], user="U0BEN", text="x")
    slack_sim.state.delete(deleted)
    assert await error(**(ok | {"timestamp": deleted.ts})) == "message_not_found"
    assert reply.reactions == {} and card.reactions == {}


async def test_plausible_shortcodes_and_skin_tones_are_accepted(slack_sim: SlackSim) -> None:
    _, reply = thread_with_reply(slack_sim)
    client = client_for(slack_sim)
    names = ["+1", "e-mail", "man-woman-boy", "thumbsup::skin-tone-2", "it's"]
    for name in names:
        await client.reactions_add(channel="C0HIRING", timestamp=reply.ts, name=name)
    assert list(reply.reactions) == names


async def test_the_same_reaction_twice_is_already_reacted(slack_sim: SlackSim) -> None:
    _, reply = thread_with_reply(slack_sim)
    client = client_for(slack_sim)
    await client.reactions_add(channel="C0HIRING", timestamp=reply.ts, name=CHECK)
    again = await slack_error(
        client.reactions_add(channel="C0HIRING", timestamp=reply.ts, name=CHECK)
    )
    assert again["error"] == "already_reacted"
    assert reply.reactions == {CHECK: ["U0BOT"]}
    # Someone else's same reaction is theirs: the bot's is still new on another message.
    other = slack_sim.state.post(slack_sim.state.channels["C0HIRING"], user="U0BEN", text="hi")
    other.reactions[CHECK] = ["U0BEN"]
    await client.reactions_add(channel="C0HIRING", timestamp=other.ts, name=CHECK)
    assert other.reactions == {CHECK: ["U0BEN", "U0BOT"]}


async def test_reacting_needs_membership_and_an_open_channel(slack_sim: SlackSim) -> None:
    client = client_for(slack_sim)
    state = slack_sim.state
    unjoined = state.post(state.channels["C0LABELING"], user="U0ANA", text="hi")
    body = await slack_error(
        client.reactions_add(channel="C0LABELING", timestamp=unjoined.ts, name=CHECK)
    )
    assert body["error"] == "not_in_channel"
    old = state.post(state.channels["C0ARCHIVED"], user="U0ANA", text="hi")
    body = await slack_error(
        client.reactions_add(channel="C0ARCHIVED", timestamp=old.ts, name=CHECK)
    )
    assert body["error"] == "is_archived"
    assert unjoined.reactions == {} and old.reactions == {}


async def test_reactions_add_needs_the_reactions_write_scope(make_slack_sim: MakeSlackSim) -> None:
    sim = await make_slack_sim(scopes={"chat:write"})
    _, reply = thread_with_reply(sim)
    body = await slack_error(
        client_for(sim).reactions_add(channel="C0HIRING", timestamp=reply.ts, name=CHECK)
    )
    assert body == {
        "ok": False,
        "error": "missing_scope",
        "needed": "reactions:write",
        "provided": "chat:write",
    }
    assert reply.reactions == {}


async def test_history_replies_and_state_show_reactions_in_slacks_shape(
    slack_sim: SlackSim,
) -> None:
    card, reply = thread_with_reply(slack_sim)
    reply.reactions[CHECK] = ["U0BEN"]
    client = client_for(slack_sim)
    await client.reactions_add(channel="C0HIRING", timestamp=reply.ts, name=CHECK)
    await client.reactions_add(channel="C0HIRING", timestamp=card.ts, name="eyes")
    shown = [{"name": CHECK, "users": ["U0BEN", "U0BOT"], "count": 2}]

    thread = await client.conversations_replies(channel="C0HIRING", ts=card.ts)
    [parent, listed_reply] = thread["messages"]
    assert listed_reply["reactions"] == shown
    assert parent["reactions"] == [{"name": "eyes", "users": ["U0BOT"], "count": 1}]
    history = await client.conversations_history(channel="C0HIRING")
    assert history["messages"][0]["reactions"] == parent["reactions"]
    # Messages nobody reacted to carry no `reactions` at all, as in Slack.
    plain = await client.chat_postMessage(channel="C0HIRING", text="later")
    history = await client.conversations_history(channel="C0HIRING")
    assert history["messages"][0]["ts"] == plain["ts"]
    assert "reactions" not in history["messages"][0]

    async with (
        aiohttp.ClientSession(base_url=slack_sim.origin) as http,
        http.get("/_sim/state") as response,
    ):
        state = await response.json()
    hiring = next(c for c in state["channels"] if c["id"] == "C0HIRING")
    recorded = next(m for m in hiring["messages"] if m["ts"] == card.ts)
    assert recorded["reactions"] == parent["reactions"]
    assert recorded["replies"][0]["reactions"] == shown
    assert hiring["messages"][-1]["reactions"] == []
    changes = slack_sim.state.feed.since(0)["changes"]
    assert {"kind": "reaction_added", "channel": "C0HIRING", "ts": reply.ts, "name": CHECK} in [
        {k: v for k, v in change.items() if k != "seq"} for change in changes
    ]
