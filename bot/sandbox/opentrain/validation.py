"""Request-body rules shared by the API and the human's confirm (opentrain-api.md §8.5, §10.2).

Bodies are parsed with `parse_float=Decimal`, so amounts arrive as `Decimal` or
`int`; a JSON float never reaches these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bot.sandbox.opentrain.errors import bad_request
from bot.sandbox.opentrain.model import HireTerms
from bot.sandbox.opentrain.money import has_at_most_two_decimals

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def amount(value: object, field: str) -> Decimal:
    """A positive USD amount with at most two decimals."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise bad_request(field, f"{field} must be a number")
    number = Decimal(value)
    if not number.is_finite() or number <= 0:
        raise bad_request(field, f"{field} must be greater than 0")
    if not has_at_most_two_decimals(number):
        raise bad_request(field, f"{field} can have at most two decimals")
    return number


def positive_number(value: object, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise bad_request(field, f"{field} must be a number")
    number = Decimal(value)
    if not number.is_finite() or number <= 0:
        raise bad_request(field, f"{field} must be greater than 0")
    return number


def optional_text(value: object, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise bad_request(field, f"{field} must be a string")
    return value.strip()


def calendar_date(value: object, field: str) -> date | None:
    """`YYYY-MM-DD`, or absent."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise bad_request(field, f"{field} must be a date like 2026-07-15")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad_request(field, f"{field} is not a real date") from None


def iso_datetime(value: object, field: str) -> datetime | None:
    """ISO 8601; a bare date means midnight UTC (§10.2: "2026-07-15" → 2026-07-15T00:00:00.000Z)."""
    if value is None:
        return None
    if isinstance(value, str) and _DATE.fullmatch(value):
        day = calendar_date(value, field)
        assert day is not None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise bad_request(field, f"{field} must be an ISO 8601 date")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(field, f"{field} must be an ISO 8601 date") from None
    if parsed.tzinfo is None:
        raise bad_request(field, f"{field} needs a time zone (or send a plain date)")
    return parsed.astimezone(UTC)


def json_object(body: object, field: str = "body") -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request(field, f"{field} must be a JSON object")
    return body


# --- hire (§8.5) ---------------------------------------------------------------------


def hire_terms(body: object) -> HireTerms:
    """`{milestone: {name?, description?, amount, dueDate?}, confirmNotFitOverride?}`.

    Unknown keys inside `milestone` are ignored, like any forward-compatible server.
    """
    payload = json_object(body)
    milestone = json_object(payload.get("milestone"), "milestone")
    override = payload.get("confirmNotFitOverride", False)
    if not isinstance(override, bool):
        raise bad_request("confirmNotFitOverride", "confirmNotFitOverride must be a boolean")
    return _terms(milestone, confirm_not_fit_override=override)


def edited_hire_terms(terms: HireTerms, edits: Mapping[str, Any]) -> HireTerms:
    """The human's adjustments on the confirmation screen, checked by the same rules."""
    merged = {
        "name": terms.name,
        "description": terms.description,
        "amount": terms.amount,
        "dueDate": terms.due_date.isoformat() if terms.due_date else None,
        **edits,
    }
    return _terms(merged, confirm_not_fit_override=terms.confirm_not_fit_override)


def _terms(milestone: Mapping[str, Any], *, confirm_not_fit_override: bool) -> HireTerms:
    name = optional_text(milestone.get("name"), "milestone.name")
    description = optional_text(milestone.get("description"), "milestone.description")
    if not name and not description:
        raise bad_request("milestone.name", "milestone needs a name or a description")
    if "amount" not in milestone:
        # unconfirmed: the docs do not say `amount` is required; a hire cannot fund without one.
        raise bad_request("milestone.amount", "milestone.amount is required")
    return HireTerms(
        name=name,
        description=description,
        amount=amount(milestone["amount"], "milestone.amount"),
        due_date=calendar_date(milestone.get("dueDate"), "milestone.dueDate"),
        confirm_not_fit_override=confirm_not_fit_override,
    )


# --- milestone create (§10.2) ----------------------------------------------------------


@dataclass(frozen=True)
class MilestoneDraft:
    name: str
    description: str
    amount_usd: Decimal | None
    volume: Decimal | None
    due_date: datetime | None


def milestone_draft(body: object) -> MilestoneDraft:
    payload = json_object(body)
    description = optional_text(payload.get("description"), "description")
    if not description:
        raise bad_request("description", "description is required")
    raw_amount = payload.get("amountUsd")
    raw_volume = payload.get("volume")
    return MilestoneDraft(
        name=optional_text(payload.get("name"), "name"),
        description=description,
        amount_usd=None if raw_amount is None else amount(raw_amount, "amountUsd"),
        volume=None if raw_volume is None else positive_number(raw_volume, "volume"),
        due_date=iso_datetime(payload.get("dueDate"), "dueDate"),
    )
