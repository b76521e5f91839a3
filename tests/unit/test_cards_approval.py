"""The approval card and what follows it (`bot/cards/approval_card.py`): the card in every
status, the thread reply, the requester's and the approvers' DMs, and the unfurl.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot import cards
from bot.cards import ActionId, SlackMessage, outcomes
from bot.cards.outcomes import aftermath
from bot.tracked_approvals import (
    ApprovalDetails,
    Escalation,
    Requester,
    TrackedApproval,
    TrackedStatus,
)
from tests.unit.cards_helpers import (
    EXPIRES_TOKEN,
    HOST,
    NOW,
    PERMALINK,
    blocks,
    buttons,
    end,
    fund,
    mrkdwn,
    of_type,
    payout,
    resolved,
    texts,
    tracked,
)

DAY = timedelta(hours=24)


def card(approval: TrackedApproval, **kwargs: Any) -> SlackMessage:
    return cards.approval_card(approval, now=NOW, opentrain_host=HOST, **kwargs)


# --- the card -------------------------------------------------------------------------


def test_pending_hire_card_shows_what_costs_who_and_the_link() -> None:
    message = card(tracked(), approvers=["U0BOSS", "S0FINANCE"])
    assert blocks(message) == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Hire Ada L. — Batch 1", "emoji": True},
        },
        {
            "type": "section",
            "fields": [
                mrkdwn("*Milestone amount*\n$300.00"),
                mrkdwn("*Marketplace fee (10 %)*\n$30.00"),
                mrkdwn("*Contract initiation fee*\n$9.95"),
                mrkdwn("*Total*\n*$339.95*"),
            ],
        },
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    "Nothing is charged until a human confirms in OpenTrain. They choose card or "
                    "credit balance there and may adjust the milestone; the confirmed values win."
                )
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "plain_text", "text": "Job: Image Segmentation", "emoji": True},
                mrkdwn("Proposal `prop_1` · Approval `apr_1`"),
            ],
        },
        {"type": "section", "text": mrkdwn("*Requested by* <@U0ADA>")},
        {"type": "section", "text": mrkdwn("*Approvers:* <@U0BOSS>, <!subteam^S0FINANCE>")},
        {
            "type": "section",
            "text": mrkdwn(
                "⏳ *Waiting for a human to confirm in OpenTrain*\n"
                f"This request expires {EXPIRES_TOKEN}."
            ),
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open-approval",
                    "text": {
                        "type": "plain_text",
                        "text": "Review & confirm in OpenTrain",
                        "emoji": True,
                    },
                    "url": "https://app.opentrain.ai/approvals/apr_1",
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": "remind-approvers",
                    "text": {"type": "plain_text", "text": "Remind approvers", "emoji": True},
                    "value": "apr_1",
                },
            ],
        },
    ]
    assert message.as_kwargs()["metadata"] == {
        "event_type": "opentrain_approval",
        "event_payload": {"approvalId": "apr_1"},
    }
    assert message.text == (
        "Hire Ada L. — Batch 1 — $339.95 total incl. fees — waiting for a human to confirm in "
        "OpenTrain, expires 2026-06-14 15:00 UTC"
    )


def test_the_job_is_named_once_by_its_title_or_else_by_its_id() -> None:
    titled = of_type(card(tracked()), "context")[-1]["elements"]
    assert [e["text"] for e in titled] == [
        "Job: Image Segmentation",
        "Proposal `prop_1` · Approval `apr_1`",
    ]
    untitled = of_type(card(tracked(details=ApprovalDetails(job_title="\u202e"))), "context")
    assert [e["text"] for e in untitled[-1]["elements"]] == [
        "Job `job_1` · Proposal `prop_1` · Approval `apr_1`"
    ]


def test_hire_amount_falls_back_to_details_without_terms() -> None:
    approval = tracked(terms=None, details=ApprovalDetails(amount_usd=Decimal("1000")))
    assert "*Total*\n*$1,109.95*" in texts(card(approval))
    assert texts(card(approval)).startswith("Hire the freelancer on proposal prop_1")


def test_hire_without_any_amount_says_unknown() -> None:
    message = card(tracked(terms=None, details=ApprovalDetails()))
    assert "*Milestone amount*\nunknown — see OpenTrain" in texts(message)
    assert "amount unknown" in message.text


@pytest.mark.parametrize(
    ("approval", "header", "money"),
    [
        (fund(), "Fund milestone Batch 2", "*Into escrow*\n$450.50"),
        (payout(), "Release payout for Batch 1", "*Released to the freelancer*\n$300.00"),
        (end(), "End contract Image Segmentation", "*In escrow*\n$300.00"),
        (end(amount=None), "End contract Image Segmentation", "*In escrow*\nunknown"),
    ],
)
def test_other_cards_name_the_action_and_the_money(
    approval: TrackedApproval, header: str, money: str
) -> None:
    message = card(approval, approvers=["U0BOSS"])
    assert of_type(message, "header")[0]["text"]["text"] == header
    assert of_type(message, "section")[0] == {"type": "section", "fields": [mrkdwn(money)]}
    ids = of_type(message, "context")[-1]["elements"][-1]["text"]
    assert "Contract `ctr_1`" in ids
    assert "Proposal" not in ids
    assert "Nothing is charged" not in texts(message)  # the hire-only note


@pytest.mark.parametrize(
    ("approval", "header"),
    [
        (fund(details=ApprovalDetails()), "Fund milestone ms_2"),
        (fund(details=ApprovalDetails(), milestone_id=None), "Fund a milestone"),
        (payout(details=ApprovalDetails()), "Release payout for milestone ms_1"),
        (end(details=ApprovalDetails()), "End contract ctr_1"),
        (tracked(type="surprise"), "Confirm OpenTrain request apr_1"),
    ],
)
def test_headers_fall_back_to_ids(approval: TrackedApproval, header: str) -> None:
    assert of_type(card(approval), "header")[0]["text"]["text"] == header


def test_agent_requester_is_named_and_its_note_quoted_as_plain_text() -> None:
    note = "Ada scored 9/10 on the interview.\nShe can start Monday."
    message = card(tracked(requester=Requester(kind="agent", id="scout", note=note)))
    sections = of_type(message, "section")
    assert {"type": "plain_text", "text": "Requested by agent scout", "emoji": True} in [
        s.get("text") for s in sections
    ]
    assert {"type": "plain_text", "text": f"“{note}”", "emoji": True} in [
        s.get("text") for s in sections
    ]


def test_missing_approvers_are_a_visible_warning_with_the_fix() -> None:
    shown = texts(card(tracked()))
    assert "⚠️ *No approvers are set for this channel*" in shown
    assert "`/opentrain approvers set #channel @someone`" in shown


def test_the_card_names_its_tier_and_every_escalation() -> None:
    escalated = tracked(
        escalations=(
            Escalation(level=1, to=("S0FINANCE",), over=Decimal(1000), waited=DAY, at=NOW),
            Escalation(level=2, waited=DAY + timedelta(hours=12), at=NOW),
        )
    )
    message = card(
        escalated, approvers=["U0LEAD"], approvers_label="Approvers for $250.00 and more"
    )
    shown = texts(message)
    assert "*Approvers for $250.00 and more:* <@U0LEAD>" in shown
    assert "⏫ Escalated to <!subteam^S0FINANCE> after 24 h" in shown
    assert "⏫ Escalated to the admins after 36 h" in shown
    # An ended card no longer says who is waited for.
    assert "Escalated" not in texts(card(resolved(escalated, TrackedStatus.CONFIRMED)))


def test_an_escalation_is_one_thread_line_and_a_dm_that_says_why() -> None:
    escalation = Escalation(level=1, to=("U0CFO",), over=Decimal(5000), waited=DAY, at=NOW)
    line = cards.escalation_reply(escalation)
    assert texts(line) == "⏫ Nobody has acted on this for 24 h, so it was escalated to <@U0CFO>."
    assert "<@" not in str(line.text)  # the notification text names nobody
    approval = tracked(escalations=(escalation,))
    dm = cards.reminder_dm(
        approval, now=NOW, opentrain_host=HOST, card_permalink=PERMALINK, final=False, escalation=1
    )
    assert "⏫ *Escalated to you:* nobody has acted on this for 24 h" in texts(dm)
    assert dm.metadata is not None and dm.metadata.event_payload["escalation"] == 1
    reminder = cards.reminder_dm(
        approval, now=NOW, opentrain_host=HOST, card_permalink=PERMALINK, final=False
    )
    assert (
        "⏰ *Reminder:*" in texts(reminder) and "escalation" not in reminder.metadata.event_payload
    )  # type: ignore[union-attr]


def test_card_links_to_the_original_when_given_a_permalink() -> None:
    permalink = "https://acme.slack.com/archives/C1/p1?thread_ts=1&cid=C1"
    message = card(tracked(), card_permalink=permalink)
    assert of_type(message, "context")[-1]["elements"] == [
        mrkdwn(
            "<https://acme.slack.com/archives/C1/p1?thread_ts=1&amp;cid=C1|View the original card>"
        )
    ]
    assert "original card" not in texts(card(tracked(), card_permalink="javascript:alert(1)"))


# --- terminal statuses on the card ----------------------------------------------------


RESOLVED_TOKEN = "<!date^1781247600^{date_short_pretty} at {time}|2026-06-12 07:00 UTC>"


def test_confirmed_hire_shows_the_contract_and_next_steps_without_approval_buttons() -> None:
    approval = resolved(
        tracked(),
        TrackedStatus.CONFIRMED,
        result={"hired": True, "contractId": "ctr_9", "jobId": "job_1", "freelancerUserId": "u_7"},
    )
    message = card(approval)
    shown = texts(message)
    assert f"✅ *Confirmed in OpenTrain* {RESOLVED_TOKEN}\n" in shown
    assert {
        "type": "section",
        "fields": [
            mrkdwn("*Contract*\n`ctr_9`"),
            {"type": "plain_text", "text": "Freelancer: Ada L.", "emoji": True},
        ],
    } in blocks(message)
    assert "*Next steps:*" in shown
    assert [(b["action_id"], b.get("value")) for b in buttons(message)] == [
        (ActionId.ADD_MILESTONE, "ctr_9")
    ]
    assert "Approvers" not in shown and "No approvers" not in shown
    assert message.text.endswith("— confirmed in opentrain")


@pytest.mark.parametrize(
    ("approval", "result", "evidence"),
    [
        (
            fund(),
            {"invoiceId": "inv_1", "paymentIntentId": "pi_1"},
            [
                "🔒 The milestone is funded into escrow.",
                "*Invoice*\n`inv_1`",
                "*Payment intent*\n`pi_1`",
            ],
        ),
        (fund(), {"invoiceId": "inv_1"}, ["*Invoice*\n`inv_1`"]),
        (
            payout(),
            {"invoiceId": "inv_1", "payoutTransactionId": "po_1"},
            ["💸 The payout was released", "*Payout transaction*\n`po_1`"],
        ),
        (end(), {"contractEnded": True}, ["🏁 *Contract ended*"]),
    ],
)
def test_confirmed_cards_show_the_result_ids(
    approval: TrackedApproval, result: dict[str, Any], evidence: list[str]
) -> None:
    message = card(resolved(approval, TrackedStatus.CONFIRMED, result=result))
    for part in evidence:
        assert part in texts(message)
    assert buttons(message) == []


@pytest.mark.parametrize(
    ("status", "line"),
    [
        (
            TrackedStatus.DECLINED,
            f"❌ *Declined in OpenTrain* {RESOLVED_TOKEN}\nNobody was hired and nothing was paid.",
        ),
        (
            TrackedStatus.EXPIRED,
            f"⌛ *Expired* {RESOLVED_TOKEN}\n"
            "Nobody confirmed in time, so nobody was hired and nothing was paid.",
        ),
        (
            TrackedStatus.NOT_FOUND,
            f"🚫 *No longer visible to the bot* {RESOLVED_TOKEN}\n"
            "OpenTrain no longer shows this approval to the bot's token (404) — it was created by "
            "another account or the token changed; tracking stopped.",
        ),
    ],
)
def test_terminal_cards_say_how_it_ended_and_drop_the_buttons(
    status: TrackedStatus, line: str
) -> None:
    message = card(resolved(tracked(), status), approvers=["U0BOSS"])
    assert {"type": "section", "text": mrkdwn(line)} in blocks(message)
    assert buttons(message) == []
    assert "Waiting for a human" not in texts(message)


def test_expired_without_resolved_at_uses_the_expiry_time() -> None:
    approval = tracked(status=TrackedStatus.EXPIRED, expires_at=NOW - timedelta(hours=3))
    assert f"⌛ *Expired* {RESOLVED_TOKEN}\n" in texts(card(approval))


def test_superseded_card_points_at_the_newer_request() -> None:
    approval = tracked(status=TrackedStatus.SUPERSEDED, superseded_by="apr_2")
    assert (
        "↪️ *Replaced by a newer hire request*\nThe newer request is `apr_2`. Nobody was hired "
        "through this request; the newer one carries the hire."
    ) in texts(card(approval))


def test_ended_card_names_opentrains_word_and_what_to_check() -> None:
    approval = resolved(fund(), TrackedStatus.ENDED, opentrain_status="cancelled")
    assert (
        f"⏹️ *Ended in OpenTrain* {RESOLVED_TOKEN}\nOpenTrain reports status `cancelled`, which "
        "this bot does not know. Check in OpenTrain whether the milestone was funded."
    ) in texts(card(approval))
    unsaid = card(resolved(end(), TrackedStatus.ENDED))
    assert (
        "OpenTrain reports a status this bot does not know. Check in OpenTrain whether the "
        "contract ended."
    ) in texts(unsaid)


def test_expiry_is_an_absolute_date_whether_ahead_or_past() -> None:
    soon = card(tracked(expires_at=NOW + timedelta(minutes=90)))
    token = "<!date^1781263800^{date_short_pretty} at {time}|2026-06-12 11:30 UTC>"
    assert f"This request expires {token}." in texts(soon)
    assert soon.text.endswith("expires 2026-06-12 11:30 UTC")
    late = card(tracked(expires_at=NOW - timedelta(hours=3)))
    assert f"This request expired {RESOLVED_TOKEN}." in texts(late)
    assert late.text.endswith("expired 2026-06-12 07:00 UTC")


# --- the thread reply -----------------------------------------------------------------


def test_confirmed_reply_mentions_the_requester_and_offers_the_next_step() -> None:
    approval = resolved(tracked(), TrackedStatus.CONFIRMED, result={"contractId": "ctr_9"})
    message = cards.outcome_reply(approval, now=NOW)
    assert blocks(message)[:2] == [
        {
            "type": "section",
            "text": mrkdwn(f"✅ *Confirmed in OpenTrain* {RESOLVED_TOKEN} — requested by <@U0ADA>"),
        },
        {
            "type": "section",
            "text": {
                "type": "plain_text",
                "text": "Hire Ada L. — Batch 1 — $339.95 total incl. fees",
                "emoji": True,
            },
        },
    ]
    assert [b["action_id"] for b in buttons(message)] == [ActionId.ADD_MILESTONE]
    assert message.as_kwargs()["metadata"] == {
        "event_type": "opentrain_outcome",
        "event_payload": {"approvalId": "apr_1", "status": "confirmed"},
    }
    assert message.text == (
        "Confirmed in OpenTrain: Hire Ada L. — Batch 1. The freelancer is hired and the first "
        "milestone is funded."
    )


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (TrackedStatus.DECLINED, "Nothing was funded; the milestone is still waiting for funding."),
        (
            TrackedStatus.EXPIRED,
            "Nobody confirmed in time, so nothing was funded; the milestone is still waiting for "
            "funding.",
        ),
    ],
)
def test_declined_and_expired_replies_offer_to_request_again(
    status: TrackedStatus, says: str
) -> None:
    message = cards.outcome_reply(resolved(fund(), status), now=NOW)
    assert says in texts(message) and says in message.text
    assert [(b["action_id"], b["value"]) for b in buttons(message)] == [
        (ActionId.REQUEST_AGAIN, "apr_1")
    ]
    assert message.as_kwargs()["metadata"]["event_payload"]["status"] == status.value


def test_superseded_and_not_found_replies_explain_without_buttons() -> None:
    superseded = cards.outcome_reply(
        tracked(status=TrackedStatus.SUPERSEDED, superseded_by="apr_2"), now=NOW
    )
    assert "*Replaced by a newer hire request*" in texts(superseded)
    assert "`apr_2`" in texts(superseded)
    not_found = cards.outcome_reply(
        tracked(status=TrackedStatus.NOT_FOUND, requester=Requester(kind="agent", id="scout")),
        now=NOW,
    )
    assert "requested by agent scout" in texts(not_found)
    assert "(404)" in texts(not_found)
    assert buttons(superseded) == buttons(not_found) == []


def test_outcome_reply_refuses_a_pending_approval() -> None:
    with pytest.raises(ValueError, match="not resolved"):
        cards.outcome_reply(tracked(), now=NOW)


# --- DMs ------------------------------------------------------------------------------


def test_expired_requester_dm_offers_request_again() -> None:
    approval = resolved(tracked(), TrackedStatus.EXPIRED)
    message = cards.requester_dm(approval, now=NOW, reason="expired", channel_error=None)
    assert blocks(message)[0]["text"] == mrkdwn(
        f"⌛ *Your OpenTrain request expired* {RESOLVED_TOKEN}. Nobody confirmed in time, so "
        "nobody was hired and nothing was paid."
    )
    assert message.text.startswith("Your OpenTrain request expired 2026-06-12 07:00 UTC: Hire")
    assert [b["action_id"] for b in buttons(message)] == [ActionId.REQUEST_AGAIN]
    assert message.as_kwargs()["metadata"] == {
        "event_type": "opentrain_requester_dm",
        "event_payload": {"approvalId": "apr_1", "reason": "expired"},
    }


def test_channel_unavailable_dm_carries_the_card_and_why() -> None:
    approval = tracked(channel_id="C0OPS")
    message = cards.requester_dm(
        approval,
        now=NOW,
        reason="channel_unavailable",
        channel_error="not_in_channel",
        opentrain_host=HOST,
    )
    intro = blocks(message)[0]["text"]["text"]
    assert "in <#C0OPS>* (`not_in_channel`)" in intro
    assert "invite me" in intro
    assert "`/opentrain route &lt;jobId|type&gt; #channel`" in intro
    assert "*Total*\n*$339.95*" in texts(message)
    assert "Approvers" not in texts(message)
    assert [b["action_id"] for b in buttons(message)] == [ActionId.OPEN_APPROVAL]


def test_channel_unavailable_dm_without_a_host_has_no_link() -> None:
    message = cards.requester_dm(
        tracked(), now=NOW, reason="channel_unavailable", channel_error=None
    )
    assert "its channel" in message.text
    assert buttons(message) == []


@pytest.mark.parametrize("final", [False, True])
def test_reminder_dm(final: bool) -> None:
    approval = tracked(expires_at=NOW + timedelta(hours=2))
    message = cards.reminder_dm(
        approval,
        now=NOW,
        opentrain_host=HOST,
        card_permalink="https://acme.slack.com/archives/C1/p1",
        final=final,
    )
    kind = "Last reminder" if final else "Reminder"
    expires = "<!date^1781265600^{date_short_pretty} at {time}|2026-06-12 12:00 UTC>"
    assert (
        f"⏰ *{kind}:* this is waiting for a human to confirm in OpenTrain and expires {expires}."
        in (texts(message))
    )
    assert "*Total*\n*$339.95*" in texts(message)
    assert "*Requested by* <@U0ADA>" in texts(message)
    expected = [ActionId.OPEN_APPROVAL, ActionId.OPEN_CARD] + (
        [] if final else [ActionId.SNOOZE_REMINDER]
    )
    assert [b["action_id"] for b in buttons(message)] == expected
    assert buttons(message)[1]["url"] == "https://acme.slack.com/archives/C1/p1"
    assert message.text == (
        f"{kind}: Hire Ada L. — Batch 1 ($339.95 total incl. fees) expires 2026-06-12 12:00 UTC"
    )
    assert message.as_kwargs()["metadata"]["event_payload"] == {
        "approvalId": "apr_1",
        "final": final,
    }


def test_reminder_dm_with_a_foreign_link_withholds_it_but_keeps_snooze() -> None:
    approval = tracked(approval_url="https://evil.example/approvals/apr_1")
    message = cards.reminder_dm(
        approval, now=NOW, opentrain_host=HOST, card_permalink=None, final=False
    )
    assert "Approval link withheld: not on `app.opentrain.ai`" in texts(message)
    assert [b["action_id"] for b in buttons(message)] == [ActionId.SNOOZE_REMINDER]


# --- DMs once the approval ended --------------------------------------------------------

ENDED_STATUSES = [status for status in TrackedStatus if status is not TrackedStatus.PENDING]


def test_a_retired_reminder_says_how_and_when_it_ended_with_nothing_to_press() -> None:
    approval = resolved(fund(), TrackedStatus.DECLINED)
    message = cards.reminder_dm_retired(approval, permalink=PERMALINK, opentrain_host=HOST)
    assert blocks(message) == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Fund milestone Batch 2", "emoji": True},
        },
        {
            "type": "section",
            "text": mrkdwn(
                f"❌ *Declined in OpenTrain* {RESOLVED_TOKEN}. Nothing was funded; the milestone "
                "is still waiting for funding."
            ),
        },
        {
            "type": "context",
            "elements": [
                {"type": "plain_text", "text": "$450.50 into escrow", "emoji": True},
                mrkdwn(
                    f"<{PERMALINK}|View the card> · "
                    "<https://app.opentrain.ai/approvals/apr_1|See it in OpenTrain>"
                ),
            ],
        },
    ]
    assert message.text == (
        "No longer waiting: Fund milestone Batch 2 — Declined in OpenTrain 2026-06-12 07:00 UTC. "
        "Nothing was funded; the milestone is still waiting for funding."
    )
    assert message.as_kwargs()["metadata"] == {
        "event_type": "opentrain_reminder",
        "event_payload": {"approvalId": "apr_1", "final": False, "status": "declined"},
    }


@pytest.mark.parametrize("status", ENDED_STATUSES)
@pytest.mark.parametrize(
    "make", [tracked, fund, payout, end], ids=["hire", "fund", "payout", "end"]
)
def test_no_retired_reminder_keeps_a_button(status: TrackedStatus, make: Any) -> None:
    approval = resolved(make(), status, superseded_by="apr_2")
    message = cards.reminder_dm_retired(approval, permalink=PERMALINK, opentrain_host=HOST)
    assert of_type(message, "actions") == [] and buttons(message) == []
    shown = texts(message)
    assert "Snooze" not in shown and "Review" not in shown and "Remind" not in shown
    outcome = blocks(message)[1]["text"]["text"]
    assert f"* {RESOLVED_TOKEN}. " in outcome
    sentence = aftermath(approval.type, status) or outcomes.NOT_FOUND_DETAIL
    assert sentence in outcome and sentence in message.text
    assert "2026-06-12 07:00 UTC" in message.text


def test_a_retired_reminder_links_only_what_is_known_and_allowed() -> None:
    approval = resolved(tracked(approval_url="https://evil.example/a"), TrackedStatus.CONFIRMED)
    message = cards.reminder_dm_retired(approval, permalink=None, opentrain_host=HOST)
    assert blocks(message)[-1]["elements"] == [
        {"type": "plain_text", "text": "$339.95 total incl. fees", "emoji": True}
    ]
    assert "evil" not in json.dumps(message.as_kwargs())
    assert blocks(message)[1]["text"]["text"] == (
        f"✅ *Confirmed in OpenTrain* {RESOLVED_TOKEN}. The freelancer is hired and the first "
        "milestone is funded."
    )


def test_an_expiry_without_resolved_at_retires_at_the_expiry_time() -> None:
    approval = tracked(status=TrackedStatus.EXPIRED, expires_at=NOW - timedelta(hours=3))
    message = cards.reminder_dm_retired(approval, permalink=None, opentrain_host=HOST)
    assert blocks(message)[1]["text"]["text"].startswith(f"⌛ *Expired* {RESOLVED_TOKEN}. ")


def test_an_end_of_unknown_time_and_word_still_reads_as_a_sentence() -> None:
    approval = tracked(status=TrackedStatus.ENDED)
    message = cards.reminder_dm_retired(approval, permalink=None, opentrain_host=HOST)
    assert blocks(message)[1]["text"]["text"] == (
        "⏹️ *Ended in OpenTrain*. OpenTrain reports a status this bot does not know. Check in "
        "OpenTrain whether the freelancer was hired."
    )


@pytest.mark.parametrize(
    "builder",
    [
        lambda a: cards.reminder_dm_retired(a, permalink=None, opentrain_host=HOST),
        lambda a: cards.requester_dm_retired(a, channel_error=None),
    ],
    ids=["reminder", "requester"],
)
def test_retired_dms_refuse_a_pending_approval(builder: Any) -> None:
    with pytest.raises(ValueError, match="not ended"):
        builder(tracked())


def test_a_retired_requester_dm_drops_the_review_button_and_says_how_it_ended() -> None:
    approval = resolved(payout(channel_id="C0OPS"), TrackedStatus.DECLINED)
    message = cards.requester_dm_retired(approval, channel_error="not_in_channel")
    intro = blocks(message)[0]["text"]["text"]
    assert intro.startswith(
        "⚠️ *I couldn't post the card for your request in <#C0OPS>* (`not_in_channel`), so it "
        "came here."
    )
    assert blocks(message)[2]["text"] == mrkdwn(
        f"❌ *Declined in OpenTrain* {RESOLVED_TOKEN}. The payout was not released; the "
        "milestone stays funded in escrow."
    )
    assert [(b["action_id"], b["value"]) for b in buttons(message)] == [
        (ActionId.REQUEST_AGAIN, "apr_1")
    ]
    assert message.text == (
        "Your OpenTrain request Release payout for Batch 1: Declined in OpenTrain 2026-06-12 "
        "07:00 UTC. The payout was not released; the milestone stays funded in escrow."
    )
    assert message.as_kwargs()["metadata"]["event_payload"] == {
        "approvalId": "apr_1",
        "reason": "channel_unavailable",
        "status": "declined",
    }


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        (TrackedStatus.CONFIRMED, [ActionId.ADD_MILESTONE]),
        (TrackedStatus.DECLINED, [ActionId.REQUEST_AGAIN]),
        (TrackedStatus.EXPIRED, [ActionId.REQUEST_AGAIN]),
        (TrackedStatus.SUPERSEDED, []),
        (TrackedStatus.ENDED, []),
        (TrackedStatus.NOT_FOUND, []),
    ],
)
def test_a_retired_requester_dm_offers_only_what_still_makes_sense(
    status: TrackedStatus, actions: list[ActionId]
) -> None:
    approval = resolved(tracked(), status, result={"contractId": "ctr_9"})
    message = cards.requester_dm_retired(approval, channel_error=None)
    assert [b["action_id"] for b in buttons(message)] == actions
    assert "Review & confirm" not in texts(message)


# --- the unfurl -----------------------------------------------------------------------


def test_unfurl_is_the_card_without_channel_specific_parts() -> None:
    approval = tracked(card_permalink=PERMALINK)
    unfurl = cards.unfurl_blocks(approval, now=NOW, opentrain_host=HOST)
    card = cards.approval_card(approval, now=NOW, opentrain_host=HOST, approvers=["U0BOSS"])
    card_blocks = blocks(card)
    assert unfurl[0] == card_blocks[0]
    assert all(isinstance(block, dict) for block in unfurl)
    actions = [b for b in unfurl if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["open-approval"]
    assert "Approvers" not in json.dumps(unfurl)
    assert unfurl[-1] == {
        "type": "context",
        "elements": [mrkdwn(f"<{PERMALINK}|View the original card>")],
    }
    json.dumps({"unfurls": {approval.approval_url: {"blocks": unfurl}}})


def test_unfurl_of_a_resolved_approval_has_no_buttons() -> None:
    unfurl = cards.unfurl_blocks(
        resolved(fund(), TrackedStatus.DECLINED), now=NOW, opentrain_host=HOST
    )
    assert [b for b in unfurl if b["type"] == "actions"] == []
    assert "Declined in OpenTrain" in json.dumps(unfurl, ensure_ascii=False)
