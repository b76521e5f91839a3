"""No message freezes a time relative to when it was rendered: every builder that shows an
approval, a pending or an ended one, says its times as Slack date tokens (or UTC words in
fallback text), never "in 2 days 5 h", "3 h ago" or "expires in…"."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot import cards
from bot.agent_asks import AgentAsk, PolicyRequest
from bot.cards.policy import policy_card
from bot.tracked_approvals import TrackedApproval, TrackedStatus
from tests.unit.cards_helpers import HOST, NOW, PERMALINK, end, fund, payout, resolved, tracked

RELATIVE = re.compile(
    r"\bago\b"
    r"|\b(?:expires|expired|expiring|ends|ended|due) in (?:\d|an? |about |a few )"
    r"|\bin (?:about )?\d+ ?(?:s|sec|secs|min|mins|h|hours?|days?)\b"
    r"|\b\d+ ?(?:s|min|h|hours?|days?) (?:left|ago|from now)\b"
    r"|\bfrom now\b"
    r"|\b\d+ days? \d+ h\b"
    r"|\b\d+ h \d+ min\b",
    re.IGNORECASE,
)

KINDS = {"hire": tracked, "fund": fund, "payout": payout, "end": end}
PENDING = {
    "in-2-days": timedelta(days=2, hours=5),
    "in-90-min": timedelta(minutes=90),
    "overdue": -timedelta(hours=3),
}


def pending_approvals() -> list[TrackedApproval]:
    return [
        make(approval_id=f"apr_{kind}_{when}", expires_at=NOW + delta, card_permalink=PERMALINK)
        for kind, make in KINDS.items()
        for when, delta in PENDING.items()
    ]


def ended_approvals() -> list[TrackedApproval]:
    return [
        resolved(
            make(approval_id=f"apr_{kind}_{status}", card_permalink=PERMALINK, channel_id="C0OPS"),
            status,
            superseded_by="apr_new",
            opentrain_status="cancelled" if status is TrackedStatus.ENDED else None,
            result={"contractId": "ctr_9", "invoiceId": "inv_1"},
        )
        for kind, make in KINDS.items()
        for status in TrackedStatus
        if status is not TrackedStatus.PENDING
    ]


def rendered(*outputs: Any) -> str:
    """Everything a reader could see (fallback text and blocks), as one text."""
    shown = []
    for output in outputs:
        if isinstance(output, cards.SlackMessage):
            output = output.as_kwargs()
        elif hasattr(output, "to_dict"):
            output = output.to_dict()
        shown.append(json.dumps(output, ensure_ascii=False))
    return "\n".join(shown)


def assert_no_relative_time(text: str) -> None:
    found = RELATIVE.findall(text)
    assert not found, f"relative times frozen into a message: {found}"


def every_approval_message(approval: TrackedApproval) -> str:
    outputs: list[Any] = [
        cards.approval_card(approval, now=NOW, opentrain_host=HOST, approvers=["U0BOSS"]),
        cards.unfurl_blocks(approval, now=NOW, opentrain_host=HOST),
        cards.requester_dm(approval, now=NOW, reason="expired", channel_error=None),
        cards.requester_dm(
            approval,
            now=NOW,
            reason="channel_unavailable",
            channel_error="not_in_channel",
            opentrain_host=HOST,
        ),
        cards.cosign_receipt(
            approval,
            created=True,
            channel_id="C0OPS",
            permalink=PERMALINK,
            error=None,
            now=NOW,
            opentrain_host=HOST,
        ),
    ]
    for final in (False, True):
        outputs.append(
            cards.reminder_dm(
                approval, now=NOW, opentrain_host=HOST, card_permalink=PERMALINK, final=final
            )
        )
    if approval.status is not TrackedStatus.PENDING:
        outputs += [
            cards.outcome_reply(approval, now=NOW),
            cards.reminder_dm_retired(approval, permalink=PERMALINK, opentrain_host=HOST),
            cards.requester_dm_retired(approval, channel_error="not_in_channel"),
        ]
    return rendered(*outputs)


@pytest.mark.parametrize(
    "approval",
    pending_approvals() + ended_approvals(),
    ids=lambda approval: approval.approval_id,
)
def test_no_approval_message_says_a_time_relative_to_now(approval: TrackedApproval) -> None:
    shown = every_approval_message(approval)
    assert_no_relative_time(shown)
    assert "<!date^" in shown  # the times are there, as Slack date tokens


def test_no_list_home_or_digest_says_a_time_relative_to_now() -> None:
    pending, ended = pending_approvals(), ended_approvals()
    ids = [approval.approval_id for approval in pending]
    shown = rendered(
        cards.pending_list(pending, now=NOW, permalinks=dict.fromkeys(ids, PERMALINK)),
        cards.digest_message(pending, now=NOW),
        cards.home_view(
            waiting_on_you=pending,
            requested_by_you=pending,
            recent_outcomes=ended,
            now=NOW,
            opentrain_host=HOST,
        ),
        cards.reminders_sent([], NOW + timedelta(minutes=40)),
    )
    assert_no_relative_time(shown)


@pytest.mark.parametrize("status", ["awaiting_policy_approval", "allowed", "refused", "expired"])
@pytest.mark.parametrize("expires_in", [timedelta(hours=20), -timedelta(hours=1)])
def test_no_policy_card_says_a_time_relative_to_now(status: str, expires_in: timedelta) -> None:
    request = PolicyRequest(
        request_id="req_1",
        agent="ops-bot",
        ask=AgentAsk(kind="fund", milestone_id="ms_1"),
        type="fund",
        what="fund milestone Batch 2",
        subject="ms_1",
        rule="maxPerDayUsd",
        limit_usd=Decimal(100),
        used_usd=Decimal(80),
        requested_usd=Decimal("250.50"),
        status=status,  # type: ignore[arg-type]
        created_at=NOW - timedelta(hours=4),
        expires_at=NOW + expires_in,
        decided_by="U0ADMIN" if status in ("allowed", "refused") else None,
        decided_at=NOW - timedelta(hours=1) if status in ("allowed", "refused") else None,
        card_permalink=PERMALINK,
    )
    shown = rendered(policy_card(request, now=NOW))
    assert_no_relative_time(shown)
    if status == "awaiting_policy_approval":
        verb = "expires" if expires_in > timedelta(0) else "expired"
        assert f"this request {verb} <!date^{int((NOW + expires_in).timestamp())}^" in shown


@pytest.mark.parametrize(
    "phrase",
    [
        "expires in 2 days 5 h",
        "expired 3 h ago",
        "(7 s ago)",
        "in 1 h 30 min",
        "in 45 min",
        "2 days left",
        "expires in a day",
    ],
)
def test_the_check_catches_the_phrases_it_is_for(phrase: str) -> None:
    with pytest.raises(AssertionError):
        assert_no_relative_time(f"Confirmed in OpenTrain {phrase}")


@pytest.mark.parametrize(
    "phrase", ["Snooze 4 h", "reminders 24 h before expiry", "no admin answered within 24 h"]
)
def test_durations_that_are_not_relative_to_now_are_fine(phrase: str) -> None:
    assert_no_relative_time(phrase)
