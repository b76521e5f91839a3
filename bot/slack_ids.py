"""Slack's id shapes, defined once: channels, conversations (channels and DMs), members.

A Slack id is a type letter and uppercase letters and digits (`C024BE91L`, `G0HIRING`,
`D0ABCDEF1`), and always carries a digit. Requiring one keeps words out: while a person
is still typing, Slack sends `link_shared` with the placeholder channel `COMPOSER`,
which a bare `[CG][A-Z0-9]+` would take for a channel.
"""

from __future__ import annotations

import re

# No look-around: pydantic's (Rust) regex engine validates the agent API's fields with it.
_ID_BODY = r"[A-Z0-9]*[0-9][A-Z0-9]*"
MAX_ID_CHARS = 21
CHANNEL_ID = rf"[CG]{_ID_BODY}"  # public or private channel: where a card may go
CONVERSATION_ID = rf"[CGD]{_ID_BODY}"  # also a DM
_CHANNEL = re.compile(CHANNEL_ID)
_CONVERSATION = re.compile(CONVERSATION_ID)


def is_channel_id(value: str) -> bool:
    return len(value) <= MAX_ID_CHARS and _CHANNEL.fullmatch(value) is not None


def is_conversation_id(value: str) -> bool:
    return len(value) <= MAX_ID_CHARS and _CONVERSATION.fullmatch(value) is not None
