"""`/opentrain audit <approvalId>`: who did what with an approval, oldest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.audit_log import AuditEntry
from bot.cards.layout import packed_sections, plural
from bot.cards.message import SlackMessage
from bot.cards.text import (
    CONTEXT_ELEMENT,
    HEADER_TEXT,
    clean,
    clip,
    code,
    date_token,
    esc,
    fallback,
    mention,
    mrkdwn,
    plain,
)

MAX_ENTRIES = 40  # the most recent; older ones stay in the store (`python -m bot audit`)
ACTION_TEXT = 40
AGENT_TEXT = 60
DETAIL_KEY = 40
DETAIL_VALUE = 80
DETAILS_TEXT = 300
_PLAIN_ACTORS = frozenset({"bot", "opentrain"})


def audit_view(approval_id: str, entries: Sequence[AuditEntry]) -> SlackMessage:
    heading = f"Audit of approval {clean(approval_id)}"
    header = HeaderBlock(text=plain(heading, HEADER_TEXT, multiline=False))
    if not entries:
        return SlackMessage(
            text=fallback(f"Nothing is recorded for approval {approval_id}."),
            blocks=[
                header,
                SectionBlock(text=mrkdwn(f"Nothing is recorded for approval {code(approval_id)}.")),
            ],
        )
    ordered = sorted(entries, key=lambda entry: entry.at)
    shown = ordered[-MAX_ENTRIES:]
    total = plural(len(ordered), "entry", "entries")
    blocks: list[Block] = [header]
    if len(shown) < len(ordered):
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        f"Showing the last {len(shown)} of {total}.",
                        CONTEXT_ELEMENT,
                    )
                ]
            )
        )
    blocks += packed_sections(
        [_line(entry) for entry in shown],
        more=lambda hidden: f"…and {plural(hidden, 'more entry', 'more entries')}.",
    )
    return SlackMessage(text=fallback(f"{heading}: {total}"), blocks=blocks)


def _line(entry: AuditEntry) -> str:
    line = (
        f"{date_token(entry.at)} *{esc(clip(entry.action, ACTION_TEXT))}* by {_actor(entry.actor)}"
    )
    details = _details(entry.details)
    return f"{line} — {details}" if details else line


def _actor(actor: str) -> str:
    kind, _, name = actor.partition(":")
    if kind == "slack" and name:
        return mention(name)
    if kind == "agent" and name:
        return f"agent {esc(clip(name, AGENT_TEXT))}"
    if actor in _PLAIN_ACTORS:
        return actor
    return code(actor)


def _details(details: Mapping[str, object]) -> str:
    pairs = (
        f"{clip(clean(str(key)), DETAIL_KEY)}={clip(clean(str(value)), DETAIL_VALUE)}"
        for key, value in details.items()
    )
    return esc(clip(", ".join(pairs), DETAILS_TEXT))
