"""How an approval ended, per kind of request (`bot/cards/outcomes.py`), as the card, its
thread reply and the requester's DM tell it."""

from __future__ import annotations

import pytest

from bot import cards
from bot.cards.outcomes import AFTERMATH, aftermath
from bot.opentrain.models import ApprovalType
from bot.tracked_approvals import TrackedApproval, TrackedStatus
from tests.unit.cards_helpers import HOST, NOW, end, fund, payout, resolved, texts, tracked

ENDINGS = (
    TrackedStatus.CONFIRMED,
    TrackedStatus.DECLINED,
    TrackedStatus.EXPIRED,
    TrackedStatus.SUPERSEDED,
    TrackedStatus.ENDED,
)


def test_every_kind_of_request_has_a_sentence_for_every_ending() -> None:
    assert set(AFTERMATH) == set(ApprovalType)
    for approval_type in ApprovalType:
        assert set(AFTERMATH[approval_type]) == set(ENDINGS)
        for status in ENDINGS:
            assert aftermath(approval_type, status).endswith(".")
        assert aftermath(approval_type, TrackedStatus.PENDING) == ""
        assert aftermath(approval_type, TrackedStatus.NOT_FOUND) == ""
    for status in ENDINGS:
        # Each kind says its own thing: no sentence is shared between two kinds.
        sentences = {AFTERMATH[approval_type][status] for approval_type in ApprovalType}
        assert len(sentences) == len(ApprovalType)


@pytest.mark.parametrize(
    ("approval", "declined", "expired"),
    [
        (
            tracked(),
            "Nobody was hired and nothing was paid.",
            "Nobody confirmed in time, so nobody was hired and nothing was paid.",
        ),
        (
            fund(),
            "Nothing was funded; the milestone is still waiting for funding.",
            "Nobody confirmed in time, so nothing was funded; the milestone is still waiting "
            "for funding.",
        ),
        (
            payout(),
            "The payout was not released; the milestone stays funded in escrow.",
            "Nobody confirmed in time, so the payout was not released; the milestone stays "
            "funded in escrow.",
        ),
        (
            end(),
            "The contract stays active.",
            "Nobody confirmed in time, so the contract stays active.",
        ),
    ],
    ids=["hire", "fund", "payout", "end"],
)
def test_declines_and_expiries_say_what_they_mean_for_the_kind_of_request(
    approval: TrackedApproval, declined: str, expired: str
) -> None:
    for status, said in ((TrackedStatus.DECLINED, declined), (TrackedStatus.EXPIRED, expired)):
        ended = resolved(approval, status)
        assert said in texts(cards.approval_card(ended, now=NOW, opentrain_host=HOST))
        reply = cards.outcome_reply(ended, now=NOW)
        assert said in texts(reply) and said in reply.text
    dm = cards.requester_dm(
        resolved(approval, TrackedStatus.EXPIRED), now=NOW, reason="expired", channel_error=None
    )
    assert expired in texts(dm) and expired in dm.text
    if approval.type is not ApprovalType.PROPOSAL_HIRE:
        assert "hired" not in texts(dm) + texts(reply)


@pytest.mark.parametrize(
    ("approval", "said"),
    [
        (tracked(), "The freelancer is hired and the first milestone is funded."),
        (fund(), "The milestone is funded into escrow."),
        (payout(), "The payout was released to the freelancer."),
        (end(), "The contract has ended."),
    ],
    ids=["hire", "fund", "payout", "end"],
)
def test_a_confirmation_is_said_in_the_replys_fallback_text(
    approval: TrackedApproval, said: str
) -> None:
    reply = cards.outcome_reply(resolved(approval, TrackedStatus.CONFIRMED), now=NOW)
    assert reply.text.endswith(said)


def test_a_superseded_reply_names_the_newer_request_in_the_fallback_without_markup() -> None:
    superseded = resolved(tracked(), TrackedStatus.SUPERSEDED, superseded_by="apr_2")
    reply = cards.outcome_reply(superseded, now=NOW)
    assert "The newer request is `apr_2`. Nobody was hired through this request" in texts(reply)
    assert reply.text == (
        "Replaced by a newer hire request: Hire Ada L. — Batch 1. The newer request is apr_2. "
        "Nobody was hired through this request; the newer one carries the hire."
    )
