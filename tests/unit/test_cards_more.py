"""The follow-up builders: errors, receipts, contracts, status, settings, audit, home, digest."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot import cards
from bot.audit_log import AuditEntry
from bot.cards import ActionId, SlackMessage
from bot.doctor import Check
from bot.explain import Explanation
from bot.opentrain.models import Contract, Milestone
from bot.tracked_approvals import ApprovalDetails, Requester, TrackedApproval, TrackedStatus
from tests.unit.test_cards import (
    EXPIRES_TOKEN,
    HOST,
    NOW,
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
from tests.unit.test_cards_safety import (
    ACTIVE_MARKUP,
    RTL_OVERRIDE,
    VARIANTS,
    assert_safe_message,
    check_block_limits,
    shown_texts,
    units,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "opentrain"
PERMALINK = "https://example.slack.com/archives/C0CARDS/p1781200000000100"
HIRE_LINE = "Hire Ada L. — Batch 1 — $339.95 total incl. fees"


def fixture_contract(name: str) -> Contract:
    return Contract.model_validate(json.loads((FIXTURES / name).read_text())["contract"])


def all_buttons(message: SlackMessage) -> list[dict[str, Any]]:
    """Every button: in actions blocks and as section accessories."""
    found = [e for b in blocks(message) if b["type"] == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in blocks(message) if "accessory" in b]
    return found


def first_text(message: SlackMessage) -> str:
    return str(blocks(message)[0]["text"]["text"])


def assert_fits(message: SlackMessage) -> dict[str, Any]:
    """Block Kit limits, escaping, and the total text chat.postMessage accepts (~12,000)."""
    kwargs = assert_safe_message(message)
    assert sum(units(text) for text in shown_texts(kwargs["blocks"])) <= 11_000
    return kwargs


def assert_safe_home(view: View) -> dict[str, Any]:
    data = view.to_dict()  # slack_sdk validates the view and every block
    assert data["type"] == "home"
    assert 1 <= len(data["blocks"]) <= 100
    check_block_limits(data["blocks"])
    for text in shown_texts(data["blocks"], ("mrkdwn",)):
        assert not any(markup in text for markup in ACTIVE_MARKUP)
    assert not any(RTL_OVERRIDE in text for text in shown_texts(data))
    return data


# --- explanation_message -----------------------------------------------------------------


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


# --- cosign_receipt ------------------------------------------------------------------------


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
    assert first_text(declined).endswith("Nothing was hired or paid.")
    assert of_type(declined, "actions") == []


def test_receipt_for_a_pending_approval_past_its_expiry() -> None:
    message = receipt(tracked(expires_at=NOW - timedelta(minutes=1)))
    assert "has not reported it expired yet" in first_text(message)


# --- contracts -----------------------------------------------------------------------------


def contract(**overrides: Any) -> Contract:
    return fixture_contract("contract-get.json").model_copy(update=overrides)


def milestone(number: int, status: str, amount: int | None = 100, **extra: Any) -> Milestone:
    return Milestone(
        id=f"ms_{number}",
        name=f"Batch {number}",
        status=status,
        amount_usd=Decimal(amount) if amount is not None else None,
        milestone_number=number,
        **extra,
    )


def test_contracts_list_from_the_documented_list() -> None:
    body = json.loads((FIXTURES / "contracts-list.json").read_text())
    contracts = [
        Contract.model_validate(c).model_copy(update={"id": "ctr_1"}) for c in body["contracts"]
    ]
    message = cards.contracts_list(contracts, status="active")
    assert blocks(message) == [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Active contracts (1)", "emoji": True},
        },
        {
            "type": "section",
            "text": {
                "type": "plain_text",
                "text": "Spanish Sentiment Labeling Contract",
                "emoji": True,
            },
            "fields": [
                mrkdwn("*Contract*\n`ctr_1`"),
                mrkdwn("*Status*\nactive"),
                {"type": "plain_text", "text": "Freelancer: Maria G.", "emoji": True},
                mrkdwn("*Fixed price*\n$300.00"),
                mrkdwn("*Milestones*\n1 funded · $300.00 in escrow"),
            ],
            "accessory": {
                "type": "button",
                "action_id": "open-contract",
                "text": {"type": "plain_text", "text": "Open", "emoji": True},
                "value": "ctr_1",
            },
        },
    ]
    assert message.text == "Active contracts: 1"


def test_contracts_list_counts_milestones_per_status() -> None:
    hourly = contract(
        id="ctr_h",
        payment_type="PAY_PER_HOUR",
        rate_usd=Decimal("12.5"),
        freelancer=None,
        milestones=[
            milestone(1, "ACTIVE_FUNDED", 200),
            milestone(2, "NOT_FUNDED", 50),
            milestone(3, "NOT_FUNDED", None),
            milestone(4, "PAID", 75),
        ],
    )
    fields = blocks(cards.contracts_list([hourly], status=None))[1]["fields"]
    assert fields[2] == mrkdwn("*Freelancer*\nnot shown by OpenTrain")
    assert fields[3] == mrkdwn("*Per hour*\n$12.50/h")
    assert fields[4] == mrkdwn("*Milestones*\n1 funded, 2 not funded, 1 paid · $200.00 in escrow")


@pytest.mark.parametrize(
    ("status", "header"),
    [("active", "Active contracts (2)"), ("ended", "Ended contracts (2)"), (None, "Contracts (2)")],
)
def test_contracts_list_heading_follows_the_filter(status: str | None, header: str) -> None:
    message = cards.contracts_list([contract(id="a"), contract(id="b")], status=status)
    assert blocks(message)[0]["text"]["text"] == header


def test_empty_contracts_list_is_friendly() -> None:
    message = cards.contracts_list([], status="ended")
    assert blocks(message) == [
        {
            "type": "section",
            "text": mrkdwn(
                "No ended contracts on this OpenTrain account. Contracts start when a hire is "
                "confirmed: `/opentrain hire &lt;proposalId&gt;`."
            ),
        }
    ]
    assert message.text == "No ended contracts on this OpenTrain account."


def test_contracts_list_caps_at_40() -> None:
    message = cards.contracts_list([contract(id=f"c{i}") for i in range(45)], status="active")
    assert blocks(message)[0]["text"]["text"] == "Active contracts (45)"
    assert len(of_type(message, "section")) == 40
    assert blocks(message)[-1] == {
        "type": "context",
        "elements": [mrkdwn("…and 5 more (the oldest).")],
    }


def test_contract_detail_from_the_documented_contract() -> None:
    message = cards.contract_detail(contract(id="ctr_1", job_id="job_1"))
    shown = blocks(message)
    assert shown[0]["text"]["text"] == "Spanish Sentiment Labeling Contract"
    assert shown[1]["fields"] == [
        mrkdwn("*Status*\nactive"),
        mrkdwn("*Contract*\n`ctr_1`"),
        mrkdwn("*Job*\n`job_1`"),
        {"type": "plain_text", "text": "Freelancer: Maria G. (/profile/maria-g)", "emoji": True},
        mrkdwn("*Payment type*\nFixed price"),
        mrkdwn("*Rate*\n$300.00"),
        mrkdwn("*Estimated total*\n$300.00"),
        mrkdwn("*Started*\n2026-06-12"),
    ]
    assert shown[2] == {
        "type": "section",
        "text": mrkdwn("✅ *Budget OK* · $300.00 funded · active milestone First labeling batch"),
    }
    assert shown[3] == {
        "type": "context",
        "elements": [
            mrkdwn("Conversation with the freelancer since the hire: `&lt;CONVERSATION_ID&gt;`")
        ],
    }
    assert shown[4] == {
        "type": "section",
        "text": mrkdwn(
            "*Milestones (1)*\n🔒 *#1* First labeling batch — funded — $300.00 — due 2026-07-01 — "
            "`&lt;MILESTONE_ID&gt;`"
        ),
    }
    payout_row, contract_row = shown[5:]
    assert payout_row["elements"] == [
        {
            "type": "button",
            "action_id": "request-payout",
            "text": {"type": "plain_text", "text": "Request payout #1 · $300.00", "emoji": True},
            "value": "<MILESTONE_ID>",
        }
    ]
    add, end_button = contract_row["elements"]
    assert (add["action_id"], add["value"]) == ("add-milestone", "ctr_1")
    assert (end_button["action_id"], end_button["value"]) == ("end-contract", "ctr_1")
    assert end_button["style"] == "danger"
    assert end_button["confirm"]["title"]["text"] == "End this contract?"
    assert end_button["confirm"]["style"] == "danger"
    assert message.text == "Spanish Sentiment Labeling Contract — active — 1 milestone"


def test_contract_detail_of_the_guide_contract_with_few_fields() -> None:
    guide = fixture_contract("contract-get-guide.json")
    message = cards.contract_detail(guide)
    fields = blocks(message)[1]["fields"]
    assert mrkdwn("*Payment type*\nFixed price") in fields  # the guide's "FIXED"
    assert "Batch 1 — funded — $450.00" in texts(message)


def test_contract_detail_offers_fund_and_payout_for_at_most_five_each() -> None:
    milestones = [
        milestone(n, "NOT_FUNDED" if n % 2 else "ACTIVE_FUNDED", 10 * n) for n in range(1, 21)
    ]
    message = cards.contract_detail(contract(milestones=list(reversed(milestones))))
    rows = [b["elements"] for b in of_type(message, "actions")]
    # One button per actions block: Slack wants action ids unique within a block.
    fund_rows = [r for r in rows if r[0]["action_id"] == ActionId.FUND_MILESTONE]
    payout_rows = [r for r in rows if r[0]["action_id"] == ActionId.REQUEST_PAYOUT]
    assert [r[0]["value"] for r in fund_rows] == ["ms_1", "ms_3", "ms_5", "ms_7", "ms_9"]
    assert [r[0]["value"] for r in payout_rows] == ["ms_2", "ms_4", "ms_6", "ms_8", "ms_10"]
    assert fund_rows[0][0]["text"]["text"] == "Fund #1 · $10.00"
    assert all(len(r) == 1 for r in fund_rows + payout_rows)
    milestone_text = blocks(message)[4]["text"]["text"]
    assert (
        milestone_text.index("*#1*") < milestone_text.index("*#2*") < milestone_text.index("*#20*")
    )


def test_contract_detail_of_an_ended_contract_has_no_buttons() -> None:
    ended = contract(
        status="ended",
        end_date=NOW,
        milestones=[milestone(1, "NOT_FUNDED"), milestone(2, "ACTIVE_FUNDED")],
    )
    message = cards.contract_detail(ended)
    assert of_type(message, "actions") == []
    assert mrkdwn("*Ended*\n2026-06-12") in blocks(message)[1]["fields"]


def test_contract_detail_of_an_hourly_contract_shows_volumes_and_flags() -> None:
    hourly = contract(
        payment_type="PAY_PER_HOUR",
        rate_usd=Decimal(20),
        title=None,
        id="ctr_h",
        job_dm_conversation_id=None,
        budget=contract().budget.model_copy(  # type: ignore[union-attr]
            update={
                "payment_type": "PAY_PER_HOUR",
                "state": "LOW",
                "consumed_fraction": Decimal("0.8125"),
                "remaining_volume": Decimal("7.50"),
                "active_milestone": None,
            }
        ),
        milestones=[
            Milestone(
                id="ms_h",
                status="ACTIVE_FUNDED",
                volume=Decimal("40"),
                milestone_number=1,
                pending_approval=True,
                needs_review=True,
            )
        ],
    )
    message = cards.contract_detail(hourly)
    shown = blocks(message)
    assert shown[0]["text"]["text"] == "Contract ctr_h"
    assert shown[2]["text"]["text"] == (
        "⚠️ *Budget LOW* · $300.00 funded · 81 % consumed · 7.5 h remaining"
    )
    assert shown[3]["text"]["text"] == (
        "*Milestones (1)*\n🔒 *#1* Untitled — funded — 40 h — payout requested — needs review — "
        "`ms_h`"
    )
    assert mrkdwn("*Rate*\n$20.00/h") in shown[1]["fields"]


def test_contract_detail_without_milestones() -> None:
    message = cards.contract_detail(contract(milestones=[], budget=None))
    assert {"type": "section", "text": mrkdwn("*Milestones*\nNone yet.")} in blocks(message)
    rows = [b["elements"] for b in of_type(message, "actions")]
    assert [[e["action_id"] for e in r] for r in rows] == [["add-milestone", "end-contract"]]


def test_contract_detail_stays_within_50_blocks_with_hundreds_of_milestones() -> None:
    many = [milestone(n, "NOT_FUNDED" if n % 3 else "ACTIVE_FUNDED") for n in range(1, 501)]
    message = cards.contract_detail(contract(milestones=many))
    assert_fits(message)
    shown = texts(message)
    assert "460 earlier milestones not shown — see OpenTrain." in shown
    assert "*#500*" in shown and "*#460*" not in shown and "*#461*" in shown
    assert len(of_type(message, "actions")) == 11


# --- status_report ---------------------------------------------------------------------------

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


# --- approvers_view and routes_view ---------------------------------------------------------------


def test_approvers_this_channel_first_then_global_then_others() -> None:
    approvers = {
        "C0ZED": ["U0ZED"],
        "global": ["S0FINANCE"],
        "C0HERE": ["U0BOSS", "W0ENTERPRISE", "S0LEADS"],
        "C0ALPHA": [],
    }
    message = cards.approvers_view(approvers, channel_id="C0HERE")
    assert blocks(message)[1] == {
        "type": "section",
        "text": mrkdwn(
            "*This channel* (<#C0HERE>): <@U0BOSS>, <@W0ENTERPRISE>, <!subteam^S0LEADS>\n"
            "*Global*: <!subteam^S0FINANCE>\n"
            "<#C0ALPHA>: none set\n"
            "<#C0ZED>: <@U0ZED>"
        ),
    }
    assert "/opentrain approvers [set|add|remove] [#channel|global]" in texts(message)
    assert message.text == "Approvers are set for 3 scopes."


def test_approvers_when_this_channel_has_none() -> None:
    message = cards.approvers_view({"global": ["U0BOSS"]}, channel_id="C0HERE")
    assert blocks(message)[1]["text"]["text"].startswith(
        "*This channel* (<#C0HERE>): none set\n*Global*: <@U0BOSS>"
    )


def test_approvers_when_none_are_set_anywhere() -> None:
    nothing: list[dict[str, list[str]]] = [{}, {"C0HERE": [], "global": []}]
    for approvers in nothing:
        message = cards.approvers_view(approvers, channel_id="C0HERE")
        assert blocks(message)[1]["text"]["text"] == (
            "⚠️ *No approvers are set*, so nobody is reminded before an approval expires. "
            "Change them with `/opentrain approvers [set|add|remove] [#channel|global] "
            "@user @group…`."
        )


def test_routes_sorted_with_words_for_types() -> None:
    routes = {
        "type:milestone_fund": "C0FIN",
        "job:job_9": "C0NINE",
        "type:proposal_hire": "C0HIRE",
        "job:job_1": "C0ONE",
        "weird": "C0W",
    }
    message = cards.routes_view(routes)
    assert blocks(message)[0]["text"]["text"] == "Where cards go (5)"
    assert blocks(message)[1]["text"]["text"] == (
        "• Job `job_1` → <#C0ONE>\n"
        "• Job `job_9` → <#C0NINE>\n"
        "• Funding requests (`milestone_fund`) → <#C0FIN>\n"
        "• Hire requests (`proposal_hire`) → <#C0HIRE>\n"
        "• `weird` → <#C0W>"
    )
    assert "DEFAULT_CHANNEL" in texts(message)
    assert message.text == "5 routes set."


def test_no_routes_mentions_default_channel() -> None:
    message = cards.routes_view({})
    assert "DEFAULT_CHANNEL" in texts(message)
    assert "`/opentrain route &lt;jobId|hire|fund|payout|end&gt; #channel`" in texts(message)


# --- audit_view ------------------------------------------------------------------------------


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


# --- home_view ---------------------------------------------------------------------------------


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
                "*Expires in 3 h*\n<!date^1781269200^{date_short_pretty} at {time}|2026-06-12 "
                "13:00 UTC>"
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


# --- digest_message ------------------------------------------------------------------------


def test_digest_header_sums_what_would_move() -> None:
    approvals = [
        tracked(card_permalink=PERMALINK),  # $300 hire → $339.95 with fees
        fund(approval_id="apr_f"),  # $450.50
        end(None, approval_id="apr_e"),  # unknown escrow
    ]
    message = cards.digest_message(approvals, now=NOW)
    assert blocks(message)[0]["text"]["text"] == "3 approvals pending, $790.45 at risk"
    assert blocks(message)[1]["text"]["text"].split("\n") == [
        f"• <{PERMALINK}|Hire Ada L. — Batch 1> — $339.95 total incl. fees — expires in 2 days 5 h "
        f"({EXPIRES_TOKEN})",
        f"• Fund milestone Batch 2 — $450.50 into escrow — expires in 2 days 5 h ({EXPIRES_TOKEN})",
        f"• End contract Image Segmentation — escrow unknown — expires in 2 days 5 h "
        f"({EXPIRES_TOKEN})",
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


# --- unfurl_blocks and reminders_sent ----------------------------------------------------------


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


def test_new_action_ids_are_stable() -> None:
    assert ActionId.OPEN_CONTRACT.value == "open-contract"
    assert ActionId.REQUEST_PAYOUT.value == "request-payout"
    assert ActionId.END_CONTRACT.value == "end-contract"
    assert ActionId.OPEN_LINK.value == "open-link"


# --- hostile text and huge inputs, everywhere ---------------------------------------------------


def hostile_contract(text: str, milestones: int = 3) -> Contract:
    return Contract(
        id=text,
        status=text,
        title=text,
        job_id=text,
        proposal_id=text,
        payment_type=text,
        rate_usd=Decimal("12.34"),
        estimated_total_usd=Decimal("99999999.99"),
        start_date=NOW,
        end_date=NOW,
        freelancer={"userId": text, "displayName": text, "profilePath": text},
        job_dm_conversation_id=text,
        budget={
            "contractId": text,
            "paymentType": "PAY_PER_LABEL",
            "state": text,
            "fundedAmountUsd": Decimal(5),
            "consumedFraction": Decimal("0.5"),
            "remainingVolume": Decimal(10),
            "activeMilestone": {"id": text, "name": text, "status": text},
        },
        milestones=[
            Milestone(
                id=f"{text}{n}",
                name=text,
                status=status,
                amount_usd=Decimal(n),
                milestone_number=n,
                due_date=NOW,
            )
            for n in range(1, milestones + 1)
            for status in (text, "NOT_FUNDED", "ACTIVE_FUNDED")
        ],
    )


def hostile_approval(text: str, **overrides: Any) -> TrackedApproval:
    fields: dict[str, Any] = {
        "approval_id": text,
        "details": ApprovalDetails(milestone_name=text, amount_usd=Decimal("1.5")),
        "requester": Requester(kind="agent", id=text, note=text),
        "channel_id": text,
        "card_permalink": text,
        "milestone_id": text,
        "contract_id": text,
    }
    return fund(**{**fields, **overrides})


def approvals_of(text: str, count: int) -> list[TrackedApproval]:
    statuses = list(TrackedStatus)
    return [
        hostile_approval(
            f"{text}{i}",
            status=statuses[i % len(statuses)],
            expires_at=NOW + timedelta(hours=i - 2),
            card_permalink=PERMALINK if i % 2 else text,
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_messages_hold_up_against_hostile_text(text: str) -> None:
    explanation = Explanation(text, text, text, text, hire_anyway=True)
    assert_fits(cards.explanation_message(explanation, hire_anyway_value=text))
    approval = hostile_approval(text)
    for created in (True, False):
        for error in (None, text, "not_in_channel"):
            for status in (TrackedStatus.PENDING, TrackedStatus.SUPERSEDED):
                assert_fits(
                    cards.cosign_receipt(
                        approval.evolve(status=status, superseded_by=text, resolved_at=NOW),
                        created=created,
                        channel_id=text,
                        permalink=text,
                        error=error,
                        now=NOW,
                        opentrain_host=text,
                    )
                )
    assert_fits(cards.contracts_list([hostile_contract(text)] * 45, status=text))
    assert_fits(cards.contract_detail(hostile_contract(text)))
    assert_fits(
        cards.status_report(
            [
                Check(text, ok, text, text, text, required)
                for ok in (True, False)
                for required in (True, False)
            ]
            * 20
        )
    )
    assert_fits(
        cards.approvers_view(
            {text: [text, "U0OK"] * 200, "global": [text], **{f"C{i}": [text] for i in range(300)}},
            channel_id=text,
        )
    )
    assert_fits(
        cards.routes_view({f"job:{text}{i}": text for i in range(300)} | {f"type:{text}": text})
    )
    audit = [
        AuditEntry(
            at=NOW + timedelta(seconds=i),
            action=text,
            actor=actor,
            details={text: text, "n": i},
        )
        for i in range(300)
        for actor in (f"slack:{text}", f"agent:{text}", text)
    ]
    assert_fits(cards.audit_view(text, audit))
    assert_fits(cards.digest_message(approvals_of(text, 300), now=NOW))
    assert_fits(cards.reminders_sent([text] * 10_000, None))


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_home_and_unfurl_hold_up_against_hostile_text(text: str) -> None:
    approvals = approvals_of(text, 60)
    data = assert_safe_home(
        cards.home_view(
            waiting_on_you=approvals,
            requested_by_you=approvals,
            recent_outcomes=approvals,
            now=NOW,
            opentrain_host=text,
        )
    )
    assert len(data["blocks"]) <= 100
    for approval in approvals[: len(TrackedStatus)]:
        unfurl = cards.unfurl_blocks(approval, now=NOW, opentrain_host=text)
        assert len(unfurl) <= 50
        check_block_limits(unfurl)
        for shown in shown_texts(unfurl, ("mrkdwn",)):
            assert not any(markup in shown for markup in ACTIVE_MARKUP)
        assert not any(RTL_OVERRIDE in shown for shown in shown_texts(unfurl))


def test_hostile_contract_text_is_shown_literally_or_escaped() -> None:
    hostile = hostile_contract("<!channel>", milestones=1)
    message = cards.contract_detail(hostile)
    assert blocks(message)[0]["text"] == {"type": "plain_text", "text": "<!channel>", "emoji": True}
    shown = texts(message)
    assert "Freelancer: <!channel> (<!channel>)" in shown  # plain text, never parsed
    assert "▫️ *#1* &lt;!channel&gt; — &lt;!channel&gt;" in shown
    assert message.text.startswith("&lt;!channel&gt; — &lt;!channel&gt;")


def test_long_names_leave_buttons_within_their_limits() -> None:
    long_name = Milestone(
        id="m" * 3000, name="😀" * 5000, status="NOT_FUNDED", amount_usd=Decimal(1)
    )
    message = cards.contract_detail(contract(milestones=[long_name]))
    kwargs = assert_fits(message)
    fund_button = next(e for b in kwargs["blocks"] if b["type"] == "actions" for e in b["elements"])
    assert fund_button["action_id"] == "fund-milestone"
    assert len(fund_button["text"]["text"]) <= 75
    assert len(fund_button["value"]) <= 2000
