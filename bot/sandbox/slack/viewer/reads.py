"""What each person has read: Slack's `last_read` per conversation, kept by the viewer.

A conversation is unread for a person when messages from someone else arrived after they last
had it open; the sidebar shows it bold with a count. Everything already in the workspace when
the viewer started counts as read, so the first page is not a wall of badges; a person who
has never looked at a conversation since then has its newer messages unread.
"""

from __future__ import annotations

from bot.sandbox.slack.state import SlackState

TsOrder = tuple[int, int]


def ts_order(ts: str) -> TsOrder:
    """A message ts as an exact, sortable (seconds, microseconds) pair; "" or junk sorts first."""
    seconds, _, micro = ts.partition(".")
    try:
        return int(seconds), int(micro.ljust(6, "0")[:6] or "0")
    except ValueError:
        return 0, 0


class ReadMarks:
    def __init__(self, state: SlackState) -> None:
        self._state = state
        self._start = max(
            (ts_order(m.ts) for c in state.channels.values() for m in c.messages), default=(0, 0)
        )
        self._marks: dict[tuple[str, str], TsOrder] = {}  # (user, conversation) → last read

    def read(self, user_id: str, conversation_id: str) -> None:
        """The person has the conversation open: everything in it so far is read."""
        newest = [ts_order(m.ts) for m in self._state.messages(conversation_id)]
        if newest:
            self._marks[(user_id, conversation_id)] = max(newest)

    def unread(self, user_id: str, conversation_id: str) -> int:
        """Messages from others in the conversation since the person last had it open."""
        mark = self._marks.get((user_id, conversation_id), self._start)
        return sum(
            1
            for message in self._state.messages(conversation_id)
            if message.user != user_id and ts_order(message.ts) > mark
        )
