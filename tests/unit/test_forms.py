"""Modal submissions → terms, or errors keyed by the block Slack shows them under."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.cards import ActionId, BlockId
from bot.forms import (
    MAX_DESCRIPTION,
    MAX_NAME,
    FormErrors,
    MilestoneDraft,
    Values,
    earliest_today,
    hire_prefill,
    hire_terms,
    milestone_draft,
)
from bot.opentrain.models import HireTerms

TODAY = date(2026, 11, 25)
MAX = Decimal("100000")


def hire_values(
    *,
    name: str | None = "Batch 1",
    description: str | None = "10k boxes",
    amount: str | None = "450",
    due: str | None = None,
) -> Values:
    """What Slack sends in `view.state.values` for the hire modal."""
    return {
        BlockId.HIRE_NAME.value: {
            ActionId.HIRE_NAME.value: {"type": "plain_text_input", "value": name}
        },
        BlockId.HIRE_DESCRIPTION.value: {
            ActionId.HIRE_DESCRIPTION.value: {"type": "plain_text_input", "value": description}
        },
        BlockId.HIRE_AMOUNT.value: {
            ActionId.HIRE_AMOUNT.value: {"type": "plain_text_input", "value": amount}
        },
        BlockId.HIRE_DUE_DATE.value: {
            ActionId.HIRE_DUE_DATE.value: {"type": "datepicker", "selected_date": due}
        },
    }


def milestone_values(
    *,
    name: str | None = "Batch 3",
    description: str | None = "Night footage",
    amount: str | None = "250",
) -> Values:
    return {
        BlockId.MILESTONE_NAME.value: {ActionId.MILESTONE_NAME.value: {"value": name}},
        BlockId.MILESTONE_DESCRIPTION.value: {
            ActionId.MILESTONE_DESCRIPTION.value: {"value": description}
        },
        BlockId.MILESTONE_AMOUNT.value: {ActionId.MILESTONE_AMOUNT.value: {"value": amount}},
    }


def hire_errors(**values: Any) -> dict[str, str]:
    with pytest.raises(FormErrors) as raised:
        hire_terms(hire_values(**values), today=TODAY, max_amount=MAX)
    return raised.value.errors


def milestone_errors(**values: Any) -> dict[str, str]:
    with pytest.raises(FormErrors) as raised:
        milestone_draft(milestone_values(**values), max_amount=MAX)
    return raised.value.errors


# --- hire -----------------------------------------------------------------------------


def test_valid_hire_becomes_the_exact_terms_sent() -> None:
    terms = hire_terms(
        hire_values(name="  Batch 1 ", amount="$1,250.5", due="2026-12-01"),
        today=TODAY,
        max_amount=MAX,
    )
    assert terms == HireTerms(
        name="Batch 1",
        description="10k boxes",
        amount=Decimal("1250.50"),
        due_date=date(2026, 12, 1),
    )
    assert not terms.confirm_not_fit_override


def test_the_same_values_always_make_the_same_request_body() -> None:
    # A retry must never change the terms: same modal values → byte-identical body.
    first = hire_terms(hire_values(due="2026-12-01"), today=TODAY, max_amount=MAX)
    again = hire_terms(hire_values(due="2026-12-01"), today=TODAY, max_amount=MAX)
    assert first.request_body() == again.request_body()


def test_description_and_due_date_are_optional() -> None:
    terms = hire_terms(hire_values(description=None, due=None), today=TODAY, max_amount=MAX)
    assert terms.description == "" and terms.due_date is None


def test_due_date_today_is_fine_and_yesterday_is_in_the_past() -> None:
    assert hire_terms(hire_values(due="2026-11-25"), today=TODAY, max_amount=MAX).due_date == TODAY
    errors = hire_errors(due="2026-11-24")
    assert errors == {
        BlockId.HIRE_DUE_DATE.value: "The due date is in the past; pick 2026-11-25 or later."
    }


def test_a_date_no_picker_would_send_is_refused_not_crashed() -> None:
    assert BlockId.HIRE_DUE_DATE.value in hire_errors(due="25/11/2026")


def test_earliest_today_is_still_today_somewhere() -> None:
    # 03:00 UTC on the 25th: it is still the 24th in Honolulu and on Baker Island (UTC−12).
    assert earliest_today(datetime(2026, 11, 25, 3, 0, tzinfo=UTC)) == date(2026, 11, 24)
    assert earliest_today(datetime(2026, 11, 25, 12, 0, tzinfo=UTC)) == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (None, "Enter an amount in USD, like 450 or 450.50."),
        ("", "Enter an amount in USD, like 450 or 450.50."),
        ("0", "The amount must be more than $0."),
        ("-10", "The amount must be more than $0."),
        ("10.001", "The amount can have at most two decimals (cents)."),
        ("100000.01", "The amount must be at most $100,000.00."),
        ("1e400", "“1e400” is not an amount — type dollars like 450 or 450.50."),
        ("NaN", "“NaN” is not an amount — type dollars like 450 or 450.50."),
        (
            "1,5",
            "“1,5” uses a comma for cents. Did you mean 1.50? "
            "Put a dot before the cents; commas only between thousands.",
        ),
        ("ABC", "“ABC” is not an amount — type dollars like 450 or 450.50."),
    ],
)
def test_bad_amounts_are_explained_under_the_amount(amount: str | None, message: str) -> None:
    assert hire_errors(amount=amount) == {BlockId.HIRE_AMOUNT.value: message}


def test_the_name_is_required_and_limited() -> None:
    assert hire_errors(name="   ") == {BlockId.HIRE_NAME.value: "Give the first milestone a name."}
    too_long = "n" * (MAX_NAME + 1)
    assert hire_errors(name=too_long) == {
        BlockId.HIRE_NAME.value: f"The name is {MAX_NAME + 1} characters; keep it to {MAX_NAME}."
    }
    assert hire_terms(hire_values(name="n" * MAX_NAME), today=TODAY, max_amount=MAX).name == (
        "n" * MAX_NAME
    )


def test_the_description_is_limited() -> None:
    errors = hire_errors(description="d" * (MAX_DESCRIPTION + 1))
    assert errors == {
        BlockId.HIRE_DESCRIPTION.value: (
            f"The description is {MAX_DESCRIPTION + 1} characters; keep it to {MAX_DESCRIPTION}."
        )
    }


def test_every_problem_is_reported_at_once_under_its_own_input() -> None:
    errors = hire_errors(name="", amount="-1", due="2020-01-01")
    assert set(errors) == {
        BlockId.HIRE_NAME.value,
        BlockId.HIRE_AMOUNT.value,
        BlockId.HIRE_DUE_DATE.value,
    }


def test_limits_match_the_modal_inputs() -> None:
    # Slack enforces max_length in the modal; the server-side rule must be the same number.
    from bot.cards.modals import DESCRIPTION_MAX, NAME_MAX

    assert (MAX_NAME, MAX_DESCRIPTION) == (NAME_MAX, DESCRIPTION_MAX)


def test_prefill_keeps_what_was_typed_for_a_re_render() -> None:
    values = hire_values(name="Batch 9", description="Many boxes", due="2026-12-24")
    assert hire_prefill(values) == {
        "name": "Batch 9",
        "description": "Many boxes",
        "due_date": date(2026, 12, 24),
    }
    assert hire_prefill({}) == {"name": "", "description": "", "due_date": None}
    assert hire_prefill(hire_values(due="nope"))["due_date"] is None


# --- milestone -------------------------------------------------------------------------


def test_valid_milestone_draft() -> None:
    draft = milestone_draft(milestone_values(amount="250.5"), max_amount=MAX)
    assert draft == MilestoneDraft(
        name="Batch 3", description="Night footage", amount=Decimal("250.50")
    )


def test_milestone_name_is_optional_but_description_required() -> None:
    assert milestone_draft(milestone_values(name=None), max_amount=MAX).name == ""
    assert milestone_errors(description=" ") == {
        BlockId.MILESTONE_DESCRIPTION.value: "OpenTrain requires a description."
    }


def test_milestone_limits_and_amounts() -> None:
    errors = milestone_errors(
        name="n" * (MAX_NAME + 1), description="d" * (MAX_DESCRIPTION + 1), amount="0.001"
    )
    assert set(errors) == {
        BlockId.MILESTONE_NAME.value,
        BlockId.MILESTONE_DESCRIPTION.value,
        BlockId.MILESTONE_AMOUNT.value,
    }
    assert milestone_errors(amount="200000") == {
        BlockId.MILESTONE_AMOUNT.value: "The amount must be at most $100,000.00."
    }
    assert milestone_errors(amount=None) == {
        BlockId.MILESTONE_AMOUNT.value: "Enter an amount in USD, like 450 or 450.50."
    }
