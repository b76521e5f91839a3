"""The App Home tab (`bot/cards/home.py`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import cards
from bot.tracked_approvals import TrackedStatus
from tests.unit.cards_helpers import HOST, NOW, PERMALINK, fund, mrkdwn, payout, resolved, tracked


def home(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "waiting_on_you": [],
        "requested_by_you": [],
        "recent_outcomes": [],
        "now": NOW,
        "opentrain_host": HOST,
        **overrides,
    }
    return cards.home_view(**kwargs).to_dict()


def test_home_view_rows_buttons_and_urgency() -> None:
    soon = fund(
        approval_id="apr_soon", expires_at=NOW + timedelta(hours=3), card_permalink=PERMALINK
    )
    later = tracked()
    done = resolved(payout(approval_id="apr_done"), TrackedStatus.CONFIRMED)
    view = home(waiting_on_you=[soon, later], requested_by_you=[later], recent_outcomes=[done])
    assert view["type"] == "home"
    shown = view["blocks"]
    headers = [b["text"]["text"] for b in shown if b["type"] == "header"]
    assert headers == ["Waiting on you (2)", "Requested by you (1)", "Recent outcomes (1)"]
    assert shown[2] == {
        "type": "section",
        "text": {
            "type": "plain_text",
            "text": "🔴 Urgent: Fund milestone Batch 2 — $450.50 into escrow",
            "emoji": True,
        },
        "fields": [
            mrkdwn("*Asked by*\n<@U0ADA>"),
            mrkdwn(
                "*Expires*\n<!date^1781269200^{date_short_pretty} at {time}|2026-06-12 13:00 UTC>"
            ),
        ],
    }
    assert [(e["action_id"], e["text"]["text"]) for e in shown[3]["elements"]] == [
        ("open-card", "View card"),
        ("open-approval", "Review in OpenTrain"),
    ]
    # Caller's order is kept: the later one second, not urgent, no card link.
    assert shown[4]["text"]["text"] == "Hire Ada L. — Batch 1 — $339.95 total incl. fees"
    assert [e["action_id"] for e in shown[5]["elements"]] == ["open-approval"]
    outcome = shown[-1]
    assert outcome["fields"][1]["text"].startswith("✅ *Confirmed in OpenTrain*\n<!date^")


def test_home_view_empty_states() -> None:
    shown = home()["blocks"]
    assert [b["type"] for b in shown] == [
        "context",
        "header",
        "context",
        "header",
        "context",
        "header",
        "context",
    ]
    assert shown[0]["elements"][0]["text"].startswith("Updated <!date^1781258400^")
    assert shown[2]["elements"][0]["text"] == "Nothing is waiting for you to confirm in OpenTrain."


def test_home_view_holds_100_blocks_with_long_lists() -> None:
    many = [tracked(approval_id=f"apr_{i}", card_permalink=PERMALINK) for i in range(60)]
    view = home(waiting_on_you=many, requested_by_you=many, recent_outcomes=many)
    assert len(view["blocks"]) <= 100
    closing = [b for b in view["blocks"] if b["type"] == "context"][1:]
    assert [c["elements"][0]["text"] for c in closing] == [
        "…and 45 more — `/opentrain pending` lists every pending one."
    ] * 3


def test_home_view_does_not_mark_expired_or_distant_requests_urgent() -> None:
    view = home(
        waiting_on_you=[
            tracked(expires_at=NOW - timedelta(minutes=5)),
            tracked(expires_at=NOW + timedelta(hours=13)),
            tracked(expires_at=NOW + timedelta(hours=12)),
        ]
    )
    rows = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert [row.startswith("🔴 Urgent") for row in rows] == [False, False, True]
