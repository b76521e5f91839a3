"""Webhook subscriptions (opentrain-api.md §13): creating them, and the bookkeeping of
delivery attempts — retry schedule and auto-disable. The HTTP side is `webhooks.py`.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.sandbox.opentrain.errors import ApiError, bad_request, conflict
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.model import Delivery, DeliveryAttempt, Token, Webhook
from bot.sandbox.opentrain.validation import json_object
from bot.sandbox.opentrain.vocabulary import EventType, WebhookStatus

if TYPE_CHECKING:
    from bot.sandbox.opentrain.state import SimState

MAX_SUBSCRIPTIONS = 10
MAX_URL_LENGTH = 2048
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_ATTEMPTS = 5
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(minutes=120),
)
# unconfirmed for the Public API: the Platform API documents 10 consecutive failures.
DISABLE_AFTER_FAILURES = 10
DISABLED_REASON = "Disabled after repeated delivery failures"


def create(state: SimState, token: Token, body: object) -> tuple[Webhook, str]:
    """A new ACTIVE subscription and its signing secret (returned this once only)."""
    payload = json_object(body)
    url = _url(payload.get("url"))
    event_types = _event_types(payload.get("eventTypes"))
    have = token.effective_scopes(state.accounts[token.account_id])
    missing = sorted({t.read_scope for t in event_types} - have)
    if missing:
        # unconfirmed: the error for subscribing to events the token cannot read.
        raise ApiError(
            403, "The token cannot read some of these event types", {"requiredScopes": missing}
        )
    owned = [w for w in state.webhooks.values() if w.account_id == token.account_id]
    if len(owned) >= MAX_SUBSCRIPTIONS:
        # unconfirmed: the status and reason for going over the limit of 10.
        raise conflict(
            "webhook_limit_reached",
            f"An account can have at most {MAX_SUBSCRIPTIONS} webhook subscriptions",
            limit=MAX_SUBSCRIPTIONS,
        )
    secret = f"whsec_{secrets.token_hex(24)}"
    webhook = Webhook(
        id=new_id("wh"),
        account_id=token.account_id,
        url=url,
        event_types=event_types,
        secret=secret,
        created_at=state.now(),
    )
    state.webhooks[webhook.id] = webhook
    return webhook, secret


def delete(state: SimState, webhook: Webhook) -> None:
    """Permanent; drops the delivery history and anything still owed."""
    del state.webhooks[webhook.id]
    for delivery in [d for d in state.deliveries.values() if d.webhook_id == webhook.id]:
        del state.deliveries[delivery.id]


def _url(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise bad_request("url", "url is required")
    if len(value) > MAX_URL_LENGTH:
        raise bad_request("url", f"url must be at most {MAX_URL_LENGTH} characters")
    parts = urlsplit(value)
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise bad_request("url", "url must be an absolute https URL")
    if parts.scheme == "http" and host not in LOOPBACK_HOSTS:
        raise bad_request("url", "http is only allowed for localhost; use https")
    return value


def _event_types(value: object) -> tuple[EventType, ...]:
    if not isinstance(value, list) or not value:
        raise bad_request("eventTypes", "eventTypes must be a non-empty list")
    chosen: list[EventType] = []
    for item in value:
        try:
            event_type = EventType(item)
        except ValueError:
            raise bad_request("eventTypes", f"unknown event type {item!r}") from None
        if event_type not in chosen:  # duplicates are removed, order kept
            chosen.append(event_type)
    return tuple(chosen)


# --- delivery bookkeeping -------------------------------------------------------------------


def record_attempt(
    state: SimState,
    delivery: Delivery,
    *,
    status_code: int | None,
    error: str | None,
    time_scale: float,
) -> None:
    """Apply one attempt's outcome: done, retry later, give up, or disable the subscription."""
    delivery.in_flight = False
    webhook = state.webhooks.get(delivery.webhook_id)
    if webhook is None or state.deliveries.get(delivery.id) is not delivery:
        return  # deleted (or the state re-seeded) while the request was in flight
    delivery.attempts_made += 1
    ok = status_code is not None and 200 <= status_code < 300
    webhook.attempts.append(
        DeliveryAttempt(
            delivery.id,
            delivery.event_id,
            delivery.attempts_made,
            state.now(),
            status_code,
            ok,
            error,
        )
    )
    if ok:
        webhook.consecutive_failures = 0
        del state.deliveries[delivery.id]
        return
    # A 4xx counts as a failure too (§13).
    webhook.consecutive_failures += 1
    if webhook.consecutive_failures >= DISABLE_AFTER_FAILURES:
        webhook.status = WebhookStatus.DISABLED
        webhook.disabled_at = state.now()
        webhook.disabled_reason = DISABLED_REASON
        for owed in [d for d in state.deliveries.values() if d.webhook_id == webhook.id]:
            del state.deliveries[owed.id]
        return
    if delivery.attempts_made >= MAX_ATTEMPTS:
        del state.deliveries[delivery.id]
        return
    delivery.due_at = state.now() + RETRY_DELAYS[delivery.attempts_made - 1] * time_scale
