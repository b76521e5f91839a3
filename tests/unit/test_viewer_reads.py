"""Unread markers: what arrives in a conversation while another is open is marked in the
sidebar (bold, with a count) until the person opens it; the app's DM too."""

from __future__ import annotations

import re

from bot.sandbox.slack.seed import apply_seed
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.viewer.reads import ReadMarks, ts_order
from bot.sandbox.slack.viewer.screen import ScreenRequest, build_screen

SIDEBAR_LINK = re.compile(
    r'<a href="#" class="(?P<classes>[^"]*)" data-conversation="(?P<id>[^"]+)".*?</a>'
)
BADGE = re.compile(r'data-testid="unread-count"[^>]*>(\d+)<')


def workspace() -> SlackState:
    state = SlackState()
    apply_seed(state, "demo")
    return state


def markers(screen: dict[str, object]) -> dict[str, int]:
    """Conversation id → its unread count, for the sidebar links marked unread."""
    panes = screen["panes"]
    assert isinstance(panes, dict)
    found = {}
    for link in SIDEBAR_LINK.finditer(panes["sidebar"]):
        badge = BADGE.search(link.group(0))
        if "unread" in link["classes"].split():
            assert badge is not None, link.group(0)
            found[link["id"]] = int(badge.group(1))
        else:
            assert badge is None, link.group(0)
    return found


def test_messages_from_others_elsewhere_are_unread_until_opened() -> None:
    state = workspace()
    reads = ReadMarks(state)
    in_hiring = ScreenRequest(user_id="U0ANA", conversation_id="C0HIRING")
    assert markers(build_screen(state, in_hiring, reads)) == {}

    general = state.channels["C0GENERAL"]
    state.post(general, user="U0BEN", text="lunch?")
    state.post(general, user="U0ANA", text="mine, from another tab")  # never unread
    state.post(general, user="U0KAI", text="yes")
    state.post(state.channels["C0HIRING"], user="U0BEN", text="seen at once: it is open")
    dm, _ = state.open_dm("U0ANA")
    state.post(dm, user=state.bot_user_id, text="Your card was confirmed")
    assert markers(build_screen(state, in_hiring, reads)) == {"C0GENERAL": 2, dm.id: 1}

    opened = build_screen(state, ScreenRequest(user_id="U0ANA", conversation_id="C0GENERAL"), reads)
    assert markers(opened) == {dm.id: 1}
    # Opening the app while it has unread messages shows them (the Messages tab).
    app = build_screen(state, ScreenRequest(user_id="U0ANA", conversation_id=dm.id), reads)
    assert app["tab"] == "messages"
    assert markers(app) == {}


def test_the_app_home_tab_leaves_its_messages_unread() -> None:
    state = workspace()
    reads = ReadMarks(state)
    dm, _ = state.open_dm("U0BEN")
    home = ScreenRequest(user_id="U0BEN", conversation_id=dm.id, tab="home")
    assert build_screen(state, home, reads)["tab"] == "home"
    state.post(dm, user=state.bot_user_id, text="Reminder: confirm apr_1")
    screen = build_screen(state, home, reads)
    assert markers(screen) == {dm.id: 1}
    assert 'data-testid="tab-messages">Messages <span class="unread-count"' in str(screen["panes"])
    messages = ScreenRequest(user_id="U0BEN", conversation_id=dm.id, tab="messages")
    assert markers(build_screen(state, messages, reads)) == {}


def test_what_was_there_when_the_viewer_started_is_read() -> None:
    state = workspace()
    state.post(state.channels["C0GENERAL"], user="U0BEN", text="from before")
    reads = ReadMarks(state)
    screen = build_screen(state, ScreenRequest(user_id="U0KAI", conversation_id="C0HIRING"), reads)
    assert markers(screen) == {}


def test_timestamps_order_to_the_microsecond() -> None:
    assert ts_order("1712000000.000001") < ts_order("1712000000.000002")
    # Exact where floats are not: these two are the same float.
    assert ts_order("9999999999.999998") < ts_order("9999999999.999999")
    assert ts_order("9.5") == (9, 500000)
    assert ts_order("soon") == (0, 0)
