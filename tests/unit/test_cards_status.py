"""`/opentrain status` (`bot/cards/status.py`)."""

from __future__ import annotations

from typing import Any

from bot import cards
from bot.cards import SlackMessage
from bot.doctor import Check
from tests.unit.cards_helpers import blocks, mrkdwn


def all_buttons(message: SlackMessage) -> list[dict[str, Any]]:
    """Every button: in actions blocks and as section accessories."""
    found = [e for b in blocks(message) if b["type"] == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in blocks(message) if "accessory" in b]
    return found


PASSING = [
    Check("OpenTrain token", True, "valid (token “bot”)"),
    Check("Claimed account", True, "a human owns the account"),
    Check("Credit balance", True, "$50.00 available"),
]


def test_status_report_when_everything_passes() -> None:
    message = cards.status_report(PASSING)
    assert blocks(message) == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Ready to hire and pay", "emoji": True},
        },
        {"type": "section", "text": mrkdwn("✅ *OpenTrain token* — valid (token “bot”)")},
        {"type": "section", "text": mrkdwn("✅ *Claimed account* — a human owns the account")},
        {"type": "section", "text": mrkdwn("✅ *Credit balance* — $50.00 available")},
    ]
    assert message.text == "Ready to hire and pay"


def test_status_report_with_problems_and_warnings() -> None:
    checks = [
        PASSING[0],
        Check(
            "Claimed account",
            False,
            "the account has not been claimed by a human",
            "A human must claim it in OpenTrain.",
            "https://app.opentrain.ai/claim",
        ),
        Check("Credit balance", False, "$0.00 available", "Add credits.", required=False),
    ]
    message = cards.status_report(checks)
    shown = blocks(message)
    assert shown[0]["text"]["text"] == "1 problem to fix"
    assert shown[2] == {
        "type": "section",
        "text": mrkdwn(
            "❌ *Claimed account* — the account has not been claimed by a human\n"
            "*Fix:* A human must claim it in OpenTrain."
        ),
        "accessory": {
            "type": "button",
            "action_id": "open-link",
            "text": {"type": "plain_text", "text": "Fix it", "emoji": True},
            "url": "https://app.opentrain.ai/claim",
        },
    }
    assert shown[3]["text"]["text"] == "⚠️ *Credit balance* — $0.00 available\n*Fix:* Add credits."
    assert shown[4]["type"] == "context"
    assert "1 warning" in shown[4]["elements"][0]["text"]
    assert message.text == "1 problem to fix (1 warning)"


def test_status_report_counts_problems_and_drops_unsafe_links() -> None:
    checks = [
        Check("Token scopes", False, "missing payments:write", link="javascript:alert(1)"),
        Check("Features", False, "off: public_api_hiring", link="http://evil.example/"),
    ]
    message = cards.status_report(checks)
    assert blocks(message)[0]["text"]["text"] == "2 problems to fix"
    assert all_buttons(message) == []


def test_status_report_link_on_a_passing_check_is_labelled_open() -> None:
    billing = "https://app.opentrain.ai/billing"
    message = cards.status_report([Check("Billing", True, "card on file", link=billing)])
    assert all_buttons(message)[0]["text"]["text"] == "Open"
