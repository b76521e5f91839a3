"""An approval's audit trail (`bot/cards/audit.py`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import cards
from bot.audit_log import AuditEntry
from tests.unit.cards_helpers import NOW, blocks, mrkdwn, texts


def entry(minutes: int, action: str, actor: str, **details: Any) -> AuditEntry:
    return AuditEntry(
        at=NOW + timedelta(minutes=minutes), action=action, actor=actor, details=details
    )


def test_audit_is_chronological_with_actors_rendered() -> None:
    entries = [
        entry(2, "card_posted", "bot", channel="C0CARDS", ts="1.2"),
        entry(0, "request", "slack:U0ADA"),
        entry(1, "request", "agent:scout <!here>"),
        entry(3, "outcome", "opentrain", status="confirmed"),
        entry(4, "refused", "mallory"),
    ]
    message = cards.audit_view("apr_1", entries)
    assert blocks(message)[0]["text"]["text"] == "Audit of approval apr_1"
    lines = blocks(message)[1]["text"]["text"].split("\n")
    assert lines == [
        "<!date^1781258400^{date_short_pretty} at {time}|2026-06-12 10:00 UTC> *request* by "
        "<@U0ADA>",
        "<!date^1781258460^{date_short_pretty} at {time}|2026-06-12 10:01 UTC> *request* by agent "
        "scout &lt;!here&gt;",
        "<!date^1781258520^{date_short_pretty} at {time}|2026-06-12 10:02 UTC> *card_posted* by "
        "bot — channel=C0CARDS, ts=1.2",
        "<!date^1781258580^{date_short_pretty} at {time}|2026-06-12 10:03 UTC> *outcome* by "
        "opentrain — status=confirmed",
        "<!date^1781258640^{date_short_pretty} at {time}|2026-06-12 10:04 UTC> *refused* by "
        "`mallory`",
    ]
    assert message.text == "Audit of approval apr_1: 5 entries"


def test_audit_shows_the_last_40_entries() -> None:
    entries = [entry(i, f"step{i}", "bot") for i in range(45)]
    message = cards.audit_view("apr_1", entries)
    assert blocks(message)[1] == {
        "type": "context",
        "elements": [mrkdwn("Showing the last 40 of 45 entries.")],
    }
    shown = texts(message)
    assert "*step4*" not in shown and "*step5*" in shown and "*step44*" in shown


def test_audit_details_are_clipped_and_escaped() -> None:
    message = cards.audit_view("apr_1", [entry(0, "reminder", "bot", note="<!channel>" * 100)])
    line = blocks(message)[1]["text"]["text"]
    assert "note=&lt;!channel&gt;" in line
    assert "<!channel>" not in line
    assert line.endswith("…")


def test_empty_audit() -> None:
    message = cards.audit_view("apr_1", [])
    assert blocks(message)[1]["text"]["text"] == "Nothing is recorded for approval `apr_1`."
