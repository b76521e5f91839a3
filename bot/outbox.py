"""The outbox's items: each effect an approval (or a message) has on Slack — or on an agent's
callback URL — queued in the store and delivered exactly once by the notifier.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

from bot.tracked_approvals import TrackedApproval, TrackedStatus

# --- effects the outcome has on Slack (queued in the store's outbox) ------------


class EffectKind(StrEnum):
    POST_CARD = "post_card"  # first post of the card in its channel
    UPDATE_CARD = "update_card"  # re-render the card from the approval's current state
    OUTCOME_REPLY = "outcome_reply"  # one thread reply under the card when it resolves
    REQUESTER_DM = "requester_dm"  # DM the requester (expiry, or when the channel is gone)
    REMINDER_DM = "reminder_dm"  # DM one approver before expiry
    REFRESH_HOME = "refresh_home"  # re-publish the Home tab of everyone who sees the approval
    RETIRE_DMS = "retire_dms"  # re-render the DMs sent about an approval without their buttons
    # Messages rendered when queued, carried in the payload: policy cards, replies to pasted
    # links, the digest, DMs that stand in for an ephemeral.
    POST_MESSAGE = "post_message"  # payload {channel | user, thread_ts?, message}
    UPDATE_MESSAGE = "update_message"  # payload {channel, post (its POST_MESSAGE id), message}
    UNFURL = "unfurl"  # payload {channel, ts, unfurls}: previews of links in someone's message
    # Not Slack: a signed POST of an outcome to the agent's callbackUrl (bot/callbacks.py),
    # its body rendered when delivered. Payload {host (its lane), outcome_at (retries end 24 h on)}.
    CALLBACK = "callback"


class Effect(BaseModel):
    """One side effect (in Slack, or an agent's callback), delivered at least once and
    recorded so it lands once.

    Its `subject` is what it is about: an approval id for approval effects, else
    `<kind>:<id>` (`policy:…`, `paste:…`, `digest:…`) for messages about something else.
    """

    model_config = ConfigDict(frozen=True)

    id: str  # deterministic, so enqueuing the same effect twice is a no-op
    # Records written before subjects existed name it `approval_id`.
    subject: str = Field(validation_alias=AliasChoices("subject", "approval_id"))
    kind: EffectKind
    due_at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    last_error: str | None = None
    done: bool = False
    result: dict[str, Any] | None = None  # e.g. {"ts": "...", "channel": "..."} once it landed
    # Wall-clock start of the first attempt that may have posted (`Store.start_effect`).
    started_at: AwareDatetime | None = None

    @property
    def approval_id(self) -> str:
        """The subject, for the effects that are about an approval."""
        return self.subject


def effect(
    subject: str,
    kind: EffectKind,
    now: datetime,
    *,
    key: str = "",
    payload: dict[str, Any] | None = None,
) -> Effect:
    effect_id = f"{subject}:{kind.value}" + (f":{key}" if key else "")
    return Effect(id=effect_id, subject=subject, kind=kind, due_at=now, payload=payload or {})


def callback_effect(subject: str, url: str, now: datetime, *, key: str) -> Effect:
    """Tell the agent that asked for it (`callbackUrl`) what became of `subject`, once per `key`."""
    payload = {"host": urlsplit(url).hostname or "", "outcome_at": now.isoformat()}
    return effect(subject, EffectKind.CALLBACK, now, key=key, payload=payload)


def outcome_effects(tracked: TrackedApproval, now: datetime) -> list[Effect]:
    """What Slack (and the agent's callback) must see once `tracked` reached a terminal status
    (enqueued by the CAS winner)."""
    status = tracked.status.value
    effects = [
        effect(tracked.approval_id, EffectKind.UPDATE_CARD, now, key=status),
        effect(tracked.approval_id, EffectKind.OUTCOME_REPLY, now, key=status),
    ]
    if tracked.status is TrackedStatus.EXPIRED and tracked.requester.kind == "slack":
        effects.append(effect(tracked.approval_id, EffectKind.REQUESTER_DM, now, key=status))
    effects.append(effect(tracked.approval_id, EffectKind.RETIRE_DMS, now, key=status))
    effects.append(effect(tracked.approval_id, EffectKind.REFRESH_HOME, now, key=status))
    if tracked.callback is not None:
        effects.append(callback_effect(tracked.approval_id, tracked.callback.url, now, key=status))
    return effects
