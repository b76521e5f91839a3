"""OpenTrain wire models (opentrain-api.md), camelCase on the wire, snake_case here.

Forward compatible: unknown fields are ignored and unknown enum values parse
(they become `UNKNOWN` and the raw string is kept), because the served OpenAPI
spec — the contract of record — may add both at any time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_validator, model_validator
from pydantic.alias_generators import to_camel


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


class ApprovalType(StrEnum):
    PROPOSAL_HIRE = "proposal_hire"
    MILESTONE_FUND = "milestone_fund"
    MILESTONE_APPROVE = "milestone_approve"
    CONTRACT_END = "contract_end"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> ApprovalType:
        return cls.UNKNOWN


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> ApprovalStatus:
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self is not ApprovalStatus.PENDING


class Approval(WireModel):
    """A pending (or resolved) co-sign request — opentrain-api.md §7.2."""

    id: str
    type: ApprovalType
    status: ApprovalStatus
    status_raw: str = ""  # the status string as OpenTrain sent it, even when unknown to us
    contract_id: str | None = None
    milestone_id: str | None = None
    job_id: str | None = None
    proposal_id: str | None = None
    approval_url: str
    expires_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    result: dict[str, Any] | None = None
    created_at: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _remember_raw_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "status" in data and not data.get("statusRaw"):
            return {**data, "statusRaw": str(data["status"])}
        return data
