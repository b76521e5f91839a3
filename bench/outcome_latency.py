"""Benchmark 3 — outcome latency: a human confirms in OpenTrain; how soon does Slack show it?

Per mode, a fresh deployment of real processes over loopback: the OpenTrain simulator and the
Slack simulator as subprocesses, the bot as `python -m bot serve` (SQLite, the default
`OT_POLL_INTERVAL_SECONDS=10` unless `--poll-interval`). This process only drives and watches.

* `webhook`: before the bot starts, a webhook subscription for `approval.confirmed` is created on
  the simulator pointing at the bot's `/opentrain/webhook`, and its `whsec_…` secret goes into the
  bot's `OT_WEBHOOK_SECRET` (the secret exists only once the subscription does: start order).
* `polling`: no subscription; the bot learns outcomes from its `/updates` feed poll alone.

Setup: `--samples` hire approvals requested from OpenTrain directly (as an agent would) and
tracked in Slack with `/opentrain track <id>` through the Slack simulator; every card posted.

Measurement, one approval at a time: `POST /_sim/approvals/{id}/confirm` on the OpenTrain
simulator starts the clock; the Slack simulator's change feed (`GET /_sim/events?after=`, a long
poll) stops it at the card's `chat.update` and at the thread reply. Before each confirm the
script waits for Slack's chat.update pacing window to refill (so one outcome never waits on the
previous one's rate limit) plus a random delay — up to one poll interval in `polling` mode, so
confirms land at every phase of the poll schedule.

`python -m bench.outcome_latency [--samples 50] [--modes webhook polling] [--poll-interval 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    HOST,
    OT_TOKEN,
    Fleet,
    Proc,
    bot_env,
    check,
    fleet,
    free_port,
    load_average,
    progress,
    run_in_scratch,
    summarize,
    verdict,
    wait_until,
)
from bot.cards.ids import APPROVAL_EVENT_TYPE, OUTCOME_EVENT_TYPE
from bot.pacing import HEADROOM, METHOD_TIERS, PER_MINUTE_BY_TIER

CHANNEL = "C0HIRING"
USER = "U0ANA"
API = "/api/public/v1"
MODES = ("webhook", "polling")
WEBHOOK_TARGET_P99_MS = 1000.0
POLLING_SLACK_MS = 1000.0  # polling-only target: p99 ≤ poll interval + this
# One card update's share of Slack's chat.update limit (Tier 3), as the bot paces it.
UPDATE_SPACING_S = 60 / (PER_MINUTE_BY_TIER[METHOD_TIERS["chat.update"]] * HEADROOM)
TRACK_CONCURRENCY = 5
CREDITS_CENTS = 100_000_000  # enough for every hire this benchmark confirms


# --- watching Slack ------------------------------------------------------------------------


class SlackChanges:
    """The Slack simulator's change feed, consumed in order (`/_sim/events?after=`)."""

    def __init__(self, http: httpx.AsyncClient, origin: str) -> None:
        self._http = http
        self._origin = origin
        self.seq = 0

    async def next(self, wait: float) -> list[dict[str, Any]]:
        """Changes after the last seen, waiting up to `wait` seconds for the first one."""
        answer = await self._http.get(
            f"{self._origin}/_sim/events",
            params={"after": self.seq, "timeout": max(wait, 0.0)},
            timeout=wait + 10,
        )
        body = answer.raise_for_status().json()
        self.seq = int(body["seq"])
        return list(body["changes"])

    async def quiet(self, seconds: float) -> None:
        """Until nothing changed in Slack for `seconds` (the bot's earlier work has landed)."""
        while await self.next(seconds):
            pass


@dataclass
class Outcome:
    """When the two Slack writes of one outcome were seen, in ms after the confirm."""

    approval_id: str
    card_ms: float | None = None
    reply_ms: float | None = None

    @property
    def both_ms(self) -> float | None:
        if self.card_ms is None or self.reply_ms is None:
            return None
        return max(self.card_ms, self.reply_ms)


def match_changes(outcome: Outcome, changes: list[dict[str, Any]], card_ts: str, ms: float) -> None:
    """Record the first card update and the first thread reply of `card_ts` among `changes`."""
    for change in changes:
        if change.get("channel") != CHANNEL:
            continue
        if change["kind"] == "message_changed" and change.get("ts") == card_ts:
            outcome.card_ms = outcome.card_ms if outcome.card_ms is not None else ms
        if change["kind"] == "message" and change.get("thread_ts") == card_ts:
            outcome.reply_ms = outcome.reply_ms if outcome.reply_ms is not None else ms


# --- the deployment ------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    opentrain: Proc
    slack: Proc
    bot: Proc


async def subscribe(http: httpx.AsyncClient, opentrain: Proc, url: str) -> str:
    """A webhook subscription for outcomes; returns its secret (shown only now)."""
    answer = await http.post(
        f"{opentrain.url}{API}/webhooks",
        headers={"Authorization": f"Bearer {OT_TOKEN}"},
        json={"url": url, "eventTypes": ["approval.confirmed"]},
    )
    return str(answer.raise_for_status().json()["secret"])


