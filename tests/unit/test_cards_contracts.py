"""The contracts list and a contract's detail (`bot/cards/contracts.py`)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot import cards
from bot.cards import ActionId
from bot.opentrain.models import Contract, Freelancer, Milestone
from tests.unit.cards_helpers import HOST, NOW, blocks, hostile_contract, mrkdwn, of_type, texts
from tests.unit.cards_limits import assert_fits

FIXTURES = Path(__file__).parent.parent / "fixtures" / "opentrain"


def fixture_contract(name: str) -> Contract:
    return Contract.model_validate(json.loads((FIXTURES / name).read_text())["contract"])


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
    message = cards.contract_detail(contract(id="ctr_1", job_id="job_1"), opentrain_host=HOST)
    shown = blocks(message)
    assert shown[0]["text"]["text"] == "Spanish Sentiment Labeling Contract"
    assert shown[1]["fields"] == [
        mrkdwn("*Status*\nactive"),
        mrkdwn("*Contract*\n`ctr_1`"),
        mrkdwn("*Job*\n`job_1`"),
        mrkdwn("*Freelancer*\n<https://app.opentrain.ai/profile/maria-g|Maria G.>"),
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


def test_the_freelancer_is_named_and_linked_to_their_profile_on_opentrain_only() -> None:
    ada = Freelancer(user_id="u_1", display_name="Ada L.", profile_path="/profile/ada-l-428cf7")
    profile = "<https://app.opentrain.ai/profile/ada-l-428cf7|Ada L.>"
    detail = cards.contract_detail(contract(freelancer=ada), opentrain_host=HOST)
    assert mrkdwn(f"*Freelancer*\n{profile}") in blocks(detail)[1]["fields"]
    listed = cards.contracts_list([contract(freelancer=ada)], status=None, opentrain_host=HOST)
    assert mrkdwn(f"*Freelancer*\n{profile}") in blocks(listed)[1]["fields"]
    local = cards.contract_detail(contract(freelancer=ada), opentrain_host="127.0.0.1:8123")
    assert "<http://127.0.0.1:8123/profile/ada-l-428cf7|Ada L.>" in texts(local)
    # No host, or a path that would lead elsewhere: the name alone, never the raw path.
    for host, path in [
        (None, "/profile/ada-l-428cf7"),
        (HOST, "https://evil.example/profile"),
        (HOST, "//evil.example/profile"),
        (HOST, "@evil.example/profile"),
        (HOST, "/profile/<ada|x>"),
        (HOST, None),
    ]:
        message = cards.contract_detail(
            contract(freelancer=ada.model_copy(update={"profile_path": path})), opentrain_host=host
        )
        fields = blocks(message)[1]["fields"]
        assert {"type": "plain_text", "text": "Freelancer: Ada L.", "emoji": True} in fields
        assert "/profile" not in texts(message)


def test_a_freelancers_name_in_a_link_is_escaped() -> None:
    shady = Freelancer(user_id="u_1", display_name="<!channel> | *x*", profile_path="/profile/x")
    detail = cards.contract_detail(contract(freelancer=shady), opentrain_host=HOST)
    assert "<https://app.opentrain.ai/profile/x|&lt;!channel&gt; | *x*>" in texts(detail)


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


# --- hostile text and huge inputs -----------------------------------------------------


def test_hostile_contract_text_is_shown_literally_or_escaped() -> None:
    hostile = hostile_contract("<!channel>", milestones=1)
    message = cards.contract_detail(hostile, opentrain_host=HOST)
    assert blocks(message)[0]["text"] == {"type": "plain_text", "text": "<!channel>", "emoji": True}
    shown = texts(message)
    assert "Freelancer: <!channel>" in shown  # plain text, never parsed; the path is no link
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
