"""The benchmarks stay importable and their pure helpers right (the benchmarks themselves are
not part of the suite: see bench/README.md)."""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier

from bench import (
    ack_latency,
    common,
    failover,
    idle_requests,
    mcp_wait,
    outcome_latency,
    waiters,
)
from bot.cards.ids import APPROVAL_EVENT_TYPE, OUTCOME_EVENT_TYPE, ActionId
from bot.sandbox.slack.transport import sign


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert common.percentile(values, 50) == pytest.approx(50.5)
    assert common.percentile(values, 99) == pytest.approx(99.01)
    assert common.percentile(values, 0) == 1.0
    assert common.percentile(values, 100) == 100.0
    assert common.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        common.percentile([], 50)


def test_summarize_and_check() -> None:
    summary = common.summarize([10.0, 20.0, 30.0, 40.0])
    assert summary == {
        "n": 4,
        "min": 10.0,
        "p50": 25.0,
        "p90": 37.0,
        "p99": 39.7,
        "max": 40.0,
        "mean": 25.0,
    }
    assert common.check("p99 (ms)", 39.7, "<", 50)["pass"] is True
    assert common.check("p99 (ms)", 50, "<", 50)["pass"] is False
    assert common.check("ratio", 1000, ">=", 1000) == {
        "target": "ratio >= 1000",
        "measured": 1000,
        "pass": True,
    }


def test_slack_headers_pass_slacks_own_verification() -> None:
    body = ack_latency.command_body("pending", response_url="http://x/r", trigger_id="t.1")
    headers = common.slack_headers(common.SIGNING_SECRET, body, ack_latency.FORM)
    timestamp = headers["X-Slack-Request-Timestamp"]
    assert headers["X-Slack-Signature"] == sign(common.SIGNING_SECRET, timestamp, body)
    verifier = SignatureVerifier(common.SIGNING_SECRET)
    assert verifier.is_valid(body, timestamp, headers["X-Slack-Signature"])
    assert not verifier.is_valid(body + b"x", timestamp, headers["X-Slack-Signature"])


