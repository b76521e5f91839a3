"""Nothing a person or an agent types can ping, forge a link, or push a card past Slack's limits."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot import cards
from bot.approver_tiers import ScopeTiers, Tier
from bot.audit_log import AuditEntry
from bot.cards import ActionId
from bot.cards.text import clip, clip_mrkdwn
from bot.doctor import Check
from bot.explain import Explanation
from bot.opentrain.models import Freelancer, HireTerms
from bot.tracked_approvals import ApprovalDetails, Requester, TrackedApproval, TrackedStatus
from tests.unit.cards_helpers import (
    HOST,
    NOW,
    PERMALINK,
    blocks,
    buttons,
    fund,
    hostile_contract,
    texts,
    tracked,
)
from tests.unit.cards_limits import (
    ACTIVE_MARKUP,
    RTL_OVERRIDE,
    assert_fits,
    assert_safe_message,
    check_block_limits,
    mrkdwn_texts,
    shown_texts,
    units,
)

HOSTILE = (
    "<!channel> <!here> <@U123> <!subteam^S123> <https://evil.example|click> "
    "*bold* _it_ ~gone~ `tick` ```fence``` &amp; > quote 🎉👩‍👩‍👧 "
    f"{RTL_OVERRIDE}gnp.exe\u202c"
)
VARIANTS = {
    "hostile": HOSTILE,
    "hostile-10k": HOSTILE + "x" * 10_000,
    "emoji-10k": "😀" * 10_000,
    "ampersands-10k": "&<>" * 3_400,
    "invisible-only": "\u202e\u202d\u2066",
}


def assert_safe_view(view: View) -> dict[str, Any]:
    data = view.to_dict()  # slack_sdk validates title, buttons, blocks
    for key in ("title", "submit", "close"):
        assert 1 <= len(data[key]["text"]) <= 24
    assert len(data["blocks"]) <= 100
    check_block_limits(data["blocks"])
    for text in mrkdwn_texts(data["blocks"]):
        for markup in ACTIVE_MARKUP:
            assert markup not in text
    assert not any(RTL_OVERRIDE in text for text in shown_texts(data))
    return data


def hostile_approvals(text: str) -> list[TrackedApproval]:
    details = ApprovalDetails(
        job_title=text,
        freelancer_name=text,
        milestone_name=text,
        contract_title=text,
        amount_usd=Decimal("123.45"),
    )
    agent = Requester(kind="agent", id=text, note=text)
    person = Requester(kind="slack", id=text, note=text)
    result = {"contractId": text, "invoiceId": text, "payoutTransactionId": text}
    base = tracked(
        details=details,
        terms=HireTerms(name=text, description=text, amount=Decimal(300)),
        requester=agent,
        contract_id=text,
        milestone_id=text,
        channel_id=text,
        superseded_by=text,
        result=result,
    )
    variants = [base, base.evolve(requester=person, terms=None)]
    for kind in ("milestone_fund", "milestone_approve", "contract_end", "unknown"):
        variants.append(base.evolve(type=kind))
    return [
        variant.evolve(status=status, resolved_at=NOW)
        for variant in variants
        for status in TrackedStatus
    ]


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_approval_messages_hold_up_against_hostile_text(text: str) -> None:
    for approval in hostile_approvals(text):
        assert_safe_message(
            cards.approval_card(
                approval,
                now=NOW,
                opentrain_host=HOST,
                approvers=[text, "U0BOSS"],
                card_permalink=text,
            )
        )
        assert_safe_message(
            cards.reminder_dm(
                approval, now=NOW, opentrain_host=text, card_permalink=text, final=False
            )
        )
        for reason in ("expired", "channel_unavailable"):
            assert_safe_message(
                cards.requester_dm(
                    approval,
                    now=NOW,
                    reason=reason,  # type: ignore[arg-type]
                    channel_error=text,
                    opentrain_host=text,
                )
            )
        if approval.status is not TrackedStatus.PENDING:
            assert_safe_message(cards.outcome_reply(approval, now=NOW))
            assert_safe_message(
                cards.reminder_dm_retired(approval, permalink=text, opentrain_host=text)
            )
            assert_safe_message(cards.requester_dm_retired(approval, channel_error=text))


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_lists_and_replies_hold_up_against_hostile_text(text: str) -> None:
    approvals = [
        approval.evolve(status=TrackedStatus.PENDING, approval_id=f"apr_{i}")
        for i, approval in enumerate(hostile_approvals(text) * 3)
    ]
    assert_safe_message(
        cards.pending_list(approvals, now=NOW, permalinks={a.approval_id: text for a in approvals})
    )
    assert_safe_message(cards.usage_error(text, text))
    assert_safe_message(cards.notice(text))
    assert_safe_message(cards.milestone_created(text, Decimal(5), text, text))


@pytest.mark.parametrize("text", VARIANTS.values(), ids=VARIANTS.keys())
def test_modals_hold_up_against_hostile_text(text: str) -> None:
    assert_safe_view(
        cards.hire_modal(
            proposal_id=text,
            name=text,
            description=text,
            amount=None,
            due_date=date(2026, 7, 1),
            freelancer_name=text,
            private_metadata="{}",
            errors_note=text,
            amount_text=text,
        )
    )
    assert_safe_view(
        cards.milestone_modal(contract_id=text, contract_title=text, private_metadata="{}")
    )
    assert_safe_view(
        cards.milestone_modal(
            contract_id=text,
            contract_title=text,
            private_metadata="{}",
            name=text,
            description=text,
            amount=Decimal("99999999.99"),
        )
    )
    assert_safe_view(
        cards.milestone_modal(
            contract_id=text, contract_title=text, private_metadata="{}", amount_text=text
        )
    )


def test_free_text_is_shown_literally_in_plain_text() -> None:
    approval = tracked(
        details=ApprovalDetails(freelancer_name="<!channel>"),
        terms=HireTerms(
            name="*bold* <https://evil.example|click>", description="", amount=Decimal(1)
        ),
        requester=Requester(kind="agent", id="<@U123>", note="ping <!here>"),
    )
    message = cards.approval_card(approval, now=NOW, opentrain_host=HOST)
    header = blocks(message)[0]["text"]
    assert header == {
        "type": "plain_text",
        "text": "Hire <!channel> — *bold* <https://evil.example|click>",
        "emoji": True,
    }
    assert "Requested by agent <@U123>" in texts(message)
    assert "“ping <!here>”" in texts(message)
    assert message.text.startswith(
        "Hire &lt;!channel&gt; — *bold* &lt;https://evil.example|click&gt;"
    )
    reply = cards.outcome_reply(approval.evolve(status=TrackedStatus.DECLINED), now=NOW)
    assert "requested by agent &lt;@U123&gt;" in texts(reply)


def test_ids_cannot_break_out_of_their_code_span() -> None:
    approval = tracked(job_id="job`<!channel>`", approval_id="apr_1", details=ApprovalDetails())
    ids = blocks(cards.approval_card(approval, now=NOW, opentrain_host=HOST))[3]["elements"][-1]
    assert ids["text"].startswith("Job `job'&lt;!channel&gt;'`")


def test_direction_overrides_are_removed_from_names() -> None:
    approval = tracked(details=ApprovalDetails(freelancer_name=f"Ada{RTL_OVERRIDE}exe.txt"))
    header = blocks(cards.approval_card(approval, now=NOW, opentrain_host=HOST))[0]
    assert header["text"]["text"] == "Hire Adaexe.txt — Batch 1"


def test_long_names_are_cut_with_an_ellipsis() -> None:
    approval = tracked(details=ApprovalDetails(freelancer_name="A" * 500))
    header = blocks(cards.approval_card(approval, now=NOW, opentrain_host=HOST))[0]["text"]["text"]
    assert len(header) == 150
    assert header.endswith("A…")


def test_non_slack_ids_are_not_turned_into_mentions() -> None:
    message = cards.approval_card(
        tracked(requester=Requester(kind="slack", id="here")),
        now=NOW,
        opentrain_host=HOST,
        approvers=["<!channel>", "channel", "U0OK", "S0GROUP"],
    )
    shown = texts(message)
    assert "*Requested by* `here`" in shown
    assert "*Approvers:* `&lt;!channel&gt;`, `channel`, <@U0OK>, <!subteam^S0GROUP>" in shown


# --- the approval link rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://app.opentrain.ai/approvals/apr_1", "app.opentrain.ai"),
        ("HTTPS://App.OpenTrain.AI/approvals/apr_1", "app.opentrain.ai"),
        ("https://app.opentrain.ai/approvals/apr_1", "APP.OPENTRAIN.AI"),
        ("https://app.opentrain.ai:8443/approvals/apr_1", "app.opentrain.ai:8443"),
        ("http://127.0.0.1:8123/approvals/apr_1", "127.0.0.1:8123"),
        ("http://localhost:8123/approvals/apr_1", "localhost:8123"),
    ],
)
def test_approval_links_on_the_configured_host_get_the_button(url: str, host: str) -> None:
    assert cards.approval_link_allowed(url, host)
    message = cards.approval_card(tracked(approval_url=url), now=NOW, opentrain_host=host)
    assert buttons(message)[0]["action_id"] == ActionId.OPEN_APPROVAL
    assert buttons(message)[0]["url"] == url
    assert "withheld" not in texts(message)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://evil.example/approvals/apr_1", "app.opentrain.ai"),  # foreign host
        ("http://app.opentrain.ai/approvals/apr_1", "app.opentrain.ai"),  # http on a public host
        ("javascript:alert(1)", "app.opentrain.ai"),
        ("javascript://app.opentrain.ai/%0Aalert(1)", "app.opentrain.ai"),
        ("data:text/html,hi", "app.opentrain.ai"),
        ("https://app.opentrain.ai.evil.com/approvals/apr_1", "app.opentrain.ai"),  # look-alike
        ("https://app.opentrain.ai@evil.com/approvals/apr_1", "app.opentrain.ai"),  # userinfo
        ("https://user:pw@app.opentrain.ai/approvals/apr_1", "app.opentrain.ai"),
        ("https://app.opentrain.ai\\@evil.com/approvals/apr_1", "app.opentrain.ai"),
        ("https://evil.com/?next=https://app.opentrain.ai/", "app.opentrain.ai"),
        ("https://app.opentrain.ai:8443/approvals/apr_1", "app.opentrain.ai"),  # other port
        ("https://app.opentrain.ai/approvals/apr_1", "app.opentrain.ai:443"),
        ("http://127.0.0.1:9999/approvals/apr_1", "127.0.0.1:8123"),
        ("https://app.opentrain.ai:99999/approvals/apr_1", "app.opentrain.ai:99999"),
        ("https://аpp.opentrain.ai/approvals/apr_1", "app.opentrain.ai"),  # Cyrillic а
        ("https://app.opentrain.ai/approvals/apr 1", "app.opentrain.ai"),
        ("https://app.opentrain.ai/approvals/<apr_1|x>", "app.opentrain.ai"),
        ("//app.opentrain.ai/approvals/apr_1", "app.opentrain.ai"),
        ("https://app.opentrain.ai/" + "a" * 3000, "app.opentrain.ai"),
        ("", "app.opentrain.ai"),
    ],
)
def test_other_approval_links_are_withheld(url: str, host: str) -> None:
    assert not cards.approval_link_allowed(url, host)
    message = cards.approval_card(tracked(approval_url=url), now=NOW, opentrain_host=host)
    assert [b["action_id"] for b in buttons(message)] == [ActionId.REMIND_APPROVERS]
    assert f"⚠️ Approval link withheld: not on `{host}`." in texts(message)
    assert url not in json.dumps(message.as_kwargs(), ensure_ascii=False) or not url


def test_opentrain_host_of_keeps_the_port_as_configured() -> None:
    assert cards.opentrain_host_of("https://app.opentrain.ai") == "app.opentrain.ai"
    assert cards.opentrain_host_of("http://127.0.0.1:8123/") == "127.0.0.1:8123"
    assert cards.opentrain_host_of(" HTTPS://App.OpenTrain.ai/api ") == "app.opentrain.ai"


def test_expiry_long_past_still_renders() -> None:
    approval = tracked(expires_at=NOW - timedelta(days=400))
    assert "This request expired <!date^1746698400^" in texts(
        cards.approval_card(approval, now=NOW, opentrain_host=HOST)
    )


@pytest.mark.parametrize(
    ("text", "ending"),
    [
        ("<@U0ADA> " * 1000, "<@U0ADA>…"),
        ("&amp;" * 1000, "&amp;…"),
        ("a&lt;" * 1000, "a…"),
        ("😀" * 2000, "😀…"),
    ],
)
def test_mrkdwn_is_cut_between_tokens_and_entities(text: str, ending: str) -> None:
    cut = clip_mrkdwn(text, 3000)
    assert units(cut) <= 3000
    assert cut.endswith(ending)
    assert units(cut) >= 2990


def test_clip_counts_emoji_as_two_units() -> None:
    assert clip("😀" * 100, 10) == "😀" * 4 + "…"
    assert clip("short", 10) == "short"


# --- the follow-up builders: receipts, contracts, settings, audit, digest, Home, unfurl ------


def assert_safe_home(view: View) -> dict[str, Any]:
    data = view.to_dict()  # slack_sdk validates the view and every block
    assert data["type"] == "home"
    assert 1 <= len(data["blocks"]) <= 100
    check_block_limits(data["blocks"])
    for text in shown_texts(data["blocks"], ("mrkdwn",)):
        assert not any(markup in text for markup in ACTIVE_MARKUP)
    assert not any(RTL_OVERRIDE in text for text in shown_texts(data))
    return data


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
    linked = hostile_contract(text).model_copy(
        update={"freelancer": Freelancer(user_id=text, display_name=text, profile_path="/p/x")}
    )
    assert_fits(cards.contracts_list([linked] * 45, status=text, opentrain_host=HOST))
    assert_fits(cards.contract_detail(linked, opentrain_host=HOST))
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
            {
                text: ScopeTiers.of(
                    [
                        Tier(members=(text, "U0OK") * 200),
                        Tier(over=Decimal("99999.99"), members=(text,), admins=(text,) * 50),
                    ]
                ),
                "global": ScopeTiers.of([Tier(members=(text,), escalate_after=timedelta(days=3))]),
                **{f"C{i}": ScopeTiers.of([Tier(members=(text,))]) for i in range(300)},
            },
            channel_id=text,
            escalate_after=timedelta(hours=24),
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
