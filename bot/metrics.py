"""The bot's Prometheus metrics, served at `GET /metrics` (bot/web.py) in the text format.

One `Metrics` per bot instance, on the `CollectorRegistry` the composition root (bot/app.py)
builds for it — never the process-wide default registry, since one process may run several
bots (the tests do). No other module imports prometheus_client: the edges report through
plain callables handed to them —

* the Slack gateway, each Web API call (`slack_call`);
* the OpenTrain client, each HTTP attempt (`opentrain_call`: bot/opentrain imports nothing
  from bot/, so it gets a plain callable);
* the notifier, each delivered effect (`effect_delivered`: the card update of an ended
  approval ends that outcome's latency);
* the webhook receiver and the agent doors, each answer (`webhook_delivery`, `agent_request`).

What the store and the tracker know is read when scraped: pending approvals by type and the
outbox's depth by kind (one store count each, at most once per STORE_READ_EVERY however often
anyone scrapes), and the feed's leadership and lag.

`/metrics` asks for no credentials, so a label only ever holds a small fixed vocabulary or an
agent's configured name: never a Slack id, an approval id, a URL or a token.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, generate_latest

from bot.clock import Clock
from bot.logs import log_kv
from bot.opentrain.models import ApprovalType
from bot.outbox import Effect, EffectKind
from bot.store import Store, StoreUnavailable
from bot.tracked_approvals import TrackedApproval

log = logging.getLogger(__name__)

# However often /metrics is asked (anyone may ask), the store is counted at most this often.
STORE_READ_EVERY = 5.0
# A card update lands within a second with webhooks, within a poll interval without, and
# within the fallback polling's minutes when the feed is down.
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)

# OpenTrain's API paths, grouped by the resource they name (opentrain-api.md).
OPENTRAIN_ENDPOINTS = frozenset(
    {
        "approvals",
        "updates",
        "contracts",
        "milestones",
        "proposals",
        "jobs",
        "messages",
        "auth",
        "webhooks",
    }
)
SLACK_RESULTS = frozenset({"ok", "ratelimited", "error", "unreachable"})
SLACK_METHOD = re.compile(r"[a-z]+(\.[A-Za-z]+){1,3}")  # `chat.postMessage`, `users.info`
UNKNOWN_AGENT = "unknown"  # a caller without a valid token
ACCEPTED = "accepted"
# Our own refusal codes (bot/agent_http.py, bot/agent_desk.py); anything else is `refused`.
AGENT_REFUSALS = {
    "BAD_REQUEST": "bad_request",
    "PAYLOAD_TOO_LARGE": "bad_request",
    "UNAUTHORIZED": "unauthorized",
    "FORBIDDEN": "forbidden",
    "NOT_FOUND": "not_found",
    "RATE_LIMITED": "rate_limited",
    "CHANNEL_UNAVAILABLE": "channel_unavailable",
    "UNAVAILABLE": "unavailable",
    "INTERNAL_ERROR": "internal_error",
}


class WebhookResult(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # a delivery id seen before: dropped
    BAD_SIGNATURE = "bad_signature"  # no valid signature of the body (malformed or mismatch)
    STALE = "stale"  # signed outside the 5-minute tolerance
    MALFORMED = "malformed"  # too large, or a delivery id past its length
    UNAVAILABLE = "unavailable"  # the store could not dedupe it: 503, OpenTrain retries
    NOT_CONFIGURED = "not_configured"  # no OT_WEBHOOK_SECRET: 404


class FeedState(Protocol):
    """What the tracker (bot/tracker.py) tells of the `/updates` feed."""

    feed_read_at: datetime | None

    @property
    def leading(self) -> bool: ...


# --- labels: small fixed vocabularies --------------------------------------------------------


def opentrain_endpoint(path: str) -> str:
    """The endpoint group of an API path: the last collection it names, so
    `/contracts/c_1/milestones` is `milestones`; ids never become labels."""
    segments = [part for part in path.split("?", 1)[0].split("/") if part]
    collections = [part for part in segments[::2] if part in OPENTRAIN_ENDPOINTS]
    return collections[-1] if collections else "other"


def status_class(status: int | None) -> str:
    """`2xx` … `5xx`; `error` when no HTTP answer came (unreachable, timed out)."""
    if status is None or not 200 <= status < 600:
        return "error"
    return f"{status // 100}xx"


def slack_method(method: str) -> str:
    return method if SLACK_METHOD.fullmatch(method) else "other"


def webhook_signature_result(reason: str) -> WebhookResult:
    """A refused signature (bot/opentrain/webhooks.py: malformed, stale, mismatch)."""
    return WebhookResult.STALE if reason == "stale" else WebhookResult.BAD_SIGNATURE


def agent_result(status: int, code: str, details: Mapping[str, object]) -> str:
    """`accepted`, or the class of an agent's refusal: ours by code, OpenTrain's by status."""
    if status < 400:
        return ACCEPTED
    if details.get("source") == "opentrain":
        return "opentrain_refused" if status < 500 else "opentrain_failed"
    if details.get("reason") == "policy_denied":
        return "policy_denied"
    return AGENT_REFUSALS.get(code, "refused")


def outcome_latency(approval: TrackedApproval | None, now: datetime) -> float | None:
    """Seconds from an approval's outcome in OpenTrain to `now`, when its card update landed;
    None for an approval still pending, or one that had ended before the bot tracked it."""
    if approval is None or not approval.status.is_terminal or approval.resolved_at is None:
        return None
    if approval.resolved_at < approval.adopted_at:
        return None  # handed over after it ended: nothing of that wait was the bot's
    return max(0.0, (now - approval.resolved_at).total_seconds())


# --- the instruments -------------------------------------------------------------------------


class Metrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        store: Store,
        clock: Clock,
        store_read_every: float = STORE_READ_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self._store = store
        self._clock = clock
        self._store_read_every = store_read_every
        self._monotonic = monotonic
        self._store_read_at = -store_read_every
        self._store_lock = asyncio.Lock()
        self._pending = Gauge(
            "cosign_pending_approvals",
            "Approvals the bot tracks that wait for a human in OpenTrain, by approval type.",
            ["type"],
            registry=registry,
        )
        self._outbox = Gauge(
            "cosign_outbox_depth",
            "Outbox effects not delivered yet (Slack messages, agent callbacks), by kind.",
            ["kind"],
            registry=registry,
        )
        self._latency = Histogram(
            "cosign_outcome_latency_seconds",
            "From an approval's outcome in OpenTrain (resolvedAt) to its card's update in Slack.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._slack = Counter(
            "cosign_slack_api_calls",
            "Slack Web API calls by method and result (ok, ratelimited, error, unreachable).",
            ["method", "result"],
            registry=registry,
        )
        self._opentrain = Counter(
            "cosign_opentrain_api_calls",
            "OpenTrain API requests, every attempt, by endpoint group and status class.",
            ["endpoint", "status"],
            registry=registry,
        )
        self._feed_lag = Gauge(
            "cosign_feed_lag_seconds",
            "On the feed leader, seconds since it last read the /updates feed to its end "
            "(or took the lead); 0 on other replicas.",
            registry=registry,
        )
        self._feed_leader = Gauge(
            "cosign_feed_leader",
            "1 while this process leads the /updates feed poll, else 0.",
            registry=registry,
        )
        self._webhooks = Counter(
            "cosign_webhook_deliveries",
            "OpenTrain webhook deliveries received, by result.",
            ["result"],
            registry=registry,
        )
        self._agents = Counter(
            "cosign_agent_requests",
            "Agent requests (HTTP API and MCP tools) by agent and result; callers without a "
            "valid token are agent `unknown`.",
            ["agent", "result"],
            registry=registry,
        )
        for result in WebhookResult:
            self._webhooks.labels(result=result.value)  # every result shown, from 0
        ProcessCollector(registry=registry)

    # --- reported by the edges ---------------------------------------------------------------
    def slack_call(self, method: str, result: str) -> None:
        result = result if result in SLACK_RESULTS else "error"
        self._slack.labels(method=slack_method(method), result=result).inc()

    def opentrain_call(self, path: str, status: int | None) -> None:
        self._opentrain.labels(endpoint=opentrain_endpoint(path), status=status_class(status)).inc()

    def webhook_delivery(self, result: WebhookResult) -> None:
        self._webhooks.labels(result=result.value).inc()

    def agent_request(self, agent: str | None, result: str) -> None:
        self._agents.labels(agent=agent or UNKNOWN_AGENT, result=result).inc()

    async def effect_delivered(self, item: Effect) -> None:
        """The notifier delivered `item`: a card update of an ended approval ends its latency."""
        if item.kind is not EffectKind.UPDATE_CARD:
            return
        try:
            approval = await self._store.get_approval(item.approval_id)
        except StoreUnavailable:
            return  # a lost sample; the delivery itself stands
        seconds = outcome_latency(approval, self._clock.now())
        if seconds is not None:
            self._latency.observe(seconds)

    def watch_feed(self, feed: FeedState) -> None:
        """Read the feed's leadership and lag from `feed` whenever /metrics is scraped."""

        def lag() -> float:
            if not feed.leading or feed.feed_read_at is None:
                return 0.0
            return max(0.0, (self._clock.now() - feed.feed_read_at).total_seconds())

        self._feed_lag.set_function(lag)
        self._feed_leader.set_function(lambda: 1.0 if feed.leading else 0.0)

    # --- scraping ------------------------------------------------------------------------------
    async def scrape(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric, the store's counts refreshed, in the format the `Accept` header asks
        for (Prometheus text by default, or OpenMetrics), and that format's content type."""
        await self._count_store()
        try:
            encode, content_type = choose_encoder(accept)
        except (ValueError, TypeError):  # `version=abc`: anyone may send any header
            encode, content_type = generate_latest, CONTENT_TYPE_PLAIN_0_0_4
        return encode(self.registry), content_type

    async def _count_store(self) -> None:
        async with self._store_lock:  # concurrent scrapes share one count
            if self._monotonic() - self._store_read_at < self._store_read_every:
                return
            self._store_read_at = self._monotonic()
            try:
                pending = await self._store.count_pending_by_type()
                depth = await self._store.count_undone_effects_by_kind()
            except StoreUnavailable as exc:
                # Left out rather than shown stale; /healthz says the store is failing.
                log.warning("metrics: store not counted %s", log_kv(store=exc))
                self._pending.clear()
                self._outbox.clear()
                return
            for approval_type in ApprovalType:
                self._pending.labels(type=approval_type.value).set(pending.get(approval_type, 0))
            for kind in EffectKind:
                self._outbox.labels(kind=kind.value).set(depth.get(kind, 0))
