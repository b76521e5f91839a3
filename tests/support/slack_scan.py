"""Everything the bot made Slack show, and the markup in it Slack would act on.

Slack parses `<…>` tokens in `mrkdwn` text and in a message's top-level fallback
`text`: `<!channel>`/`<!here>`/`<!everyone>` ping everyone, `<@U…>` a person,
`<!subteam^S…>` a user group, `<#C…>` links a channel, `<https://…|label>` and
`<mailto:…>` are links. `plain_text` is never parsed, and `verbatim` mrkdwn is
not auto-linked. `shown(state)` walks every message (and every earlier version
of it), private message, response, acknowledgement, modal, Home tab and unfurl
the bot produced; `tokens` and `urls` say what in it is live.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from bot.sandbox.slack.state import SlackState

_TOKEN = re.compile(r"<([^<>\n]+)>")

Kind = Literal["mrkdwn", "plain_text", "fallback"]


@dataclass(frozen=True)
class Shown:
    where: str  # e.g. "message C0HIRING 1712.000100", "home U0ANA"
    kind: Kind
    text: str
    verbatim: bool = False


def shown(state: SlackState) -> list[Shown]:
    """Every piece of text the bot made Slack show, with where it was."""
    found: list[Shown] = []
    for channel in state.channels.values():
        for top in channel.messages:
            for message in (top, *top.replies):
                if not message.bot_id:
                    continue
                where = f"message {channel.id} {message.ts}"
                versions = [(e.text, e.blocks) for e in message.edits]
                for text, blocks in [*versions, (message.text, message.blocks)]:
                    found += _message(where, text, blocks)
                for url, unfurl in message.unfurls.items():
                    found += list(_walk(f"unfurl {url}", unfurl))
    for ephemeral in state.ephemerals:
        found += _message(f"ephemeral {ephemeral.user}", ephemeral.text, ephemeral.blocks)
    for post in state.response_posts:
        body = post.body
        found += _message(
            f"response {post.user_id}", str(body.get("text") or ""), body.get("blocks")
        )
    for delivery in state.deliveries:
        if isinstance(delivery.body, dict):
            where = f"answer to {delivery.kind} {delivery.summary}"
            found += _message(where, str(delivery.body.get("text") or ""), delivery.body)
    for view in state.views.values():
        found += list(_walk(f"{view.type} {view.user_id}", view.content))
    for unfurl in state.unfurls:
        found += list(_walk(f"unfurl {unfurl.url}", unfurl.unfurl))
    return found


def urls(state: SlackState) -> list[tuple[str, str]]:
    """(where, url) for every `url` a button or element of the bot's carries."""
    found: list[tuple[str, str]] = []

    def walk(where: str, node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("url"), str):
                found.append((where, node["url"]))
            for value in node.values():
                walk(where, value)
        elif isinstance(node, list):
            for item in node:
                walk(where, item)

    for channel in state.channels.values():
        for top in channel.messages:
            for message in (top, *top.replies):
                if message.bot_id:
                    walk(f"message {channel.id} {message.ts}", [message.blocks, message.unfurls])
    for ephemeral in state.ephemerals:
        walk(f"ephemeral {ephemeral.user}", ephemeral.blocks)
    for post in state.response_posts:
        walk(f"response {post.user_id}", post.body)
    for view in state.views.values():
        walk(f"{view.type} {view.user_id}", view.content)
    for unfurl in state.unfurls:
        walk(f"unfurl {unfurl.url}", unfurl.unfurl)
    return found


def tokens(text: str) -> list[str]:
    """The `<…>` tokens Slack would act on in `text` (mrkdwn or fallback)."""
    return _TOKEN.findall(text)


def _message(where: str, text: str, blocks: Any) -> list[Shown]:
    return [Shown(where, "fallback", text), *_walk(where, blocks)]


def _walk(where: str, node: Any) -> Iterator[Shown]:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield Shown(where, kind, node["text"], bool(node.get("verbatim")))
        for value in node.values():
            yield from _walk(where, value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(where, item)