async def deploy(
    mode: str, args: argparse.Namespace, procs: Fleet, http: httpx.AsyncClient
) -> Deployment:
    opentrain = await procs.opentrain_sim(name=f"opentrain-sim-{mode}")
    account = {"availableCents": CREDITS_CENTS}
    (await http.patch(f"{opentrain.url}/_sim/account", json=account)).raise_for_status()
    port = free_port()
    settings: dict[str, object] = {"ot_poll_interval_seconds": args.poll_interval}
    if mode == "webhook":
        webhook_url = f"http://{HOST}:{port}/opentrain/webhook"
        settings["ot_webhook_secret"] = await subscribe(http, opentrain, webhook_url)
    slack = await procs.slack_sim(
        name=f"slack-sim-{mode}", bot_url=f"http://{HOST}:{port}/slack/events"
    )
    env = bot_env(
        opentrain_url=opentrain.url,
        slack_url=slack.url,
        port=port,
        database_url=f"sqlite:///{procs.log_dir / f'bot-{mode}.db'}",
        default_channel=CHANNEL,
        **settings,
    )
    return Deployment(opentrain, slack, await procs.bot(env, name=f"bot-{mode}"))


async def request_hires(http: httpx.AsyncClient, opentrain: Proc, count: int) -> list[str]:
    """`count` hire approvals on fresh proposals, asked for as an agent would."""
    approvals = []
    for index in range(count):
        applicant = {"firstName": "Bench", "lastName": f"Labeler{index}", "bidAmountUsd": 100}
        added = await http.post(f"{opentrain.url}/_sim/proposals", json=applicant)
        proposal_id = added.raise_for_status().json()["proposal"]["id"]
        milestone = {"name": "Batch 1", "description": "Batch 1: 1k boxes", "amount": 100}
        hired = await http.post(
            f"{opentrain.url}{API}/proposals/{proposal_id}/hire",
            headers={"Authorization": f"Bearer {OT_TOKEN}"},
            json={"milestone": milestone},
        )
        approvals.append(str(hired.raise_for_status().json()["approval"]["id"]))
    return approvals


