"""Long lists within Slack's message limits: 50 blocks, and a cap on all text together.

Besides the per-block limits, chat.postMessage refuses blocks holding more than
about 12,000 characters of text in total (`msg_blocks_too_long`; undocumented,
reported between 11,000 and 13,300 with the block containers counted). Lists
therefore stop at `LIST_TEXT_BUDGET`, which leaves room for the header, the
buttons and the closing line around them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ConfirmObject,
    ContextBlock,
    PlainTextObject,
    SectionBlock,
)

from bot.cards.text import CONTEXT_ELEMENT, SECTION_TEXT, clip_mrkdwn, mrkdwn, utf16_len

LIST_TEXT_BUDGET = 9_000


def packed_sections(
    lines: Sequence[str], *, more: Callable[[int], str], budget: int = LIST_TEXT_BUDGET
) -> list[Block]:
    """`lines` (mrkdwn) joined into as few sections as Slack's section length allows, in order.

    Lines past `budget` characters in total are left out and counted in a
    closing context line, `more(hidden)`; a single over-long line is cut.
    """
    chunks: list[str] = []
    used = shown = 0
    for line in lines:
        line = clip_mrkdwn(line, SECTION_TEXT)
        size = utf16_len(line) + 1
        if used + size > budget:
            break
        if chunks and utf16_len(chunks[-1]) + size <= SECTION_TEXT:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
        used += size
        shown += 1
    blocks: list[Block] = [SectionBlock(text=mrkdwn(chunk)) for chunk in chunks]
    hidden = len(lines) - shown
    if hidden:
        blocks.append(ContextBlock(elements=[mrkdwn(more(hidden), CONTEXT_ELEMENT)]))
    return blocks


def within_budget(blocks: Sequence[Block], budget: int = LIST_TEXT_BUDGET) -> int:
    """How many of `blocks`, from the first, fit in `budget` characters of text together."""
    used = 0
    for count, block in enumerate(blocks):
        used += text_size(block)
        if used > budget:
            return count
    return len(blocks)


def text_size(block: Block) -> int:
    """The characters of text in `block`, counted the way Slack's cumulative cap does (roughly)."""
    return sum(utf16_len(text) for text in _texts(block.to_dict()))


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def plural(count: int, word: str, words: str | None = None) -> str:
    """The count with its noun: "1 approval", "3 approvals"."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def confirm_dialog(title: str, text: str, confirm: str, *, danger: bool = False) -> ConfirmObject:
    """The "are you sure?" a button shows before Slack reports the click (Cancel to back out)."""
    return ConfirmObject(
        title=PlainTextObject(text=title),
        text=PlainTextObject(text=text),
        confirm=PlainTextObject(text=confirm),
        deny=PlainTextObject(text="Cancel"),
        style="danger" if danger else None,
    )