def test_ack_requests_are_what_the_bot_expects() -> None:
    target = ack_latency.Target("apr_1", "1700000000.000100", "http://slack/_sim/response/x")
    assert ack_latency.mix(7) == [*ack_latency.KINDS, *ack_latency.KINDS[:2]]
    track = parse_qs(ack_latency.request_body("track", 0, target).decode())
    assert track["command"] == ["/opentrain"]
    assert track["text"] == ["track apr_1"]
    assert track["team_id"] == [common.SLACK_TEAM_ID]
    click = parse_qs(ack_latency.request_body("click:request-again", 1, target).decode())
    payload = json.loads(click["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["actions"][0]["action_id"] == ActionId.REQUEST_AGAIN.value
    assert payload["actions"][0]["value"] == "apr_1"
    assert payload["container"]["message_ts"] == target.card_ts
    with pytest.raises(ValueError):
        ack_latency.request_body("nope", 2, target)


def test_ack_report_counts_statuses_and_slow_answers() -> None:
    samples = [
        ack_latency.Sample("fund", 200, 12.0),
        ack_latency.Sample("fund", 200, 3500.0),
        ack_latency.Sample("pending", None, 60_000.0, "TimeoutError"),
    ]
    report = ack_latency.report(samples)
    assert report["statuses"] == {"200": 2, "None": 1}
    assert report["errors"] == {"TimeoutError": 1}
    assert report["over_slack_3s"] == 2
    assert report["latency_ms"]["n"] == 2
    assert set(report["by_kind_ms"]) == {"fund"}


def test_idle_arithmetic() -> None:
    assert idle_requests.per_hour(6, 60) == 360
    assert idle_requests.baseline_per_hour(10_000) == 600_000
    # 72 h lifetime: 7 200 approvals need 100 post-expiry reads an hour.
    assert idle_requests.expiry_reads_per_hour(7200, 1.0) == pytest.approx(100)
    kinds = idle_requests.categorize(
        [
            {"method": "GET", "path": "/updates"},
            {"method": "GET", "path": "/approvals/apr_1"},
            {"method": "POST", "path": "/milestones/ms_1/fund"},
        ]
    )
    assert kinds == {
        "total": 3,
        "feed_polls": 1,
        "approval_reads": 1,
        "other POST /milestones/ms_1/fund": 1,
    }
    assert idle_requests.categorize([]) == {"total": 0, "feed_polls": 0, "approval_reads": 0}


def test_outcome_matching_takes_the_first_update_and_reply_of_the_card() -> None:
    outcome = outcome_latency.Outcome("apr_1")
    card = "1.000100"
    other = {"kind": "message_changed", "channel": outcome_latency.CHANNEL, "ts": "2.0"}
    update = {"kind": "message_changed", "channel": outcome_latency.CHANNEL, "ts": card}
    outcome_latency.match_changes(outcome, [other, update], card, 40.0)
    assert (outcome.card_ms, outcome.reply_ms, outcome.both_ms) == (40.0, None, None)
    reply = {"kind": "message", "channel": outcome_latency.CHANNEL, "ts": "3.0", "thread_ts": card}
    outcome_latency.match_changes(outcome, [update, reply], card, 55.0)
    assert (outcome.card_ms, outcome.reply_ms, outcome.both_ms) == (40.0, 55.0, 55.0)


def test_outcome_verification_and_p99() -> None:
    def card(approval_id: str, ts: str, blocks: str, replies: int) -> dict[str, object]:
        return {
            "ts": ts,
            "blocks": blocks,
            "metadata": {
                "event_type": APPROVAL_EVENT_TYPE,
                "event_payload": {"approvalId": approval_id},
            },
            "replies": [{"metadata": {"event_type": OUTCOME_EVENT_TYPE}}] * replies,
        }

    messages = [card("a", "1.0", "Confirmed", 1), card("b", "2.0", "Review & confirm", 2)]
    state = {"channels": [{"id": outcome_latency.CHANNEL, "messages": messages}]}
    verified = outcome_latency.verify(state, ["a", "b"], {"a": "1.0", "b": "2.0"})
    assert verified == {"cards_resolved": 1, "duplicate_replies": 1}
    report = outcome_latency.report("webhook", [outcome_latency.Outcome("a", 10.0, 20.0)], verified)
    assert outcome_latency.p99(report) == 20.0
    missed = outcome_latency.report("polling", [outcome_latency.Outcome("a", 10.0)], verified)
    assert math.isinf(outcome_latency.p99(missed))


async def test_wait_until_returns_the_value_or_times_out() -> None:
    started = time.monotonic()
    calls = iter([None, None, "ready"])
    assert await common.wait_until(lambda: next(calls), timeout=5, interval=0.001) == "ready"
    with pytest.raises(TimeoutError):
        await common.wait_until(lambda: False, timeout=0.01, interval=0.001)
    assert time.monotonic() - started < 5


def test_waiters_arithmetic() -> None:
    confirmed_at = 100.0
    answered = [100.05, 100.01, 100.2, 100.03]
    assert waiters.latency_ms(answered, confirmed_at) == {
        "n": 4,
        "min": 10.0,
        "p50": 40.0,
        "p95": 177.5,
        "max": 200.0,
    }
    kinds = waiters.opentrain_requests(
        [
            {"method": "GET", "path": "/updates"},
            {"method": "GET", "path": "/approvals/apr_1"},
            {"method": "GET", "path": "/approvals/apr_2"},
            {"method": "POST", "path": "/milestones/ms_1/fund"},
        ],
        "apr_1",
    )
    assert kinds == {"approval_reads": 1, "feed_polls": 1, "other": 2}
    assert waiters.opentrain_requests([], "apr_1") == {
        "approval_reads": 0,
        "feed_polls": 0,
        "other": 0,
    }
    args = waiters.arguments(["--hold", "2", "--seed", "1"])
    assert 2.0 <= waiters.held_for(args) <= 2.0 + waiters.WATCH_INTERVAL_SECONDS
    assert waiters.TARGET_REPLICA_MS > waiters.TARGET_LEADER_MS


def test_mcp_wait_arguments_and_targets() -> None:
    args = mcp_wait.arguments(["--clients", "3", "--rounds", "2"])
    assert (args.clients, args.rounds) == (3, 2)
    assert mcp_wait.TIMEOUT_SECONDS > waiters.WAIT_SECONDS  # the timeout never decides a round
    assert mcp_wait.PHASES == ("leader", "replica")


def test_the_failover_baseline_is_the_per_poll_lease() -> None:
    assert failover.old_timing(10) == (timedelta(seconds=10), timedelta(seconds=30))
    assert failover.old_timing(0.2)[1] == timedelta(seconds=2)
    args = failover.parse_args([])
    assert (args.rounds, args.baseline_rounds, args.poll_interval) == (5, 3, 10.0)
    assert failover.parse_args(["serve-baseline"]).mode == "serve-baseline"
