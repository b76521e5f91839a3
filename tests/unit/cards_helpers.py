"""What the card tests share: representative approvals at a fixed time, a contract full
of hostile text, and ways to read what a builder produced (blocks, texts, buttons).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.cards import SlackMessage
from bot.opentrain.models import Contract, HireTerms, Milestone
from bot.tracked_approvals import ApprovalDetails, Requester, TrackedApproval, TrackedStatus

NOW = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)
HOST = "app.opentrain.ai"
EXPIRES = NOW + timedelta(days=2, hours=5)
EXPIRES_TOKEN = "<!date^1781449200^{date_short_pretty} at {time}|2026-06-14 15:00 UTC>"
ADA = Requester(kind="slack", id="U0ADA")
PERMALINK = "https://example.slack.com/archives/C0CARDS/p1781200000000100"


def tracked(**overrides: Any) -> TrackedApproval:
    data: dict[str, Any] = {
        "approval_id": "apr_1",
        "type": "proposal_hire",
        "approval_url": "https://app.opentrain.ai/approvals/apr_1",
        "expires_at": EXPIRES,
        "job_id": "job_1",
        "proposal_id": "prop_1",
        "details": ApprovalDetails(freelancer_name="Ada L.", job_title="Image Segmentation"),
        "terms": HireTerms(name="Batch 1", description="First 500 images", amount=Decimal(300)),
        "requester": ADA,
        "next_check_at": NOW,
        "adopted_at": NOW,
        **overrides,
    }
    return TrackedApproval(**data)


def fund(**overrides: Any) -> TrackedApproval:
    return tracked(
        **{
            "type": "milestone_fund",
            "proposal_id": None,
            "contract_id": "ctr_1",
            "milestone_id": "ms_2",
            "terms": None,
            "details": ApprovalDetails(milestone_name="Batch 2", amount_usd=Decimal("450.5")),
            **overrides,
        }
    )


def payout(**overrides: Any) -> TrackedApproval:
    return tracked(
        **{
            "type": "milestone_approve",
            "proposal_id": None,
            "contract_id": "ctr_1",
            "milestone_id": "ms_1",
            "terms": None,
            "details": ApprovalDetails(milestone_name="Batch 1", amount_usd=Decimal(300)),
            **overrides,
        }
    )


def end(amount: Decimal | None = Decimal(300), **overrides: Any) -> TrackedApproval:
    return tracked(
        **{
            "type": "contract_end",
            "proposal_id": None,
            "contract_id": "ctr_1",
            "terms": None,
            "details": ApprovalDetails(contract_title="Image Segmentation", amount_usd=amount),
            **overrides,
        }
    )


def resolved(approval: TrackedApproval, status: TrackedStatus, **changes: Any) -> TrackedApproval:
    return approval.evolve(status=status, resolved_at=NOW - timedelta(hours=3), **changes)


def blocks(message: SlackMessage) -> list[dict[str, Any]]:
    return list(message.as_kwargs()["blocks"])


def of_type(message: SlackMessage, block_type: str) -> list[dict[str, Any]]:
    return [b for b in blocks(message) if b["type"] == block_type]


def texts(message: SlackMessage) -> str:
    """All visible text of a message, one line per text object."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("plain_text", "mrkdwn"):
                found.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks(message))
    return "\n".join(found)


def buttons(message: SlackMessage) -> list[dict[str, Any]]:
    return [e for b in of_type(message, "actions") for e in b["elements"]]


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def first_text(message: SlackMessage) -> str:
    return str(blocks(message)[0]["text"]["text"])


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
