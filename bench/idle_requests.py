"""Benchmark 2 — OpenTrain requests per hour while the bot waits on pending approvals.

For each N (default 10, 1 000 and 10 000) pending tracked approvals:

1. Seed: N pending approvals straight into the OpenTrain simulator's state (no events, as if
   created long ago) and the matching `TrackedApproval` records into a fresh SQLite store,
   built with the tracker's own `adopt()` — no Slack round trips. `--expiring` of them
   (default 100, or all when N is smaller) expire in one hour, the rest in 72 h.
2. Start the bot (`python -m bot serve`, subprocess) following the simulator's clock, with the
   default `OT_POLL_INTERVAL_SECONDS=10`; wait for its first two feed polls.
3. Idle window: `--window` seconds (default 60) of wall time; count every API request the
   simulator received (`GET /_sim/requests`) and extrapolate to one hour.
4. Expiry: move the simulator's clock past the short expiry and count the reads the bot makes
   until each expiring approval has been read (the read that flips it to `expired`), plus two
   more feed polls for stragglers. In steady state every approval needs that one read at most
   once in its 72 h life, so it adds N × (reads per expired approval) / 72 per hour.

Processes: the OpenTrain simulator runs in this process (so 10 000 approvals can be put into its
state directly) on a loopback port; the Slack simulator and the bot are subprocesses.

Baseline, computed exactly: a naive poller reads `GET /approvals/{id}` for every pending approval
every 60 s, i.e. N × 60 requests per hour.

`python -m bench.idle_requests [--counts 10 1000 10000] [--window 60] [--poll-interval 10]`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
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
    load_average,
    progress,
    run_in_scratch,
    verdict,
    wait_until,
)
from bot.opentrain import Approval
from bot.sandbox.opentrain import OpenTrainSim, wire
from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.sandbox.opentrain.model import Approval as SimApproval
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.vocabulary import PENDING, ApprovalType
from bot.store.sqlite import SqliteStore
from bot.tracked_approvals import Requester, adopt

BASELINE_POLLS_PER_HOUR = 60  # the naive poller reads each approval once a minute
SHORT_TTL = timedelta(hours=1)  # the expiring sample; the rest keep OpenTrain's 72 h
APPROVAL_LIFETIME_HOURS = APPROVAL_TTL.total_seconds() / 3600
TARGET_RATIO = 1000
TARGET_AT = 10_000  # the ratio target is set for 10 000 pending approvals
FEED_POLLS_TO_SETTLE = 2


# --- arithmetic (pure) ------------------------------------------------------------------------


def per_hour(count: int, window_seconds: float) -> float:
    """Requests counted over a window, extrapolated to one hour."""
    return count * 3600 / window_seconds


def baseline_per_hour(pending: int) -> int:
    """The naive poller: every pending approval read once a minute."""
    return pending * BASELINE_POLLS_PER_HOUR


def expiry_reads_per_hour(pending: int, reads_per_expired: float) -> float:
    """Post-expiry reads in steady state: each approval lives at most 72 h and needs them once."""
    return pending * reads_per_expired / APPROVAL_LIFETIME_HOURS


def categorize(requests: list[dict[str, Any]]) -> dict[str, int]:
    """Requests by kind: the feed (`/updates`), reads of one approval, anything else."""
    kinds: Counter[str] = Counter()
    for entry in requests:
        path = str(entry["path"])
        if path == "/updates":
            kinds["feed_polls"] += 1
        elif entry["method"] == "GET" and path.startswith("/approvals/"):
            kinds["approval_reads"] += 1
        else:
            kinds[f"other {entry['method']} {path}"] += 1
    return {"total": len(requests), "feed_polls": 0, "approval_reads": 0, **kinds}


# --- seeding ---------------------------------------------------------------------------------


def seed_opentrain(state: SimState, pending: int, expiring: int) -> list[SimApproval]:
    """`pending` milestone-fund approvals on the demo account; the first `expiring` short-lived."""
    account = state.account()
    token = state.token(OT_TOKEN)
    assert token is not None
    now = state.now()
    created = []
    for index in range(pending):
        approval_id = f"apr_bench_{index:05d}"
        approval = SimApproval(
            id=approval_id,
            account_id=account.id,
            token_id=token.id,
            type=ApprovalType.MILESTONE_FUND,
            status=PENDING,
            job_id="job_dashcam",
            url=state.link(f"/approvals/{approval_id}"),
            created_at=now,
            expires_at=now + (SHORT_TTL if index < expiring else APPROVAL_TTL),
            contract_id="ctr_linus",
            milestone_id=f"ms_bench_{index:05d}",
        )
        state.approvals[approval_id] = approval
        created.append(approval)
    return created


async def seed_store(path: Path, approvals: list[SimApproval], now: datetime) -> None:
    """The bot's records of those approvals, exactly as its tracker adopts them (no card)."""
    store = await SqliteStore.open(str(path))
    try:
        requester = Requester(kind="slack", id="U0ANA")
        for found in approvals:
            approval = Approval.model_validate(wire.approval(found))
            await store.add_approval(adopt(approval, requester=requester, now=now))
    finally:
        await store.close()


