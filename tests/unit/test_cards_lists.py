"""The lists (`bot/cards/lists.py`): `/opentrain pending` and the digest."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot import cards
from bot.cards import ActionId
from bot.tracked_approvals import ApprovalDetails
from tests.unit.cards_helpers import (
    EXPIRES_TOKEN,
    NOW,
    PERMALINK,
    blocks,
    end,
    fund,
    mrkdwn,
    of_type,
    payout,
    texts,
    tracked,
)
from tests.unit.cards_limits import assert_fits

# --- pending_list ---------------------------------------------------------------------


def test_pending_list_sorts_by_expiry_and_links_cards() -> None:
    later = fund(approval_id="apr_2", expires_at=NOW + timedelta(days=2))
    sooner = payout(approval_id="apr_3", expires_at=NOW + timedelta(hours=2))
    message = cards.pending_list(
        [later, sooner], now=NOW, permalinks={"apr_3": "https://acme.slack.com/archives/C1/p3"}
    )
    header, first, second = blocks(message)
    assert header["text"]["text"] == "Waiting for a human in OpenTrain (2)"
    assert first["text"]["text"] == "Release payout for Batch 1 — $300.00 payout"
    assert first["fields"][0] == mrkdwn("*Asked by*\n<@U0ADA>")
    assert first["fields"][1]["text"] == (
        "*Expires*\n<!date^1781265600^{date_short_pretty} at {time}|2026-06-12 12:00 UTC>"
    )
    assert first["accessory"]["url"] == "https://acme.slack.com/archives/C1/p3"
    assert first["accessory"]["action_id"] == ActionId.OPEN_CARD
    assert second["text"]["text"] == "Fund milestone Batch 2 — $450.50 into escrow"
    assert "accessory" not in second
    assert message.text == (
        "2 waiting for a human in OpenTrain; the first expires 2026-06-12 12:00 UTC."
    )


def test_pending_list_shows_forty_and_counts_the_rest() -> None:
    many = [
        tracked(approval_id=f"apr_{i:02}", expires_at=NOW + timedelta(hours=i + 1))
        for i in range(45)
    ]
    message = cards.pending_list(list(reversed(many)), now=NOW, permalinks={})
    sections = of_type(message, "section")
    assert len(sections) == cards.MAX_LISTED == 40
    assert sections[0]["fields"][1]["text"].startswith("*Expires*\n<!date^1781262000^")
    assert of_type(message, "context")[-1]["elements"][0]["text"].startswith("…and 5 more")
    assert len(blocks(message)) <= 50


def test_pending_list_when_nothing_waits() -> None:
    message = cards.pending_list([], now=NOW, permalinks={})
    assert message.text == "Nothing is waiting for a human in OpenTrain."


# --- digest_message -------------------------------------------------------------------


def test_digest_header_sums_what_would_move() -> None:
    approvals = [
        tracked(card_permalink=PERMALINK),  # $300 hire → $339.95 with fees
        fund(approval_id="apr_f"),  # $450.50
        end(None, approval_id="apr_e"),  # unknown escrow
    ]
    message = cards.digest_message(approvals, now=NOW)
    assert blocks(message)[0]["text"]["text"] == "3 approvals pending, $790.45 at risk"
    assert blocks(message)[1]["text"]["text"].split("\n") == [
        f"• <{PERMALINK}|Hire Ada L. — Batch 1> — $339.95 total incl. fees — "
        f"expires {EXPIRES_TOKEN}",
        f"• Fund milestone Batch 2 — $450.50 into escrow — expires {EXPIRES_TOKEN}",
        f"• End contract Image Segmentation — escrow unknown — expires {EXPIRES_TOKEN}",
    ]
    assert blocks(message)[2]["elements"][0]["text"] == (
        "1 approval with an unknown amount not counted in the total."
    )
    assert message.text == "3 approvals pending, $790.45 at risk"


def test_digest_of_one_and_of_none() -> None:
    assert cards.digest_message([fund()], now=NOW).text == "1 approval pending, $450.50 at risk"
    empty = cards.digest_message([], now=NOW)
    assert empty.text == "Nothing is waiting for a human in OpenTrain."


def test_long_digest_stops_within_slacks_total_text_limit() -> None:
    approvals = [fund(approval_id=f"apr_{i}", card_permalink=PERMALINK) for i in range(100)]
    message = cards.digest_message(approvals, now=NOW)
    assert blocks(message)[0]["text"]["text"] == "100 approvals pending, $45,050.00 at risk"
    shown = texts(message)
    listed = shown.count("• <")
    assert 20 <= listed < 100
    assert blocks(message)[-1]["elements"][0]["text"] == f"…and {100 - listed} more."
    assert_fits(message)


def test_digest_link_labels_are_escaped() -> None:
    approval = fund(
        details=ApprovalDetails(milestone_name="<!channel> | x", amount_usd=Decimal(1)),
        card_permalink=PERMALINK,
    )
    line = blocks(cards.digest_message([approval], now=NOW))[1]["text"]["text"]
    assert line.startswith(f"• <{PERMALINK}|Fund milestone &lt;!channel&gt; | x>")
