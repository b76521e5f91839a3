"""Signed outcome callbacks: an agent's `callbackUrl` hears what became of its request.

A CALLBACK effect (bot/outbox.py) is queued in the store write that records the
outcome (`outcome_effects`) or an admin's decision on an over-limit request
(bot/policy_requests.py). The notifier's drain hands it here, in a lane of its own
per host, so a slow or dead receiver never holds up a Slack message.

The body is rendered when delivered, from what the store holds then: the agent
API's approval body (`approval`, `tracked`, `card`) with `approvalId` and `status`
at the top, or a policy request's body with `approvalId` once allowed. Headers:
`X-Cosign-Delivery` (the effect id, the same on every retry: the receiver's
dedupe key) and `X-Cosign-Signature: t=<unix>,v1=<hex HMAC-SHA256(agent token,
"{t}.{raw body}")>`, `t` being the wall clock at sending.

A 2xx is delivered. Anything else — a redirect (never followed), 4xx, 5xx, a
timeout, a connection error, a host that now resolves to a refused address — is
tried again, 30 s later, then doubling up to an hour, until 24 h after the
outcome; then the effect is audited `callback_undeliverable` (with the status
or error, never the token) and done. So is one whose agent has left AGENT_TOKENS.

Exactly once: a callback is sent until a 2xx is recorded; one whose 2xx could not
be recorded (a crash, a store outage) is sent again with the same
`X-Cosign-Delivery`, for the receiver to drop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.agent_models import approval_response, policy_request_response
from bot.callback_urls import (
    INVALID,
    CallbackRefused,
    Destination,
    Resolver,
    system_resolve,
    vet,
)
from bot.clock import Clock
from bot.config import Settings
from bot.cosign import CardPlacement
from bot.deliveries import audit_effect
from bot.logs import log_kv
from bot.outbox import Effect
from bot.store import Store
from bot.store.kinds import POLICY_REQUESTS
from bot.tracked_approvals import TrackedApproval

log = logging.getLogger(__name__)

USER_AGENT = "OpenTrain-Cosign-Callbacks/1"
TIMEOUT_SECONDS = 10.0  # the whole exchange, connection to status line
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
RETRY_FOR = timedelta(hours=24)  # after the outcome
POLICY_SUBJECT = "policy:"
NO_PLACEMENT = CardPlacement(channel_id=None, ts=None)  # the card as the approval records it


def signature(token: str, timestamp: int, body: bytes) -> str:
    """`X-Cosign-Signature`: `t=<unix>,v1=<hex HMAC-SHA256(token, "{t}.{body}")>`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(token.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def next_attempt(failed_before: int, now: datetime, outcome_at: datetime) -> datetime | None:
    """When to try again after a failure (`failed_before` failures preceded it); None: give up.

    30 s, 1 min, 2 min, … at most an hour apart; the last try is 24 h after the outcome.
    """
    deadline = outcome_at + RETRY_FOR
    if now >= deadline:
        return None
    delay = min(FIRST_RETRY * (1 << min(failed_before, 16)), LONGEST_RETRY)
    return min(now + delay, deadline)


@dataclass(frozen=True)
class Target:
    """Where one callback goes, whose token signs it, and what it says."""

    url: str
    agent: str
    body: dict[str, Any]


class Callbacks:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: Settings,
        resolve: Resolver = system_resolve,
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._resolve = resolve

    async def deliver(self, item: Effect) -> None:
        """Send one CALLBACK effect and record what came of it: done, retried or given up."""
        target = await self._target(item)
        if target is None:
            await self._store.complete_effect(item.id, {"skipped": "no callback to make"})
            return
        token = self._settings.agent_tokens.get(target.agent)
        if token is None:
            await self._undeliverable(item, "agent_token_gone")
            return
        allow_private = self._settings.callback_allow_private
        try:
            destination = await vet(target.url, allow_private=allow_private, resolve=self._resolve)
        except CallbackRefused as exc:
            if exc.reason == INVALID:  # it will never become a URL the bot calls
                await self._undeliverable(item, exc.reason)
            else:
                await self._failed(item, exc.reason)
            return
        error = await self._post(item, destination, token.get_secret_value(), target.body)
        if error is not None:
            await self._failed(item, error)
            return
        await self._store.complete_effect(item.id, {"delivered": True})
        log.info("callback delivered %s", log_kv(effect=item.id, host=destination.host))

    async def _post(
        self, item: Effect, destination: Destination, token: str, body: dict[str, Any]
    ) -> str | None:
        """POST `body` to the checked address; None once delivered, else what went wrong."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Host": destination.authority,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Cosign-Delivery": item.id,
            "X-Cosign-Signature": signature(token, int(time.time()), raw),
        }
        try:
            async with (
                asyncio.timeout(TIMEOUT_SECONDS),
                # A client per delivery: no connection made for one host name is reused for
                # another on the same address, and no proxy from the environment applies.
                httpx.AsyncClient(
                    timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
                ) as http,
                http.stream(
                    "POST",
                    destination.pinned_url,
                    content=raw,
                    headers=headers,
                    extensions={"sni_hostname": destination.host},
                ) as response,
            ):
                status = response.status_code  # the body is never read
        except (TimeoutError, httpx.TimeoutException):
            return "timeout"
        except (httpx.HTTPError, OSError) as exc:
            return f"connection: {type(exc).__name__}"
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return f"http {status} (redirects are not followed)"
        return f"http {status}"

    async def _target(self, item: Effect) -> Target | None:
        """What the callback says, read now; None once there is nothing to tell."""
        if item.subject.startswith(POLICY_SUBJECT):
            return await self._policy_target(item.subject.removeprefix(POLICY_SUBJECT))
        tracked = await self._store.get_approval(item.subject)
        if tracked is None or tracked.callback is None:
            return None
        body = approval_body(tracked, self._settings.opentrain_host)
        return Target(tracked.callback.url, tracked.callback.agent, body)

    async def _policy_target(self, request_id: str) -> Target | None:
        """An admin's decision: the body of GET /requests/{id}, with `approvalId` on top."""
        request = await self._store.get_record(POLICY_REQUESTS, request_id)
        if request is None or not request.ask.callback_url:
            return None
        approval = None
        if request.approval_id is not None:
            tracked = await self._store.get_approval(request.approval_id)
            if tracked is not None:
                host = self._settings.opentrain_host
                approval = approval_response(tracked, NO_PLACEMENT, opentrain_host=host)
        view = policy_request_response(request, approval).model_dump(mode="json", by_alias=True)
        body = {"event": "request.decided", "approvalId": request.approval_id, **view}
        return Target(request.ask.callback_url, request.agent, body)

    async def _failed(self, item: Effect, error: str) -> None:
        now = self._clock.now()
        at = next_attempt(item.attempts, now, _outcome_at(item, now))
        if at is None:
            await self._undeliverable(item, error)
            return
        wait = round((at - now).total_seconds())
        host = item.payload.get("host")
        log.warning("callback failed %s", log_kv(effect=item.id, host=host, error=error, in_s=wait))
        await self._store.retry_effect(item.id, at, error)

    async def _undeliverable(self, item: Effect, error: str) -> None:
        host = item.payload.get("host")
        log.warning("callback undeliverable %s", log_kv(effect=item.id, host=host, error=error))
        await audit_effect(
            self._store,
            self._clock,
            item,
            "callback_undeliverable",
            error=error,
            host=host,
            attempts=item.attempts + 1,
        )
        await self._store.complete_effect(item.id, {"error": error})


def approval_body(tracked: TrackedApproval, opentrain_host: str) -> dict[str, Any]:
    """An approval's callback: the agent API's approval body, `approvalId` and `status` on top."""
    view = approval_response(tracked, NO_PLACEMENT, opentrain_host=opentrain_host)
    return {
        "event": "approval.ended",
        "approvalId": tracked.approval_id,
        "status": tracked.status.value,
        **view.model_dump(mode="json", by_alias=True),
    }


def _outcome_at(item: Effect, now: datetime) -> datetime:
    """When the outcome was recorded (retries end 24 h on); an effect without it gives up now."""
    try:
        return datetime.fromisoformat(str(item.payload["outcome_at"]))
    except (KeyError, ValueError):
        return now - RETRY_FOR
