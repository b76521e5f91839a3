"""One entry of the append-only audit log: who did what, when, to which approval."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# --- audit ---------------------------------------------------------------------


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    action: str  # e.g. "request", "card_posted", "outcome", "reminder", "refused"
    actor: str  # "slack:U123", "agent:name", "bot"
    approval_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
