"""bot/metrics.py: the labels' fixed vocabularies (no id, URL or token ever becomes a label),
one registry per bot, the store counted when scraped (at most once per interval, left out
when the store fails) and the outcome latency — over a real SQLite store."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import FixedClock
from bot.metrics import (
    AGENT_REFUSALS,
    Metrics,
    WebhookResult,
    agent_result,
    opentrain_endpoint,
    outcome_latency,
    slack_method,
    status_class,
    webhook_signature_result,
)
from bot.opentrain import ApprovalType
from bot.outbox import EffectKind, effect, outcome_effects
from bot.store import SqliteStore, StoreUnavailable
from bot.tracked_approvals import Requester, TrackedApproval, TrackedStatus

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SLACK_ID = re.compile(r"^[UCWGS][A-Z0-9]{6,}$")


def tracked(approval_id: str = "apr_1", **changes: object) -> TrackedApproval:
    return TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.PROPOSAL_HIRE,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=T0 + timedelta(days=3),
        requester=Requester(kind="slack", id="U0ANA12345"),
        channel_id="C0HIRING",
        next_check_at=T0 + timedelta(days=3),
        adopted_at=T0,
    ).evolve(**changes)


class FlakyStore(SqliteStore):
    """A real SQLite store that counts its scrape-time counts and can be made to fail."""

    counted = 0
    failing = False

    async def count_pending_by_type(self) -> dict[ApprovalType, int]:
        self.counted += 1
        if self.failing:
            raise StoreUnavailable("the store is down")
        return await super().count_pending_by_type()

    async def get_approval(self, approval_id: str) -> TrackedApproval | None:
        if self.failing:
            raise StoreUnavailable("the store is down")
        return await super().get_approval(approval_id)


@dataclass
class Feed:
    leading: bool = False
    feed_read_at: datetime | None = None


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FlakyStore]:
    opened = await FlakyStore.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def monotonic() -> Monotonic:
    return Monotonic()


@pytest.fixture
def metrics(store: FlakyStore, clock: FixedClock, monotonic: Monotonic) -> Metrics:
    return Metrics(CollectorRegistry(), store=store, clock=clock, monotonic=monotonic)


async def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = await metrics.scrape()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if family.name.startswith("cosign_")
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


# --- the labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/approvals/apr_9f2c", "approvals"),
        ("/updates", "updates"),
        ("/contracts", "contracts"),
        ("/contracts/ctr_1", "contracts"),
        ("/contracts/ctr_1/end", "contracts"),
        ("/contracts/ctr_1/milestones", "milestones"),
        ("/milestones/ms_1/fund", "milestones"),
        ("/milestones/ms_1/approve", "milestones"),
        ("/proposals/prop_ada", "proposals"),
        ("/proposals/prop_ada/hire", "proposals"),
        ("/proposals/prop_ada/interview", "proposals"),
        ("/jobs/mine", "jobs"),
        ("/jobs/job_1/proposals", "proposals"),
        ("/messages", "messages"),
        ("/auth/me", "auth"),
        ("/webhooks", "webhooks"),
        ("/webhooks/wh_1", "webhooks"),
        ("/credits", "other"),
        ("/payments/pending", "other"),
        ("/job-drafts/capabilities", "other"),
        # An id that spells a group is still an id.
        ("/proposals/updates/hire", "proposals"),
        ("/updates?cursor=abc", "updates"),
        ("", "other"),
    ],
)
def test_opentrain_paths_are_grouped_by_the_resource_they_name(path: str, group: str) -> None:
    assert opentrain_endpoint(path) == group


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (200, "2xx"),
        (202, "2xx"),
        (304, "3xx"),
        (404, "4xx"),
        (429, "4xx"),
        (503, "5xx"),
        (None, "error"),
        (101, "error"),
        (600, "error"),
    ],
)
def test_status_classes(status: int | None, label: str) -> None:
    assert status_class(status) == label


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("chat.postMessage", "chat.postMessage"),
        ("users.info", "users.info"),
        (
            "admin.conversations.restrictAccess.addGroup",
            "admin.conversations.restrictAccess.addGroup",
        ),
        ("C0HIRING", "other"),
        ("chat.postMessage?channel=C0HIRING", "other"),
        ("https://slack.com/api/chat.update", "other"),
        ("", "other"),
    ],
)
def test_slack_methods_outside_the_method_shape_are_other(method: str, label: str) -> None:
    assert slack_method(method) == label


def test_agent_results_are_a_small_fixed_set() -> None:
    assert agent_result(202, "", {}) == "accepted"
    assert agent_result(200, "", {}) == "accepted"
    assert agent_result(401, "UNAUTHORIZED", {}) == "unauthorized"
    assert agent_result(413, "PAYLOAD_TOO_LARGE", {}) == "bad_request"
    assert agent_result(403, "FORBIDDEN", {"reason": "policy_denied"}) == "policy_denied"
    assert agent_result(403, "FORBIDDEN", {}) == "forbidden"
    # OpenTrain's codes are OpenTrain's vocabulary: never a label of ours.
    assert agent_result(409, "PROPOSAL_NOT_OPEN", {"source": "opentrain"}) == "opentrain_refused"
    assert agent_result(503, "UNAVAILABLE", {"source": "opentrain"}) == "opentrain_failed"
    assert agent_result(418, "SOMETHING_NEW", {}) == "refused"
    assert set(AGENT_REFUSALS.values()) <= {
        "bad_request",
        "unauthorized",
        "forbidden",
        "not_found",
        "rate_limited",
        "channel_unavailable",
        "unavailable",
        "internal_error",
    }


def test_webhook_signature_refusals() -> None:
    assert webhook_signature_result("stale") is WebhookResult.STALE
    assert webhook_signature_result("mismatch") is WebhookResult.BAD_SIGNATURE
    assert webhook_signature_result("malformed") is WebhookResult.BAD_SIGNATURE


async def test_no_id_url_or_token_becomes_a_label(metrics: Metrics) -> None:
    metrics.opentrain_call("/approvals/apr_9f2c", 200)
    metrics.opentrain_call("/contracts/ctr_UABCDEF1/milestones", None)
    metrics.opentrain_call("/proposals/https:%2F%2Fevil.example/hire", 500)
    metrics.slack_call("C0HIRING", "ok")
    metrics.slack_call("chat.postMessage", "channel_not_found")  # an error code, not a result
    metrics.agent_request(None, agent_result(401, "UNAUTHORIZED", {}))
    metrics.agent_request("planner", agent_result(409, "ot_pat_secret", {"source": "opentrain"}))
    found = await samples(metrics)
    values = {label for _, labels in found for _, label in labels}
    assert "apr_9f2c" not in values
    for label in values:
        assert not SLACK_ID.match(label), label
        assert not any(part in label for part in ("http", "/", "ot_pat", "apr_", "ctr_")), label
    assert value(found, "cosign_slack_api_calls_total", method="other", result="ok") == 1
    assert (
        value(found, "cosign_slack_api_calls_total", method="chat.postMessage", result="error") == 1
    )
    assert value(found, "cosign_agent_requests_total", agent="unknown", result="unauthorized") == 1
    assert (
        value(found, "cosign_opentrain_api_calls_total", endpoint="milestones", status="error") == 1
    )


# --- one registry per bot ------------------------------------------------------------------------


async def test_each_bot_counts_on_its_own_registry(
    store: FlakyStore, clock: FixedClock, metrics: Metrics
) -> None:
    other = Metrics(CollectorRegistry(), store=store, clock=clock)
    metrics.webhook_delivery(WebhookResult.ACCEPTED)
    metrics.webhook_delivery(WebhookResult.ACCEPTED)
    other.webhook_delivery(WebhookResult.DUPLICATE)
    mine, theirs = await samples(metrics), await samples(other)
    assert value(mine, "cosign_webhook_deliveries_total", result="accepted") == 2
    assert value(mine, "cosign_webhook_deliveries_total", result="duplicate") == 0
    assert value(theirs, "cosign_webhook_deliveries_total", result="duplicate") == 1
    assert (
        REGISTRY.get_sample_value("cosign_webhook_deliveries_total", {"result": "accepted"}) is None
    )


# --- read when scraped ---------------------------------------------------------------------------


async def test_the_store_is_counted_when_scraped_at_most_once_per_interval(
    store: FlakyStore, metrics: Metrics, monotonic: Monotonic
) -> None:
    await store.add_approval(tracked("apr_1"), [effect("apr_1", EffectKind.POST_CARD, T0)])
    await store.add_approval(tracked("apr_2").evolve(type=ApprovalType.MILESTONE_FUND))
    found = await samples(metrics)
    assert value(found, "cosign_pending_approvals", type="proposal_hire") == 1
    assert value(found, "cosign_pending_approvals", type="milestone_fund") == 1
    assert ("cosign_pending_approvals", (("type", "contract_end"),)) in found  # shown at 0
    assert value(found, "cosign_outbox_depth", kind="post_card") == 1
    assert ("cosign_outbox_depth", (("kind", "callback"),)) in found

    await store.add_approval(tracked("apr_3"))
    again = await samples(metrics)
    assert store.counted == 1 and again == found  # within the interval: not counted again
    monotonic.now += 5.0
    later = await samples(metrics)
    assert store.counted == 2
    assert value(later, "cosign_pending_approvals", type="proposal_hire") == 2


async def test_a_failing_store_leaves_its_numbers_out_and_the_rest_in(
    store: FlakyStore, metrics: Metrics
) -> None:
    store.failing = True
    metrics.webhook_delivery(WebhookResult.STALE)
    found = await samples(metrics)
    assert not any(name in ("cosign_pending_approvals", "cosign_outbox_depth") for name, _ in found)
    assert value(found, "cosign_webhook_deliveries_total", result="stale") == 1


async def test_the_format_follows_the_accept_header(metrics: Metrics) -> None:
    _, plain = await metrics.scrape()
    assert plain.startswith("text/plain; version=0.0.4")
    body, open_metrics = await metrics.scrape("application/openmetrics-text; version=1.0.0")
    assert open_metrics.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    for nonsense in (
        "text/plain; version=abc",
        "application/openmetrics-text; version=x.y",
        ";;=,",
    ):
        _, content_type = await metrics.scrape(nonsense)
        assert content_type.startswith("text/plain"), nonsense


async def test_feed_leadership_and_lag(metrics: Metrics, clock: FixedClock) -> None:
    feed = Feed()
    metrics.watch_feed(feed)
    found = await samples(metrics)
    assert value(found, "cosign_feed_leader") == 0 and value(found, "cosign_feed_lag_seconds") == 0

    feed.leading, feed.feed_read_at = True, clock.now()
    clock.advance(timedelta(seconds=42))
    found = await samples(metrics)
    assert value(found, "cosign_feed_leader") == 1
    assert value(found, "cosign_feed_lag_seconds") == 42

    feed.leading = False  # a follower polls nothing: no lag of its own
    assert value(await samples(metrics), "cosign_feed_lag_seconds") == 0


# --- outcome latency -----------------------------------------------------------------------------


def test_outcome_latency_runs_from_opentrains_outcome_to_now() -> None:
    ended = tracked(status=TrackedStatus.CONFIRMED, resolved_at=T0 + timedelta(seconds=10))
    assert outcome_latency(ended, T0 + timedelta(seconds=12.5)) == 2.5
    assert outcome_latency(ended, T0) == 0.0  # clocks a little apart: never negative
    assert outcome_latency(tracked(), T0) is None  # still pending
    assert outcome_latency(tracked(status=TrackedStatus.ENDED), T0) is None  # no resolvedAt
    assert outcome_latency(None, T0) is None
    # Handed over after it had ended: that wait was not the bot's.
    before = tracked(status=TrackedStatus.DECLINED, resolved_at=T0 - timedelta(hours=1))
    assert outcome_latency(before, T0) is None


async def test_a_delivered_card_update_of_an_ended_approval_is_observed(
    store: FlakyStore, metrics: Metrics, clock: FixedClock
) -> None:
    ended = tracked(status=TrackedStatus.CONFIRMED, resolved_at=T0 + timedelta(seconds=1))
    await store.add_approval(ended)
    clock.advance(timedelta(seconds=3))
    for item in outcome_effects(ended, clock.now()):  # only the card update counts
        await metrics.effect_delivered(item)
    store.failing = True  # a lost sample, never a failed delivery
    await metrics.effect_delivered(effect("apr_1", EffectKind.UPDATE_CARD, T0, key="again"))
    store.failing = False
    found = await samples(metrics)
    assert value(found, "cosign_outcome_latency_seconds_count") == 1
    assert value(found, "cosign_outcome_latency_seconds_sum") == 2
    assert value(found, "cosign_outcome_latency_seconds_bucket", le="2.0") == 1
    assert value(found, "cosign_outcome_latency_seconds_bucket", le="1.0") == 0


# --- the docs ------------------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"
README = DOCS.parent / "README.md"
METRIC_NAME = re.compile(r"\bcosign_[a-z_]+[a-z]\b")


def exposed(metrics: Metrics) -> set[str]:
    """Every metric family the bot exposes, and the sample names each gives."""
    names: set[str] = set()
    suffixes = {"counter": ["", "_total"], "histogram": ["", "_bucket", "_count", "_sum"]}
    for family in metrics.registry.collect():
        names |= {family.name + suffix for suffix in suffixes.get(family.type, [""])}
    return names


def test_the_alerts_the_dashboard_and_the_readme_name_only_exposed_metrics(
    metrics: Metrics,
) -> None:
    known = exposed(metrics)
    alerts = yaml.safe_load((DOCS / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    assert {rule["alert"] for group in alerts["groups"] for rule in group["rules"]} >= {
        "CosignOutboxBackingUp",
        "CosignFeedLagging",
        "CosignNoFeedLeader",
        "CosignSlackRateLimited",
        "CosignOpenTrainFailing",
        "CosignWebhookSignatureFailures",
    }
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    expressions += [target["expr"] for panel in panels for target in panel.get("targets", [])]
    readme = README.read_text().split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    named = {name for text in [*expressions, readme] for name in METRIC_NAME.findall(text)}
    assert named and named <= known, named - known
    # and the README's Metrics section lists every family
    for family in (
        "cosign_pending_approvals",
        "cosign_outbox_depth",
        "cosign_outcome_latency_seconds",
        "cosign_slack_api_calls_total",
        "cosign_opentrain_api_calls_total",
        "cosign_feed_lag_seconds",
        "cosign_feed_leader",
        "cosign_webhook_deliveries_total",
        "cosign_agent_requests_total",
    ):
        assert f"`{family}`" in readme, family
