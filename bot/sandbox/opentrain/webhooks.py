"""Webhook delivery (opentrain-api.md §13): a background task that POSTs each owed event,
signed, and feeds the outcome back to `subscriptions.record_attempt`.

Retry times are on the simulator clock (scaled by `time_scale`), so advancing the
clock makes due retries go out at once. Each attempt runs in its own task: a slow
receiver never holds up other deliveries, and nothing here blocks request handling.

Delivery is at-least-once and unordered (§13), and the configuration can make it
so: `webhookDuplicates` posts every attempt twice (same delivery id, as a retry
would); `webhookReorder` sends the events due together newest first, one after
the other, holding a lone due delivery up to `REORDER_HOLD_SECONDS` for company.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp

from bot.sandbox.opentrain import subscriptions, wire
from bot.sandbox.opentrain.model import Delivery
from bot.sandbox.opentrain.state import SimState

ACK_TIMEOUT_SECONDS = 10.0  # any 2xx within 10 s counts as delivered
REORDER_HOLD_SECONDS = 1.0
USER_AGENT = "OpenTrain-Webhooks/1.0"

log = logging.getLogger("bot.sandbox.opentrain.webhooks")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`X-OpenTrain-Signature`: `t=<unix seconds>,v1=hex(HMAC-SHA256(secret, "<t>.<raw body>"))`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookDeliverer:
    def __init__(
        self, state: SimState, *, time_scale: float, ack_timeout: float = ACK_TIMEOUT_SECONDS
    ) -> None:
        self._state = state
        self._time_scale = time_scale
        self._ack_timeout = ack_timeout
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._attempts: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        state.subscribe(self._wake.set)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._ack_timeout)
        )
        self._loop_task = asyncio.create_task(self._run(), name="opentrain-sim-webhooks")

    async def stop(self) -> None:
        tasks = [*self._attempts, *([self._loop_task] if self._loop_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        held_since: float | None = None  # a lone delivery waiting for company (reorder)
        while True:
            self._wake.clear()
            now = self._state.now()
            due: list[Delivery] = []
            waiting: list[Delivery] = []
            for delivery in list(self._state.deliveries.values()):
                if not delivery.in_flight:
                    (due if delivery.due_at <= now else waiting).append(delivery)
            # The simulator clock runs at real speed between jumps, and a jump wakes us.
            timeout = (
                max(0.0, (min(d.due_at for d in waiting) - self._state.now()).total_seconds())
                if waiting
                else None
            )
            if self._state.config.webhook_reorder and due:
                held_since = held_since or time.monotonic()
                hold = held_since + REORDER_HOLD_SECONDS - time.monotonic()
                if len(due) == 1 and hold > 0:
                    timeout = hold if timeout is None else min(timeout, hold)
                    due = []
                else:
                    held_since = None
                    self._spawn(self._in_order(sorted(due, key=lambda d: -d.event_id)))
                    due = []
            for delivery in due:
                self._spawn(self._attempt(delivery))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._attempts.add(task)
        task.add_done_callback(self._attempts.discard)

    async def _in_order(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            delivery.in_flight = True
        for delivery in deliveries:
            await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> None:
        delivery.in_flight = True
        status: int | None = None
        error: str | None = None
        webhook = self._state.webhooks.get(delivery.webhook_id)
        event = self._state.event(delivery.event_id)
        if webhook is not None and event is not None and self._session is not None:
            body = json.dumps(wire.event(event), separators=(",", ":")).encode()
            timestamp = int(self._state.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-OpenTrain-Event": event.type.value,
                "X-OpenTrain-Delivery": delivery.id,
                "X-OpenTrain-Signature": signature(webhook.secret, timestamp, body),
            }
            copies = 2 if self._state.config.webhook_duplicates else 1
            for _ in range(copies):
                try:
                    async with self._session.post(
                        webhook.url, data=body, headers=headers
                    ) as response:
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    error = type(exc).__name__
            log.info(
                "webhook delivery webhook_id=%s delivery_id=%s attempt=%d status=%s error=%s",
                webhook.id,
                delivery.id,
                delivery.attempts_made + 1,
                status,
                error,
            )
        subscriptions.record_attempt(
            self._state, delivery, status_code=status, error=error, time_scale=self._time_scale
        )
        self._wake.set()
