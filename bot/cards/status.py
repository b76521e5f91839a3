"""`/opentrain status`: the hiring preconditions, each with what was found and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.cards import facts
from bot.cards.ids import ActionId
from bot.cards.layout import plural, within_budget
from bot.cards.links import safe_link
from bot.cards.message import SlackMessage
from bot.cards.text import CONTEXT_ELEMENT, clip, esc, fallback, mrkdwn

if TYPE_CHECKING:
    # Only the type: at runtime cards stay free of doctor's imports (config, client).
    from bot.doctor import Check

# One section per check keeps each fix next to its link button. The real list has
# five checks; the caps only guard Slack's limits (50 blocks, total text).
MAX_CHECKS = 45
NAME_TEXT = 100
DETAIL_TEXT = 1000


def status_report(checks: Sequence[Check]) -> SlackMessage:
    problems = sum(1 for check in checks if check.required and not check.ok)
    warnings = sum(1 for check in checks if not check.required and not check.ok)
    headline = "Ready to hire and pay" if not problems else f"{plural(problems, 'problem')} to fix"
    sections = [_check(check) for check in checks[:MAX_CHECKS]]
    shown = sections[: within_budget(sections)]
    blocks: list[Block] = [HeaderBlock(text=headline), *shown]
    notes = []
    if len(checks) > len(shown):
        notes.append(f"…and {plural(len(checks) - len(shown), 'more check')}.")
    if warnings:
        notes.append(f"{plural(warnings, 'warning')}: hiring may still work; see ⚠️ above.")
    if notes:
        blocks.append(ContextBlock(elements=[mrkdwn(" ".join(notes), CONTEXT_ELEMENT)]))
    summary = headline if not warnings else f"{headline} ({plural(warnings, 'warning')})"
    return SlackMessage(text=fallback(summary), blocks=blocks)


def _check(check: Check) -> SectionBlock:
    mark = "✅" if check.ok else "❌" if check.required else "⚠️"
    # Details quote what OpenTrain holds (a token's label, for one), so they are escaped.
    name = esc(clip(check.name, NAME_TEXT))
    text = f"{mark} *{name}* — {esc(clip(check.detail, DETAIL_TEXT), multiline=True)}"
    if not check.ok and check.fix:
        text += f"\n*Fix:* {esc(clip(check.fix, DETAIL_TEXT), multiline=True)}"
    url = safe_link(check.link)
    return SectionBlock(
        text=mrkdwn(text),
        accessory=(
            facts.link_button("Fix it" if not check.ok else "Open", url, ActionId.OPEN_LINK)
            if url is not None
            else None
        ),
    )
