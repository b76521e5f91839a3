"""Slack's limits as the card tests check them: Block Kit sizes in UTF-16 units, no active
markup in anything shown, and the total a message may carry.
"""

from __future__ import annotations

import json
from typing import Any

from bot.cards import SlackMessage

# What must never reach Slack as markup: each would ping people or forge a link.
ACTIVE_MARKUP = ["<!channel>", "<!here>", "<@U123>", "<!subteam^S123>", "<https://evil"]
RTL_OVERRIDE = "\u202e"


# Block Kit limits, in UTF-16 code units as Slack counts them.
LIMITS = {
    "header": 150,
    "section": 3000,
    "field": 2000,
    "context": 2000,
    "button": 75,
    "value": 2000,
    "url": 3000,
    "label": 2000,
    "placeholder": 150,
}


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_block_limits(node: Any) -> None:
    """Walk a to_dict() tree and assert every Block Kit limit that applies."""
    if isinstance(node, list):
        for item in node:
            check_block_limits(item)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("plain_text", "mrkdwn"):
        assert 1 <= units(node["text"]) <= LIMITS["section"]
    elif kind == "header":
        assert units(node["text"]["text"]) <= LIMITS["header"]
    elif kind == "section":
        if "text" in node:
            assert units(node["text"]["text"]) <= LIMITS["section"]
        assert len(node.get("fields", [])) <= 10
        for field in node.get("fields", []):
            assert units(field["text"]) <= LIMITS["field"]
    elif kind == "context":
        assert len(node["elements"]) <= 10
        for element in node["elements"]:
            assert units(element["text"]) <= LIMITS["context"]
    elif kind == "button":
        assert units(node["text"]["text"]) <= LIMITS["button"]
        assert units(node.get("value", "")) <= LIMITS["value"]
        assert len(node.get("url", "")) <= LIMITS["url"]
    elif kind == "input":
        assert units(node["label"]["text"]) <= LIMITS["label"]
    elif kind == "plain_text_input":
        if "initial_value" in node:
            assert units(node["initial_value"]) <= node["max_length"]
        if "placeholder" in node:
            assert units(node["placeholder"]["text"]) <= LIMITS["placeholder"]
    for value in node.values():
        check_block_limits(value)


def shown_texts(node: Any, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")) -> list[str]:
    """The text of every text object of `kinds` in a to_dict() tree."""
    if isinstance(node, list):
        return [text for item in node for text in shown_texts(item, kinds)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if node.get("type") in kinds else []
    return own + [text for value in node.values() for text in shown_texts(value, kinds)]


def mrkdwn_texts(node: Any) -> list[str]:
    return shown_texts(node, ("mrkdwn",))


def assert_safe_message(message: SlackMessage) -> dict[str, Any]:
    kwargs = message.as_kwargs()  # slack_sdk validates every block on to_dict()
    assert 1 <= units(kwargs["text"]) <= 4000
    assert len(kwargs["blocks"]) <= 50
    check_block_limits(kwargs["blocks"])
    for text in [kwargs["text"], *mrkdwn_texts(kwargs["blocks"])]:
        for markup in ACTIVE_MARKUP:
            assert markup not in text
    # Button values are data handed back to us, never shown; everything shown is cleaned.
    assert not any(RTL_OVERRIDE in text for text in [kwargs["text"], *shown_texts(kwargs)])
    assert len(json.dumps(kwargs, ensure_ascii=False)) < 60_000
    return kwargs


def assert_fits(message: SlackMessage) -> dict[str, Any]:
    """Block Kit limits, escaping, and the total text chat.postMessage accepts (~12,000)."""
    kwargs = assert_safe_message(message)
    assert sum(units(text) for text in shown_texts(kwargs["blocks"])) <= 11_000
    return kwargs
