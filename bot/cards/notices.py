"""Short notices: the command help, usage errors, plain one-line notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slack_sdk.models.blocks import Block, HeaderBlock, SectionBlock

from bot.cards.message import SlackMessage
from bot.cards.text import esc, fallback, mrkdwn, plain

_COMMAND = "/opentrain"


@dataclass(frozen=True)
class HelpSection:
    heading: str
    lines: tuple[tuple[str, str], ...]  # (syntax after "/opentrain ", purpose)


def help_message(sections: Sequence[HelpSection]) -> SlackMessage:
    """The commands as the command table lists them (handlers/commands.py)."""
    blocks: list[Block] = [
        HeaderBlock(text="OpenTrain co-sign commands"),
        SectionBlock(
            text=mrkdwn(
                "Money never moves from Slack alone: hires, funding, payouts and contract ends "
                "wait for a human to confirm in OpenTrain, and the card here follows along."
            )
        ),
    ]
    for section in sections:
        lines = [
            f"`{esc(f'{_COMMAND} {syntax}')}` — {purpose}" for syntax, purpose in section.lines
        ]
        blocks.append(SectionBlock(text=mrkdwn(f"*{section.heading}*\n" + "\n".join(lines))))
    names = dict.fromkeys(syntax.split()[0] for s in sections for syntax, _ in s.lines)
    return SlackMessage(text=f"{_COMMAND} commands: {', '.join(names)}", blocks=blocks)


def usage_error(problem: str, usage: str) -> SlackMessage:
    """What was wrong, and what to type instead."""
    shown_usage = esc(usage).replace("`", "'")
    return SlackMessage(
        text=fallback(f"{problem} — type this instead: {usage}"),
        blocks=[
            SectionBlock(text=plain(f"⚠️ {problem}")),
            SectionBlock(text=mrkdwn(f"*Type this instead:* `{shown_usage}`")),
        ],
    )


def notice(text: str) -> SlackMessage:
    """A one-section message; the text is escaped, so it can neither ping nor link."""
    return SlackMessage(
        text=fallback(text), blocks=[SectionBlock(text=mrkdwn(esc(text, multiline=True)))]
    )
