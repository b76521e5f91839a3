"""Message permalinks: Slack's shape on the simulator's own origin, and the viewer screen a
permalink opens (its conversation, its thread, its message, someone who can see it)."""

from __future__ import annotations

import pytest

from bot.sandbox.slack.model import Channel
from bot.sandbox.slack.permalinks import MessageLink, parse_permalink, permalink
from bot.sandbox.slack.seed import apply_seed
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.viewer.reads import ReadMarks
from bot.sandbox.slack.viewer.screen import ScreenRequest, build_screen

ORIGIN = "http://127.0.0.1:8091"
TOP = MessageLink(channel="C0HIRING", ts="1712000100.000100")
REPLY = MessageLink(channel="C0HIRING", ts="1712000200.000020", thread_ts="1712000100.000100")


def workspace() -> SlackState:
    state = SlackState()
    apply_seed(state, "demo")
    return state


def test_a_permalink_has_slacks_shape_on_its_base() -> None:
    assert permalink(ORIGIN, TOP) == f"{ORIGIN}/archives/C0HIRING/p1712000100000100"
    assert permalink("https://acme.slack.com/", REPLY) == (
        "https://acme.slack.com/archives/C0HIRING/p1712000200000020"
        "?thread_ts=1712000100.000100&cid=C0HIRING"
    )


@pytest.mark.parametrize("link", [TOP, REPLY])
def test_a_permalink_reads_back_as_its_message(link: MessageLink) -> None:
    url = permalink(ORIGIN, link)
    assert parse_permalink(url) == link
    assert parse_permalink(url.removeprefix(ORIGIN)) == link  # a path and query alone


@pytest.mark.parametrize(
    "url",
    [
        f"{ORIGIN}/",
        f"{ORIGIN}/archives/C0HIRING",
        f"{ORIGIN}/archives/C0HIRING/1712000100000100",  # no `p`
        f"{ORIGIN}/archives/C0HIRING/p12345",  # shorter than a ts
        f"{ORIGIN}/archives/c0hiring/p1712000100000100",
        f"{ORIGIN}/archives/C0HIRING/p1712000100000100?thread_ts=soon",
        "http://[::1/archives/C0HIRING/p1712000100000100",
    ],
)
def test_anything_else_names_no_message(url: str) -> None:
    assert parse_permalink(url) is None


def test_the_screen_a_permalink_opens_has_its_own_url() -> None:
    screen = ScreenRequest.for_link(REPLY, user_id="U0BEN")
    assert screen.url() == (
        "/?user=U0BEN&channel=C0HIRING&thread=1712000100.000100&message=1712000200.000020"
    )
    query = dict(part.split("=") for part in screen.url().removeprefix("/?").split("&"))
    assert ScreenRequest.from_query(query) == screen
    assert ScreenRequest.for_link(TOP, user_id=None).url() == (
        "/?channel=C0HIRING&message=1712000100.000100"
    )


def test_a_permalink_opens_its_message_and_a_replys_thread() -> None:
    state = workspace()
    hiring = state.channels["C0HIRING"]
    parent = state.post(hiring, user=state.bot_user_id, text="card")
    reply = state.post(hiring, user="U0BEN", text="done", thread_ts=parent.ts)
    reads = ReadMarks(state)

    top = build_screen(
        state, ScreenRequest(conversation_id="C0HIRING", message_ts=parent.ts), reads
    )
    assert (top["user"], top["channel"], top["thread"], top["message"]) == (
        "U0ANA",
        "C0HIRING",
        None,
        parent.ts,
    )
    # Even without `thread` (an older link, a hand-made URL) a reply opens in its thread.
    threaded = build_screen(
        state, ScreenRequest(conversation_id="C0HIRING", message_ts=reply.ts), reads
    )
    assert (threaded["thread"], threaded["message"]) == (parent.ts, reply.ts)
    missing = build_screen(
        state, ScreenRequest(conversation_id="C0HIRING", message_ts="1.0"), reads
    )
    assert missing["message"] is None


def test_a_link_that_names_no_one_is_opened_by_someone_who_can_see_it() -> None:
    state = workspace()
    dm, _ = state.open_dm("U0KAI")
    card = state.post(dm, user=state.bot_user_id, text="Your card")
    pair = state.add_channel(Channel("C0PAIR", "pair", "private", {"U0KAI", "U0BEN"}, 0))
    private = state.post(pair, user="U0KAI", text="budget")
    reads = ReadMarks(state)

    in_dm = build_screen(state, ScreenRequest(conversation_id=dm.id, message_ts=card.ts), reads)
    # The app's DM opens on Messages, where the message is, rather than Home.
    assert (in_dm["user"], in_dm["channel"], in_dm["tab"], in_dm["message"]) == (
        "U0KAI",
        dm.id,
        "messages",
        card.ts,
    )
    # Ana is not in #pair; of its members, Ben comes first by name.
    in_pair = build_screen(
        state, ScreenRequest(conversation_id=pair.id, message_ts=private.ts), reads
    )
    assert (in_pair["user"], in_pair["channel"], in_pair["message"]) == (
        "U0BEN",
        pair.id,
        private.ts,
    )
    # Someone named keeps being who they are: Lei cannot see Kai's DM and lands in #general.
    as_lei = ScreenRequest(user_id="U0LEI", conversation_id=dm.id, message_ts=card.ts)
    assert build_screen(state, as_lei, reads)["channel"] == "C0GENERAL"
