import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.money import format_usd, hire_cost, milestone_volume, parse_amount
from bot.opentrain.models import Approval, Contract, HireTerms
from bot.opentrain.models import HireTerms as WireHireTerms
from bot.outbox import Effect
from bot.tracked_approvals import Requester, TrackedStatus, adopt, next_check_at, outcome_of

NOW = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)


def pending(**overrides: object) -> Approval:
    data = {
        "id": "apr_1",
        "type": "proposal_hire",
        "status": "pending",
        "jobId": "job_1",
        "proposalId": "prop_1",
        "approvalUrl": "https://app.opentrain.ai/approvals/apr_1",
        "expiresAt": "2026-06-15T10:00:00.000Z",
        "createdAt": "2026-06-12T10:00:00.000Z",
        **overrides,
    }
    return Approval.model_validate(data)


def test_hire_cost_adds_ten_percent_and_initiation_fee() -> None:
    cost = hire_cost(Decimal("300"))
    assert cost.marketplace_fee == Decimal("30.00")
    assert cost.initiation_fee == Decimal("9.95")
    assert cost.total == Decimal("339.95")


def test_hire_cost_rounds_fee_to_cents_half_up() -> None:
    assert hire_cost(Decimal("0.05")).marketplace_fee == Decimal("0.01")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("450", "450.00"), ("$1,250.50", "1250.50"), (" 0.01 ", "0.01")],
)
def test_parse_amount_accepts_what_people_type(text: str, expected: str) -> None:
    assert parse_amount(text, Decimal("100000")) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc", "not an amount"),
        ("0", "more than $0"),
        ("-5", "more than $0"),
        ("1.234", "two decimals"),
        ("1000001", "at most $100,000.00"),
        ("NaN", "not an amount"),
    ],
)
def test_parse_amount_explains_bad_input(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_amount(text, Decimal("100000"))


def test_format_usd() -> None:
    assert format_usd(Decimal("1234.5")) == "$1,234.50"
    assert format_usd(Decimal("-3")) == "-$3.00"


def test_hire_terms_are_the_wire_models_and_cost_stays_in_the_domain() -> None:
    # The request body is tested with the wire models; the domain only prices the terms.
    assert HireTerms is WireHireTerms
    terms = HireTerms(name="Batch 1", description="10k boxes", amount=Decimal("300"))
    assert hire_cost(terms.amount).total == Decimal("339.95")


def test_adopt_pending_checks_again_at_expiry() -> None:
    tracked = adopt(pending(), requester=Requester(kind="slack", id="U1"), now=NOW)
    assert tracked.status is TrackedStatus.PENDING
    assert tracked.next_check_at <= tracked.expires_at + timedelta(seconds=5)


def test_adopt_of_resolved_approval_records_outcome() -> None:
    approval = pending(
        status="confirmed", resolvedAt="2026-06-12T11:00:00.000Z", result={"hired": True}
    )
    tracked = adopt(approval, requester=Requester(kind="agent", id="scout"), now=NOW)
    assert tracked.status is TrackedStatus.CONFIRMED
    assert tracked.result == {"hired": True}


def test_unknown_status_stays_pending_rather_than_guessing() -> None:
    tracked = adopt(pending(status="on_hold"), requester=Requester(kind="slack", id="U1"), now=NOW)
    assert tracked.status is TrackedStatus.PENDING


def test_fallback_polling_slows_with_age_and_never_passes_expiry() -> None:
    tracked = adopt(pending(), requester=Requester(kind="slack", id="U1"), now=NOW)
    fresh = next_check_at(tracked, NOW + timedelta(minutes=1), feed_healthy=False)
    old = next_check_at(tracked, NOW + timedelta(hours=30), feed_healthy=False)
    assert fresh - (NOW + timedelta(minutes=1)) == timedelta(seconds=15)
    assert old - (NOW + timedelta(hours=30)) == timedelta(minutes=10)
    near_expiry = next_check_at(
        tracked, tracked.expires_at - timedelta(seconds=1), feed_healthy=False
    )
    assert near_expiry == tracked.expires_at + timedelta(seconds=5)


def test_healthy_feed_means_one_read_just_after_expiry() -> None:
    tracked = adopt(pending(), requester=Requester(kind="slack", id="U1"), now=NOW)
    expected = tracked.expires_at + timedelta(seconds=5)
    assert next_check_at(tracked, NOW, feed_healthy=True) == expected


def test_still_pending_after_expiry_is_read_again_later() -> None:
    tracked = adopt(pending(), requester=Requester(kind="slack", id="U1"), now=NOW)
    later = tracked.expires_at + timedelta(minutes=1)
    assert next_check_at(tracked, later, feed_healthy=True) == later + timedelta(minutes=10)


def test_an_effect_stored_before_subjects_reads_its_approval_as_subject() -> None:
    stored = (
        '{"id": "apr_9:post_card", "approval_id": "apr_9", "kind": "post_card",'
        ' "due_at": "2030-01-01T00:00:00Z"}'
    )
    item = Effect.model_validate_json(stored)
    assert item.subject == item.approval_id == "apr_9"
    assert item.started_at is None
    assert '"subject":"apr_9"' in item.model_dump_json()


def _contract(payment_type: str, rate: str | None) -> Contract:
    return Contract.model_validate(
        {"id": "c", "status": "active", "paymentType": payment_type, "rateUsd": rate}
    )


@pytest.mark.parametrize(
    ("payment_type", "rate", "amount", "volume"),
    [
        ("PAY_PER_HOUR", "25", "100", Decimal(4)),
        ("PAY_PER_HOUR", "25", "110.25", Decimal("4.41")),
        ("PAY_PER_LABEL", "0.05", "100", Decimal(2000)),
        ("FIXED_PRICE", "900", "300", None),
        ("PAY_PER_HOUR", None, "300", None),  # no rate: OpenTrain says contract_rate_missing
        ("SOMETHING_NEW", "5", "300", None),
    ],
)
def test_milestone_volume_at_the_contract_rate(
    payment_type: str, rate: str | None, amount: str, volume: Decimal | None
) -> None:
    assert milestone_volume(Decimal(amount), _contract(payment_type, rate)) == volume


def test_milestone_volume_must_be_whole_and_says_what_would_be() -> None:
    with pytest.raises(ValueError, match=r"e\.g\. \$99\.96 for 1428 labels"):
        milestone_volume(Decimal(100), _contract("PAY_PER_LABEL", "0.07"))
    with pytest.raises(ValueError, match=r"e\.g\. \$0\.07 for 1 label\b"):
        milestone_volume(Decimal("0.05"), _contract("PAY_PER_LABEL", "0.07"))


@pytest.mark.parametrize(
    ("status", "resolved", "outcome"),
    [
        ("superseded", True, TrackedStatus.ENDED),
        ("cancelled", True, TrackedStatus.ENDED),
        ("on_hold", False, TrackedStatus.PENDING),
        ("declined", True, TrackedStatus.DECLINED),
    ],
)
def test_statuses_we_do_not_know_end_only_when_opentrain_says_resolved(
    status: str, resolved: bool, outcome: TrackedStatus
) -> None:
    approval = Approval.model_validate(
        {
            "id": "apr_1",
            "type": "proposal_hire",
            "status": status,
            "approvalUrl": "https://app.opentrain.ai/approvals/apr_1",
            "expiresAt": "2026-06-15T10:00:00.000Z",
            "resolvedAt": "2026-06-13T10:00:00.000Z" if resolved else None,
        }
    )
    assert outcome_of(approval) is outcome