# --- one N ---------------------------------------------------------------------------------------


class SimRequests:
    """The OpenTrain simulator's request log, read over HTTP like any other client would."""

    def __init__(self, http: httpx.AsyncClient, origin: str) -> None:
        self._http = http
        self._origin = origin

    async def since(self, index: int) -> tuple[list[dict[str, Any]], int]:
        answer = await self._http.get(f"{self._origin}/_sim/requests", params={"since": index})
        body = answer.raise_for_status().json()
        return list(body["requests"]), int(body["next"])

    async def mark(self) -> int:
        """The index the next request will get (asks for none of the entries)."""
        return (await self.since(1_000_000_000))[1]

    async def wait_feed_polls(self, after: int, polls: int, timeout: float) -> None:
        async def enough() -> bool:
            requests, _ = await self.since(after)
            return categorize(requests)["feed_polls"] >= polls

        await wait_until(enough, timeout=timeout, interval=0.2, message=f"{polls} feed polls")


async def measure_one(
    pending: int, args: argparse.Namespace, procs: Fleet, slack: Proc, http: httpx.AsyncClient
) -> dict[str, Any]:
    expiring = min(pending, args.expiring)
    sim = OpenTrainSim(seed="demo")
    origin = await sim.start(HOST, 0)
    try:
        started = time.monotonic()
        approvals = seed_opentrain(sim.state, pending, expiring)
        database = procs.log_dir / f"bot-{pending}.db"
        await seed_store(database, approvals, sim.state.now())
        seeding_s = time.monotonic() - started
        progress(f"N={pending}: seeded in {seeding_s:.1f} s; starting the bot")
        env = bot_env(
            opentrain_url=origin,
            slack_url=slack.url,
            database_url=f"sqlite:///{database}",
            sandbox_clock_url=f"{origin}/_sim/clock",
            ot_poll_interval_seconds=args.poll_interval,
        )
        bot = await procs.bot(env, name=f"bot-{pending}")
        log = SimRequests(http, origin)
        # A bot starting on a big store first looks at every pending approval once (the
        # reminder and escalation watches): allow a second per thousand approvals for it.
        start_up = pending / 1000
        await log.wait_feed_polls(0, 2, timeout=args.poll_interval * 3 + 30 + start_up)

        # The idle window.
        start = await log.mark()
        window_started = time.monotonic()
        await asyncio.sleep(args.window)
        window_s = time.monotonic() - window_started
        idle_requests, expiry_start = await log.since(start)
        idle = categorize(idle_requests)

        # Expiry of the short-lived sample.
        progress(f"N={pending}: idle window done; expiring {expiring}")
        expiry_started = time.monotonic()
        sim.state.advance((SHORT_TTL + timedelta(seconds=10)).total_seconds())
        expiring_ids = {a.id for a in approvals[:expiring]}

        async def all_read() -> bool:
            requests, _ = await log.since(expiry_start)
            read = {str(r["path"]).rsplit("/", 1)[-1] for r in requests if r["status"] == 200}
            return expiring_ids <= read

        await wait_until(all_read, timeout=300, interval=0.2, message="post-expiry reads")
        reads_done_s = time.monotonic() - expiry_started
        settle_from = await log.mark()
        await log.wait_feed_polls(settle_from, FEED_POLLS_TO_SETTLE, args.poll_interval * 4)
        expiry_requests, _ = await log.since(expiry_start)
        expiry = categorize(expiry_requests)
        still_pending = sum(1 for a in approvals[:expiring] if a.status == PENDING)
        await bot.terminate()
    finally:
        await sim.stop()
    reads_per_expired = expiry["approval_reads"] / expiring if expiring else 0.0
    idle_hour = per_hour(idle["total"], window_s)
    expiry_hour = expiry_reads_per_hour(pending, reads_per_expired)
    baseline = baseline_per_hour(pending)
    return {
        "pending": pending,
        "seeding_s": round(seeding_s, 1),
        "idle_window_s": round(window_s, 1),
        "idle_window_requests": idle,
        "idle_requests_per_hour": round(idle_hour, 1),
        "expiry": {
            "expired_sample": expiring,
            "requests": expiry,
            "reads_per_expired_approval": round(reads_per_expired, 3),
            "all_read_within_s": round(reads_done_s, 1),
            "left_pending_in_opentrain": still_pending,
            "steady_state_reads_per_hour": round(expiry_hour, 1),
        },
        "total_requests_per_hour": round(idle_hour + expiry_hour, 1),
        "baseline_requests_per_hour": baseline,
        "ratio_to_baseline_idle_only": round(baseline / idle_hour, 1) if idle_hour else None,
        "ratio_to_baseline_with_expiry_reads": round(baseline / (idle_hour + expiry_hour), 1),
    }