def cards_by_approval(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The bot's approval cards in CHANNEL, by approval id."""
    found = {}
    for channel in state["channels"]:
        if channel["id"] != CHANNEL:
            continue
        for message in channel["messages"]:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") == APPROVAL_EVENT_TYPE:
                found[str(metadata["event_payload"]["approvalId"])] = message
    return found


async def track_all(http: httpx.AsyncClient, slack: Proc, approvals: list[str]) -> dict[str, str]:
    """`/opentrain track <id>` for each approval; returns each card's ts once all are posted."""
    limit = asyncio.Semaphore(TRACK_CONCURRENCY)

    async def track(approval_id: str) -> None:
        command = {"command": "/opentrain", "text": f"track {approval_id}", "user_id": USER}
        async with limit:
            answer = await http.post(
                f"{slack.url}/_sim/command", json={**command, "channel_id": CHANNEL}
            )
            delivery = answer.raise_for_status().json()
            if delivery["status"] != 200:
                raise RuntimeError(f"track {approval_id} answered {delivery}")

    await asyncio.gather(*(track(a) for a in approvals))

    async def posted() -> dict[str, str] | None:
        cards = cards_by_approval((await http.get(f"{slack.url}/_sim/state")).json())
        if not set(approvals) <= set(cards):
            return None
        return {a: str(cards[a]["ts"]) for a in approvals}

    return await wait_until(posted, timeout=len(approvals) * 3 + 60, interval=0.5, message="cards")


# --- measuring --------------------------------------------------------------------------------


async def measure_mode(
    mode: str, args: argparse.Namespace, procs: Fleet, http: httpx.AsyncClient
) -> dict[str, Any]:
    deployment = await deploy(mode, args, procs, http)
    approvals = await request_hires(http, deployment.opentrain, args.samples)
    progress(f"{mode}: tracking {len(approvals)} approvals in Slack")
    card_ts = await track_all(http, deployment.slack, approvals)
    changes = SlackChanges(http, deployment.slack.url)
    await changes.quiet(2.0)
    rng = random.Random(args.seed)
    spread = args.poll_interval if mode == "polling" else 1.0
    timeout = args.poll_interval * 3 + 10
    outcomes = []
    progress(f"{mode}: confirming {len(approvals)} approvals one at a time")
    for approval_id in approvals:
        await asyncio.sleep(UPDATE_SPACING_S + rng.uniform(0, spread))
        await changes.next(0)  # skip anything that changed meanwhile
        outcomes.append(
            await confirm_and_watch(
                http, deployment.opentrain.url, changes, approval_id, card_ts[approval_id], timeout
            )
        )
    await changes.quiet(args.poll_interval + 2)  # a duplicate would show up now
    verified = verify(
        (await http.get(f"{deployment.slack.url}/_sim/state")).json(), approvals, card_ts
    )
    await deployment.bot.terminate()
    return report(mode, outcomes, verified)


def verify(state: dict[str, Any], approvals: list[str], card_ts: dict[str, str]) -> dict[str, int]:
    """Every card lost its confirm button and has exactly one outcome reply."""
    cards = cards_by_approval(state)
    resolved = duplicates = 0
    for approval_id in approvals:
        card = cards.get(approval_id)
        if card is None or str(card["ts"]) != card_ts[approval_id]:
            continue
        replies = [
            reply
            for reply in card["replies"]
            if (reply.get("metadata") or {}).get("event_type") == OUTCOME_EVENT_TYPE
        ]
        duplicates += max(0, len(replies) - 1)
        if replies and "Review & confirm" not in str(card["blocks"]):
            resolved += 1
    return {"cards_resolved": resolved, "duplicate_replies": duplicates}


async def confirm_and_watch(
    http: httpx.AsyncClient,
    opentrain_url: str,
    changes: SlackChanges,
    approval_id: str,
    card_ts: str,
    timeout: float,
) -> Outcome:
    """Confirm one approval as its human would, and time its card update and thread reply."""
    outcome = Outcome(approval_id)
    started = time.perf_counter()
    confirm = f"{opentrain_url}/_sim/approvals/{approval_id}/confirm"
    (await http.post(confirm, json={})).raise_for_status()
    while outcome.both_ms is None:
        left = started + timeout - time.perf_counter()
        if left <= 0:
            break
        seen = await changes.next(left)
        match_changes(outcome, seen, card_ts, (time.perf_counter() - started) * 1000)
    return outcome


def report(mode: str, outcomes: list[Outcome], verified: dict[str, int]) -> dict[str, Any]:
    def stats(values: list[float | None]) -> dict[str, float | int] | None:
        seen = [v for v in values if v is not None]
        return summarize(seen) if seen else None

    return {
        "mode": mode,
        "samples": len(outcomes),
        "missed": sum(1 for o in outcomes if o.both_ms is None),
        "card_update_ms": stats([o.card_ms for o in outcomes]),
        "thread_reply_ms": stats([o.reply_ms for o in outcomes]),
        "both_ms": stats([o.both_ms for o in outcomes]),
        **verified,
    }


def p99(result: dict[str, Any] | None) -> float:
    """The p99 of card update and reply both landed (infinite when nothing was measured)."""
    if result is None or result["both_ms"] is None or result["missed"]:
        return float("inf")
    return float(result["both_ms"]["p99"])


async def run(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    load_before = load_average()
    results: dict[str, dict[str, Any]] = {}
    with fleet(log_dir) as procs:
        async with httpx.AsyncClient(timeout=30) as http:
            for mode in args.modes:
                results[mode] = await measure_mode(mode, args, procs, http)
                procs.stop_all()
    polling_limit = args.poll_interval * 1000 + POLLING_SLACK_MS
    targets = []
    if "webhook" in results:
        targets.append(
            check(
                "webhook: p99 card + reply (ms)",
                p99(results["webhook"]),
                "<",
                WEBHOOK_TARGET_P99_MS,
            )
        )
    if "polling" in results:
        targets.append(
            check(
                "polling only: p99 card + reply (ms)", p99(results["polling"]), "<=", polling_limit
            )
        )
    for mode, result in results.items():
        targets.append(
            check(f"{mode}: cards resolved", result["cards_resolved"], ">=", args.samples)
        )
        targets.append(check(f"{mode}: duplicate replies", result["duplicate_replies"], "<=", 0))
    return {
        "benchmark": "outcome_latency",
        "setup": {
            "processes": "per mode: OpenTrain sim, Slack sim and bot (`python -m bot serve`, "
            "SQLite) are subprocesses; this process requests, tracks, confirms and watches",
            "samples_per_mode": args.samples,
            "ot_poll_interval_seconds": args.poll_interval,
            "measured": "POST /_sim/approvals/{id}/confirm sent → card chat.update and thread "
            "reply seen in the Slack simulator's change feed",
            "spacing": f"{UPDATE_SPACING_S:.2f} s (chat.update pacing) + uniform random "
            "(0–poll interval when polling, 0–1 s with webhooks) between confirms",
        },
        "results": results.get("webhook"),
        "baseline": results.get("polling"),
        **verdict(targets, load_before),
    }


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.outcome_latency", description=__doc__)
    parser.add_argument("--samples", type=int, default=50, help="approvals per mode")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="OT_POLL_INTERVAL_SECONDS"
    )
    parser.add_argument("--seed", type=int, default=8, help="random delays between confirms")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep process logs (path on stderr)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    return run_in_scratch("bench-outcome-", run, args)


if __name__ == "__main__":
    sys.exit(main())
