"""Why OpenTrain said no, and what to do (`bot/cards/explanation.py`)."""

from __future__ import annotations

from bot import cards
from bot.cards import ActionId
from bot.explain import Explanation
from tests.unit.cards_helpers import blocks, buttons, first_text, mrkdwn, of_type


def test_explanation_with_link_and_request_id() -> None:
    explanation = Explanation(
        "The OpenTrain account is not claimed.",
        "Claim the account",
        "https://app.opentrain.ai/claim?token=abc&x=1",
        "req_42",
    )
    message = cards.explanation_message(explanation)
    assert blocks(message) == [
        {"type": "section", "text": mrkdwn("⚠️ The OpenTrain account is not claimed.")},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open-link",
                    "text": {"type": "plain_text", "text": "Claim the account", "emoji": True},
                    "url": "https://app.opentrain.ai/claim?token=abc&x=1",
                }
            ],
        },
        {"type": "context", "elements": [mrkdwn("OpenTrain request id: `req_42`")]},
    ]
    assert message.text == "The OpenTrain account is not claimed."


def test_explanation_link_may_be_on_any_https_host_but_nothing_else() -> None:
    billing = Explanation("Add a card.", "Open billing", "https://billing.example.com/pay")
    assert (
        buttons(cards.explanation_message(billing))[0]["url"] == "https://billing.example.com/pay"
    )
    sandbox = Explanation("Add a card.", None, "http://127.0.0.1:8123/billing")
    button = buttons(cards.explanation_message(sandbox))[0]
    assert button["text"]["text"] == "Open in OpenTrain"
    for url in ("javascript:alert(1)", "http://evil.example/claim", "https://x/<!channel>", ""):
        message = cards.explanation_message(Explanation("Add a card.", "Open", url))
        assert of_type(message, "actions") == []


def test_explanation_hire_anyway_button_asks_for_confirmation() -> None:
    explanation = Explanation(
        "This proposal was marked “Not a fit” in review.", request_id="req_7", hire_anyway=True
    )
    message = cards.explanation_message(explanation, hire_anyway_value="hire-draft:d1")
    (button,) = buttons(message)
    assert button["action_id"] == ActionId.HIRE_ANYWAY.value == "hire-anyway"
    assert button["value"] == "hire-draft:d1"
    assert button["style"] == "danger"
    assert button["confirm"]["style"] == "danger"
    assert "Not a fit" in button["confirm"]["text"]["text"]
    assert button["confirm"]["confirm"]["text"] == "Hire anyway"
    assert button["confirm"]["deny"]["text"] == "Cancel"
    assert blocks(message)[-1] == {
        "type": "context",
        "elements": [mrkdwn("OpenTrain request id: `req_7`")],
    }


def test_explanation_without_extras_is_one_section() -> None:
    message = cards.explanation_message(Explanation("OpenTrain is rate limiting the bot."))
    assert len(blocks(message)) == 1


def test_explanation_escapes_typed_fragments_but_keeps_formatting() -> None:
    explanation = Explanation("“<!channel> & <@U1>” is not a command.\nType: `/opentrain help`")
    message = cards.explanation_message(explanation)
    assert first_text(message) == (
        "⚠️ “&lt;!channel&gt; &amp; &lt;@U1&gt;” is not a command.\nType: `/opentrain help`"
    )
    assert message.text.startswith("“&lt;!channel&gt; &amp; &lt;@U1&gt;”")
