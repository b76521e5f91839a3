"""The receipts (`bot/cards/receipts.py`): what a co-sign request and "Remind approvers"
answer the person who asked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot import cards
from bot.cards import SlackMessage
from bot.tracked_approvals import Requester, TrackedApproval, TrackedStatus
from tests.unit.cards_helpers import (
    EXPIRES_TOKEN,
    HOST,
    NOW,
    PERMALINK,
    blocks,
    buttons,
    first_text,
    fund,
    mrkdwn,
    of_type,
    resolved,
    texts,
    tracked,
)

HIRE_LINE = "Hire Ada L. — Batch 1 — $339.95 total incl. fees"


# --- cosign_receipt -------------------------------------------------------------------


def receipt(approval: TrackedApproval | None = None, **overrides: Any) -> SlackMessage:
    kwargs: dict[str, Any] = {
        "created": True,
        "channel_id": "C0CARDS",
        "permalink": PERMALINK,
        "error": None,
        "now": NOW,
        "opentrain_host": HOST,
        **overrides,
    }
    return cards.cosign_receipt(approval or tracked(), **kwargs)


def test_receipt_for_a_posted_card() -> None:
    message = receipt()
    assert blocks(message)[:2] == [
        {
            "type": "section",
            "text": mrkdwn(
                "✅ Approval card posted in <#C0CARDS>.\n"
                f"A human must confirm in OpenTrain before {EXPIRES_TOKEN}."
            ),
        },
        {
            "type": "section",
            "text": {"type": "plain_text", "text": HIRE_LINE, "emoji": True},
        },
    ]
    assert [(b["action_id"], b["url"]) for b in buttons(message)] == [
        ("open-approval", "https://app.opentrain.ai/approvals/apr_1"),
        ("open-card", PERMALINK),
    ]
    assert message.text == "Approval card posted: Hire Ada L. — Batch 1"


def test_receipt_for_an_approval_already_tracked() -> None:
    message = receipt(created=False)
    assert first_text(message).startswith(
        "Already tracked — this is the same approval as before; no new card.\n"
    )
    assert [b["action_id"] for b in buttons(message)] == ["open-approval", "open-card"]


def test_receipt_without_permalink_has_only_the_review_button() -> None:
    message = receipt(permalink=None)
    assert [b["action_id"] for b in buttons(message)] == ["open-approval"]


def test_receipt_withholds_a_foreign_approval_link() -> None:
    message = receipt(tracked(approval_url="https://evil.example/approvals/apr_1"))
    assert [b["action_id"] for b in buttons(message)] == ["open-card"]
    assert "Approval link withheld: not on `app.opentrain.ai`" in texts(message)


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("not_in_channel", "invite me with `/invite @OpenTrain co-sign`"),
        ("is_archived", "the channel is archived"),
        ("channel_not_found", "the channel no longer exists or is private to me"),
    ],
)
def test_receipt_when_the_card_could_not_be_posted(error: str, hint: str) -> None:
    message = receipt(error=error, permalink=None)
    assert first_text(message) == (
        "⚠️ OpenTrain recorded the request (approval `apr_1`), but the card could not be posted "
        f"in <#C0CARDS>: `{error}` — {hint}. I'm sending you the card by DM instead.\n"
        f"A human must confirm in OpenTrain before {EXPIRES_TOKEN}."
    )
    assert message.text.startswith(f"The card could not be posted ({error})")
    assert [b["action_id"] for b in buttons(message)] == ["open-approval"]


def test_receipt_without_any_channel_explains_routes() -> None:
    message = receipt(error="no_channel", channel_id=None, permalink=None)
    assert first_text(message).startswith(
        "⚠️ OpenTrain recorded the request (approval `apr_1`), but the card could not be posted: "
        "`no_channel` — no channel was given and no route or DEFAULT_CHANNEL matches — set one "
        "with `/opentrain route`. I'm sending you the card by DM instead."
    )


def test_receipt_names_the_approvals_channel_when_the_post_reported_none() -> None:
    message = receipt(tracked(channel_id="C0ROUTED"), error="not_in_channel", channel_id=None)
    assert "could not be posted in <#C0ROUTED>: `not_in_channel`" in first_text(message)


def test_receipt_for_an_agent_promises_no_dm_and_unknown_errors_get_no_hint() -> None:
    agent = tracked(requester=Requester(kind="agent", id="scout"))
    message = receipt(agent, error="ratelimited")
    assert first_text(message).startswith(
        "⚠️ OpenTrain recorded the request (approval `apr_1`), but the card could not be posted "
        "in <#C0CARDS>: `ratelimited`.\n"
    )
    assert "DM" not in first_text(message)


def test_receipt_for_a_resolved_approval_says_how_it_ended() -> None:
    confirmed = resolved(fund(), TrackedStatus.CONFIRMED)
    message = receipt(confirmed, created=True)
    text = first_text(message)
    assert "must confirm" not in text
    assert "It has already resolved: ✅ *Confirmed in OpenTrain* <!date^1781247600^" in text
    assert [b["action_id"] for b in buttons(message)] == ["open-card"]
    declined = receipt(resolved(fund(), TrackedStatus.DECLINED), permalink=None)
    assert "*Declined in OpenTrain*" in first_text(declined)
    assert first_text(declined).endswith(
        "Nothing was funded; the milestone is still waiting for funding."
    )
    assert of_type(declined, "actions") == []


def test_receipt_for_a_pending_approval_past_its_expiry() -> None:
    message = receipt(tracked(expires_at=NOW - timedelta(minutes=1)))
    assert "has not reported it expired yet" in first_text(message)


# --- reminders_sent -------------------------------------------------------------------


def test_reminders_sent_answers() -> None:
    three = cards.reminders_sent(["U0ANA", "U0BEN", "U0KAI"], None)
    assert first_text(three) == "🔔 Reminded <@U0ANA>, <@U0BEN>, <@U0KAI> by DM."
    assert cards.reminders_sent(["U0ANA"], None).text == "Reminded 1 approver"
    many = cards.reminders_sent([f"U{i:04d}" for i in range(12)], None)
    assert first_text(many).endswith("<@U0009> and 2 others by DM.")
    assert "<" not in cards.reminders_sent(["<!channel>"], None).text
    throttled = cards.reminders_sent([], NOW + timedelta(minutes=40))
    assert first_text(throttled) == (
        "⏳ The approvers were already reminded within the hour, so nobody was reminded again. "
        "The next reminder is possible <!date^1781260800^{date_short_pretty} at {time}|"
        "2026-06-12 10:40 UTC>."
    )
    nobody = cards.reminders_sent([], None)
    assert "no approvers are set" in first_text(nobody)
    assert "`/opentrain approvers set #channel @someone`" in first_text(nobody)
