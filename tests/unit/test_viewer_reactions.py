"""Reactions in the viewer: a pill under the message with its emoji and count, as in Slack;
in the thread pane too, where a reply the bot passed on carries its ✓."""

from __future__ import annotations

import re

from bot.sandbox.slack.seed import apply_seed
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.viewer.reads import ReadMarks
from bot.sandbox.slack.viewer.screen import ScreenRequest, build_screen

PILL = re.compile(r'<span class="reaction" [^>]*data-name="([^"]+)" title="([^"]*)">([^<]*)</span>')


def test_reactions_show_as_emoji_pills_with_counts_and_who_reacted() -> None:
    state = SlackState()
    apply_seed(state, "demo")
    hiring = state.channels["C0HIRING"]
    card = state.post(hiring, user=state.bot_user_id, text="card")
    reply = state.post(hiring, user="U0ANA", text="ok", thread_ts=card.ts, source="user")
    state.add_reaction(reply, "white_check_mark", user=state.bot_user_id)
    state.add_reaction(reply, "white_check_mark", user="U0BEN")
    state.add_reaction(card, "made_up_emoji", user="U0ANA")
    request = ScreenRequest(user_id="U0ANA", conversation_id="C0HIRING", thread_ts=card.ts)

    panes = build_screen(state, request, ReadMarks(state))["panes"]

    # A name the viewer has no emoji for is shown as typed, like Slack does.
    on_card = ("made_up_emoji", "Ana", ":made_up_emoji: 1")
    assert PILL.findall(panes["main"]) == [on_card]
    # The thread shows its parent, then the reply; who reacted is in the tooltip, first first.
    assert PILL.findall(panes["thread"]) == [
        on_card,
        ("white_check_mark", f"{state.bot_name}, Ben", "✅ 2"),
    ]
