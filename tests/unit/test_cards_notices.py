"""The short notices (`bot/cards/notices.py`): help, usage errors and one-line notices."""

from __future__ import annotations

from bot import cards
from handlers.commands import help_sections
from tests.unit.cards_helpers import blocks, mrkdwn, texts


def test_help_lists_every_subcommand() -> None:
    shown = texts(cards.help_message(help_sections()))
    for syntax in [
        "hire &lt;proposalId&gt; [amount] [milestone name…]",
        "fund &lt;milestoneId&gt;",
        "payout &lt;milestoneId&gt;",
        "end &lt;contractId&gt;",
        "milestone &lt;contractId&gt;",
        "track &lt;approvalId|approvalUrl&gt;",
        "pending",
        "contracts [active|ended]",
        "contract &lt;contractId&gt;",
        "status",
        "approvers [set|add|remove|escalate|admins] [#channel|global] [over &lt;amount&gt;] "
        "@user @group… | after 24h|off",
        "route &lt;jobId|hire|fund|payout|end&gt; #channel",
        "route list",
        "route remove &lt;key&gt;",
        "audit &lt;approvalId&gt;",
        "help",
    ]:
        assert f"`/opentrain {syntax}` — " in shown
    text = cards.help_message(help_sections()).text
    assert text.startswith("/opentrain commands: hire, fund, payout, end")


def test_usage_error_says_what_was_wrong_and_what_to_type() -> None:
    message = cards.usage_error("“abc” is not an amount", "/opentrain hire <proposalId> [amount]")
    assert blocks(message) == [
        {
            "type": "section",
            "text": {"type": "plain_text", "text": "⚠️ “abc” is not an amount", "emoji": True},
        },
        {
            "type": "section",
            "text": mrkdwn("*Type this instead:* `/opentrain hire &lt;proposalId&gt; [amount]`"),
        },
    ]


def test_notice_is_one_escaped_section() -> None:
    message = cards.notice("Contract ctr_1 ended <now> & done\nsecond line")
    assert blocks(message) == [
        {
            "type": "section",
            "text": mrkdwn("Contract ctr_1 ended &lt;now&gt; &amp; done\nsecond line"),
        }
    ]
    assert message.text == "Contract ctr_1 ended &lt;now&gt; &amp; done second line"
