"""Short replies to slash commands: help, usage errors, plain notices."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, HeaderBlock, SectionBlock

from bot.cards.message import SlackMessage
from bot.cards.text import esc, fallback, mrkdwn, plain

_COMMAND = "/opentrain"

# (syntax, purpose) per group; the syntax is shown exactly as people type it.
_HELP: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Ask for money to move (a human confirms in OpenTrain)",
        (
            ("hire <proposalId> [amount] [name…]", "hire from a proposal with a first milestone"),
            ("fund <milestoneId>", "fund a milestone into escrow"),
            ("payout <milestoneId>", "release a funded milestone to the freelancer"),
            ("end <contractId>", "end a contract (needs confirmation while escrow is funded)"),
            ("milestone <contractId>", "add a milestone to a contract (moves no money)"),
            ("track <approvalId|approvalUrl>", "follow an approval created elsewhere"),
        ),
    ),
    (
        "Look things up",
        (
            ("pending", "what is waiting for a human, soonest expiry first"),
            ("contracts [active|ended]", "your contracts"),
            ("contract <contractId>", "one contract with its milestones"),
            ("status", "check the OpenTrain account, token scopes and billing"),
            ("audit <approvalId>", "who did what with an approval"),
        ),
    ),
    (
        "Set up (changes: admins only)",
        (
            ("approvers [set|add|remove …]", "show or change who is reminded before expiry"),
            ("route <jobId|type> #channel", "post a job's or type's cards in a channel"),
            ("route list", "show where cards go"),
            ("route remove <key>", "forget a route"),
            ("policy", "agents' spend limits and what each agent used"),
            ("help", "this message"),
        ),
    ),
)


def help_message() -> SlackMessage:
    blocks: list[Block] = [
        HeaderBlock(text="OpenTrain co-sign commands"),
        SectionBlock(
            text=mrkdwn(
                "Money never moves from Slack alone: hires, funding, payouts and contract ends "
                "wait for a human to confirm in OpenTrain, and the card here follows along."
            )
        ),
    ]
    for heading, commands in _HELP:
        lines = [f"`{esc(f'{_COMMAND} {syntax}')}` — {purpose}" for syntax, purpose in commands]
        blocks.append(SectionBlock(text=mrkdwn(f"*{heading}*\n" + "\n".join(lines))))
    names = dict.fromkeys(syntax.split()[0] for _, commands in _HELP for syntax, _ in commands)
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
