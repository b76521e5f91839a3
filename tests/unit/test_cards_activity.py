"""`bot/cards/activity.py`: a job's activity as notices, and the subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.cards import ActionId, activity
from bot.opentrain import Contract, Proposal
from bot.store.kinds import JobSubscription, Topic
from tests.unit.cards_limits import assert_fits, mrkdwn_texts, shown_texts

HOSTILE = "<!channel> see <https://evil.example|this> & <@U0BEN>"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def contract(**extra: Any) -> Contract:
    return Contract.model_validate(
        {
            "id": "ctr_1",
            "status": "active",
            "title": "Dashcam <boxes>",
            "jobId": "job_1",
            "paymentType": "PAY_PER_HOUR",
            "freelancer": {"userId": "u_1", "displayName": "Linus T."},
            "milestones": [
                {"id": "ms_1", "name": "Batch 1", "status": "ACTIVE_FUNDED", "amountUsd": 450}
            ],
            "budget": {"contractId": "ctr_1", "state": "LOW", "consumedFraction": "0.83"},
            **extra,
        }
    )


def plain_texts(blocks: Any) -> list[str]:
    return shown_texts(blocks, ("plain_text",))


def actions(kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in kwargs["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_trainer_message_is_plain_text_whole_at_opentrains_longest() -> None:
    kwargs = assert_fits(activity.trainer_message(contract(), HOSTILE))
    assert HOSTILE in plain_texts(kwargs["blocks"])  # shown as typed, never parsed
    assert "Linus T." in " ".join(mrkdwn_texts(kwargs["blocks"]))
    longest = "<&>" * 3_333 + "x"  # 10 000 characters that would triple when escaped
    shown = assert_fits(activity.trainer_message(contract(), longest))
    assert "".join(plain_texts(shown["blocks"])) == longest


def test_budget_notices_say_low_or_used_up_and_offer_add_and_fund() -> None:
    low = assert_fits(activity.budget_notice(contract(), "LOW"))
    assert "Budget running low" in str(low) and "83 %" in str(low)
    [button] = actions(low)
    assert button["action_id"] == ActionId.ADD_MILESTONE and button["value"] == "ctr_1"
    assert button["text"]["text"] == "Add & fund a milestone"
    depleted = assert_fits(activity.budget_notice(contract(), "DEPLETED"))
    assert "Budget used up" in str(depleted)


def test_work_waiting_offers_release_payout_of_that_milestone() -> None:
    ctr = contract(freelancer={"userId": "u", "displayName": HOSTILE})
    kwargs = assert_fits(activity.work_notice(ctr, ctr.milestones[0]))
    [button] = actions(kwargs)
    assert button["action_id"] == ActionId.REQUEST_PAYOUT and button["value"] == "ms_1"
    assert "$450.00" in str(kwargs) and "Batch 1" in str(kwargs)


def test_a_new_proposal_has_hire_and_transcript() -> None:
    proposal = Proposal.model_validate(
        {
            "id": "prop_1",
            "jobId": "job_1",
            "jobTitle": HOSTILE,
            "bid": {"amountUsd": "420", "unit": "FIXED"},
            "candidate": {"id": "u_1", "displayName": "Katherine J.", "profileSlug": "kj"},
        }
    )
    kwargs = assert_fits(activity.proposal_notice(proposal, opentrain_host="app.opentrain.ai"))
    ids = {button["action_id"] for button in actions(kwargs)}
    assert {ActionId.HIRE_PROPOSAL, ActionId.OPEN_TRANSCRIPT} <= ids


def test_subscriptions_list_each_job_with_its_channel_and_topics() -> None:
    sub = JobSubscription(
        channel="C0HIRING", topics=frozenset({Topic.WORK, Topic.MESSAGES}), by="U0ANA", at=NOW
    )
    kwargs = assert_fits(activity.subscriptions_list({"job_1": sub}, channel=None))
    assert "`job_1` → <#C0HIRING>: messages, work" in str(kwargs["blocks"])
    empty = assert_fits(activity.subscriptions_list({}, channel="C0HIRING"))
    assert "No job is subscribed in <#C0HIRING>" in str(empty)
    told = assert_fits(activity.subscribed("job_1", sub))
    assert "trainer messages" in str(told) and "waiting for its payout" in str(told)


def test_the_hire_card_links_to_the_thread_elsewhere() -> None:
    ctr = contract(freelancer={"userId": "u", "displayName": HOSTILE})
    kwargs = assert_fits(activity.continued_in(ctr, "C0GENERAL"))
    assert "<#C0GENERAL>" in str(kwargs["blocks"])
