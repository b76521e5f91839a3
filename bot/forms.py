"""Validating modal submissions — pure, so every rule is unit-tested.

Slack sends a submitted view's inputs as `state.values[block_id][action_id]`;
a problem is returned per block id, which is exactly what Slack's
`response_action: "errors"` shows under the offending input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.cards import ActionId, BlockId
from bot.cards.modals import DESCRIPTION_MAX, NAME_MAX
from bot.money import parse_amount
from bot.opentrain.models import HireTerms

# The modals' input limits are the rules, whichever door the text came through.
MAX_NAME = NAME_MAX
MAX_DESCRIPTION = DESCRIPTION_MAX

Values = dict[str, dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class MilestoneDraft:
    name: str
    description: str
    amount: Decimal


class FormErrors(ValueError):
    """Problems keyed by block id, for `response_action: "errors"`."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _text(values: Values, block: BlockId, action: ActionId) -> str:
    value = values.get(block.value, {}).get(action.value, {}).get("value")
    return str(value).strip() if value else ""


def _date(values: Values, block: BlockId, action: ActionId) -> date | None:
    """The picked date; ValueError for anything a date picker would not send."""
    value = values.get(block.value, {}).get(action.value, {}).get("selected_date")
    return date.fromisoformat(str(value)) if value else None


def _check_text(errors: dict[str, str], block: BlockId, text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        errors[block.value] = f"The {what} is {len(text)} characters; keep it to {limit}."


def _check_amount(errors: dict[str, str], block: BlockId, text: str, maximum: Decimal) -> Decimal:
    if not text:
        errors[block.value] = "Enter an amount in USD, like 450 or 450.50."
        return Decimal(0)
    try:
        return parse_amount(text, maximum)
    except ValueError as exc:
        problem = str(exc)
        errors[block.value] = problem[:1].upper() + problem[1:] + "."
        return Decimal(0)


def earliest_today(now: datetime) -> date:
    """The earliest calendar date that is still today somewhere (UTC−12).

    A due date is "in the past" only once it has passed everywhere, so a
    requester west of UTC can still pick their own today late in their day.
    """
    return (now.astimezone(UTC) - timedelta(hours=12)).date()


def hire_terms(values: Values, *, today: date, max_amount: Decimal) -> HireTerms:
    """The hire modal's values as `HireTerms`, or FormErrors naming each bad input.

    A due date before `today` (see `earliest_today`) is refused.
    """
    errors: dict[str, str] = {}
    name = _text(values, BlockId.HIRE_NAME, ActionId.HIRE_NAME)
    description = _text(values, BlockId.HIRE_DESCRIPTION, ActionId.HIRE_DESCRIPTION)
    if not name:
        errors[BlockId.HIRE_NAME.value] = "Give the first milestone a name."
    _check_text(errors, BlockId.HIRE_NAME, name, MAX_NAME, "name")
    _check_text(errors, BlockId.HIRE_DESCRIPTION, description, MAX_DESCRIPTION, "description")
    amount_text = _text(values, BlockId.HIRE_AMOUNT, ActionId.HIRE_AMOUNT)
    amount = _check_amount(errors, BlockId.HIRE_AMOUNT, amount_text, max_amount)
    try:
        due = _date(values, BlockId.HIRE_DUE_DATE, ActionId.HIRE_DUE_DATE)
    except ValueError:
        errors[BlockId.HIRE_DUE_DATE.value] = "Pick the due date from the calendar."
        due = None
    if due is not None and due < today:
        errors[BlockId.HIRE_DUE_DATE.value] = (
            f"The due date is in the past; pick {today.isoformat()} or later."
        )
    if errors:
        raise FormErrors(errors)
    return HireTerms(name=name, description=description, amount=amount, due_date=due)


def hire_prefill(values: Values) -> dict[str, Any]:
    """What the hire modal holds so far (`hire_modal` keywords), to re-render it intact."""
    try:
        due = _date(values, BlockId.HIRE_DUE_DATE, ActionId.HIRE_DUE_DATE)
    except ValueError:
        due = None
    return {
        "name": _text(values, BlockId.HIRE_NAME, ActionId.HIRE_NAME),
        "description": _text(values, BlockId.HIRE_DESCRIPTION, ActionId.HIRE_DESCRIPTION),
        "due_date": due,
    }


def milestone_prefill(values: Values) -> dict[str, Any]:
    """What the milestone modal holds so far (`milestone_modal` keywords), to re-render it."""
    return {
        "name": _text(values, BlockId.MILESTONE_NAME, ActionId.MILESTONE_NAME),
        "description": _text(values, BlockId.MILESTONE_DESCRIPTION, ActionId.MILESTONE_DESCRIPTION),
    }


def milestone_draft(values: Values, *, max_amount: Decimal) -> MilestoneDraft:
    errors: dict[str, str] = {}
    name = _text(values, BlockId.MILESTONE_NAME, ActionId.MILESTONE_NAME)
    description = _text(values, BlockId.MILESTONE_DESCRIPTION, ActionId.MILESTONE_DESCRIPTION)
    if not description:
        errors[BlockId.MILESTONE_DESCRIPTION.value] = "OpenTrain requires a description."
    _check_text(errors, BlockId.MILESTONE_NAME, name, MAX_NAME, "name")
    _check_text(errors, BlockId.MILESTONE_DESCRIPTION, description, MAX_DESCRIPTION, "description")
    amount_text = _text(values, BlockId.MILESTONE_AMOUNT, ActionId.MILESTONE_AMOUNT)
    amount = _check_amount(errors, BlockId.MILESTONE_AMOUNT, amount_text, max_amount)
    if errors:
        raise FormErrors(errors)
    return MilestoneDraft(name=name, description=description, amount=amount)


def modal_metadata(raw: object) -> dict[str, Any] | None:
    """A modal's `private_metadata` as the object the bot put there; None when it is not
    one (another app's modal, an older bot's, or tampered)."""
    if not isinstance(raw, str):
        return None
    try:
        meta = json.loads(raw or "{}")
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None
