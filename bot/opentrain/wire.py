"""The wire's shapes both ways: the base of every response model, tolerant timestamps, and
request bodies written with `Decimal` money as exact digits (opentrain-api.md §0)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeAlias

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, field_validator
from pydantic.alias_generators import to_camel


def _tolerant_instant(value: Any) -> Any:
    """A timestamp as OpenTrain may send it: ISO 8601 with a zone (documented), a plain date
    (`dueDate: "2026-07-15"`, which OpenTrain stores as midnight UTC, §10.2), or an ISO
    time without a zone (read as UTC)."""
    if isinstance(value, str):
        text = value.strip()
        if _DATE_ONLY.fullmatch(text):
            return f"{text}T00:00:00Z"
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return value  # let pydantic say what is wrong
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
Instant = Annotated[AwareDatetime, BeforeValidator(_tolerant_instant)]


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return value


JsonValue: TypeAlias = (
    str | bool | int | Decimal | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)


def json_body(value: JsonValue) -> bytes:
    """Compact, deterministic JSON with `Decimal` written as its exact digits.

    `json.dumps` would need a float for a Decimal; money must not round-trip
    through one, so numbers are rendered here (450.00 → 450, 450.50 → 450.5).
    """
    return _encode(value).encode()


def _encode(value: JsonValue) -> str:
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value.normalize(), "f")
    if isinstance(value, Mapping):
        items = (f"{_encode(key)}:{_encode(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    return "[" + ",".join(_encode(item) for item in value) + "]"