async def run(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    load_before = load_average()
    runs = []
    with fleet(log_dir) as procs:
        slack = await procs.slack_sim()
        async with httpx.AsyncClient(timeout=30) as http:
            for pending in args.counts:
                runs.append(await measure_one(pending, args, procs, slack, http))
    idle_counts = [r["idle_window_requests"]["total"] for r in runs]
    idle_reads = sum(r["idle_window_requests"]["approval_reads"] for r in runs)
    targets = [
        check(
            f"baseline ÷ bot requests/h at N={run['pending']} (with expiry reads)",
            run["ratio_to_baseline_with_expiry_reads"],
            ">=",
            TARGET_RATIO,
        )
        for run in runs
        if run["pending"] == TARGET_AT
    ]
    targets += [
        check("per-approval reads while idle (all N)", idle_reads, "<=", 0),
        # Flat in N: the same feed polls whatever N (±1 for where the window cut the schedule).
        check(
            "idle-window requests, max − min over N", max(idle_counts) - min(idle_counts), "<=", 1
        ),
        check(
            "reads per expired approval",
            max(r["expiry"]["reads_per_expired_approval"] for r in runs),
            "<=",
            1.0,
        ),
    ]
    return {
        "benchmark": "idle_requests",
        "setup": {
            "processes": "OpenTrain simulator in this process (seeded directly); Slack simulator "
            "and bot (`python -m bot serve`, SQLite, following the simulator's clock) are "
            "subprocesses",
            "counts": args.counts,
            "window_s": args.window,
            "ot_poll_interval_seconds": args.poll_interval,
            "counted": "every OpenTrain API request in the simulator's log (GET /_sim/requests)",
            "feed_polls_per_hour_expected": round(3600 / args.poll_interval, 1),
        },
        "results": runs,
        "baseline": {
            "design": "naive poller: GET /approvals/{id} for each pending approval every 60 s",
            "method": "computed exactly: N × 60 requests per hour",
            "requests_per_hour": {str(r["pending"]): r["baseline_requests_per_hour"] for r in runs},
        },
        **verdict(targets, load_before),
    }


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_requests", description=__doc__)
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 1000, 10_000])
    parser.add_argument("--window", type=float, default=60.0, help="idle window, seconds")
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="OT_POLL_INTERVAL_SECONDS"
    )
    parser.add_argument("--expiring", type=int, default=100, help="approvals expired at the end")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep process logs (path on stderr)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    return run_in_scratch("bench-idle-", run, args)


if __name__ == "__main__":
    sys.exit(main())
