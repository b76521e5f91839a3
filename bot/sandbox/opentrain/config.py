"""What the simulator can be switched to where OpenTrain's behaviour is unconfirmed
(`GET` / `PATCH /_sim/config`, and the matching `python -m bot.sandbox.opentrain` flags).

Each setting names a behaviour `opentrain-api.md` leaves open, so tests can prove
the bot right under every plausible variant rather than under our one guess:

* `supersededStatus` — the status a hire approval gets when newer terms replace
  it (§7.3): `declined` (default), `superseded`, `cancelled`, or any other word.
* `emitEventOnLazyExpiry` — whether the read that expires an approval also fires
  `approval.confirmed {status: "expired"}` (§7.3).
* `rateLimitPerMinute` — a per-token limit on the Public API (§5.1: numbers
  unconfirmed); over it, 429 `RATE_LIMITED` with `Retry-After` and
  `details.retryAfterSeconds`. `rateLimitWindowSeconds` shortens the window for tests.
* `webhookDuplicates` / `webhookReorder` — deliver every webhook twice (same
  delivery id, as a retry would) / deliver events newest first (§13: at-least-once,
  ordering not promised).
* `authMeClaimSignal` — how `/auth/me` shows an unclaimed account (§3: no claim
  flag documented): `email` (no email until claimed; default), `field`
  (`account.claimed`), or `scopes` (a placeholder email; only the token's
  pre-claim scopes tell).

`/_sim/seed` puts the configuration back to what the simulator was started with.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from bot.sandbox.opentrain.vocabulary import DECLINED

ClaimSignal = Literal["email", "field", "scopes"]


class SimConfig(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True
    )

    superseded_status: str = Field(default=DECLINED, min_length=1, max_length=64)
    emit_event_on_lazy_expiry: bool = True
    rate_limit_per_minute: int | None = Field(default=None, ge=1)  # None: no limit
    rate_limit_window_seconds: float = Field(default=60.0, gt=0, le=3600)
    webhook_duplicates: bool = False
    webhook_reorder: bool = False
    auth_me_claim_signal: ClaimSignal = "email"

    def patched(self, changes: dict[str, object]) -> SimConfig:
        """This configuration with `changes` (camelCase keys) applied, all validated."""
        return SimConfig.model_validate({**self.model_dump(by_alias=True), **changes})

    def public(self) -> dict[str, object]:
        return self.model_dump(by_alias=True)
