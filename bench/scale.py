"""Benchmark 12 — 100 000 pending approvals: what one bot costs when few concern a person
(issue 20 §6–7).

Seeded through the store's API (no OpenTrain or Slack round trips): `--approvals`
pending milestone fundings in 50 channels, asked for by three people in turn, whose
expiries are spread over the next 1–72 h (adopted over the last 71 h), with a global
approver tier (U0ANA); one more channel whose own tier is U0LEI holds 10 of them, 5
asked for by U0LEI. The bot (`python -m bot serve`, SQLite, reminders every 10 s,
one reminder an hour before expiry) starts on a copy of that store; once its
start-up pass is done: its CPU over `--window` seconds of idling (reminder and
escalation ticks, feed polls), then U0LEI's Home tab opened `--opens` times (ack:
the HTTP answer to `app_home_opened`; render: until the published view changed in
the Slack simulator), then its RSS (VmRSS, peak VmHWM).

Baseline, same run, same seeded store: the index disabled (`python -m bench.scale
serve-baseline`: the Home tab reads every pending approval and every tick looks at
every pending approval, as before the pending index).

    .venv/bin/python -m bench.scale [--approvals 100000] [--window 60] [--opens 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench._processes import cpu_seconds, proc_status, sim_bot_env, stop
from bench.common import (
    HOST,
    SIGNING_SECRET,
    check,
    emit,
    load_average,
    percentile,
    progress,
    scratch_dir,
    spawn,
    summarize,
    verdict,
    wait_until,
)
from bot.approver_tiers import GLOBAL, ScopeTiers, Tier
from bot.opentrain.models import ApprovalType
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.slack import SlackSim
from bot.store.kinds import APPROVERS
from bot.store.sqlite import SqliteStore
from bot.tracked_approvals import ApprovalDetails, Requester, TrackedApproval

RSS_TARGET_MB = 250
HOME_TARGET_MS = 50
READER = "U0LEI"  # concerned by few: their channel's tier, and what they asked for
GLOBAL_APPROVER = "U0ANA"
REQUESTERS = ("U0ANA", "U0BEN", "U0KAI")
CHANNELS = 50
FEW_CHANNEL = "C0FEW0000"
REMINDER_INTERVAL_S = 10
SEED_CHUNK = 2000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve-baseline"])
    parser.add_argument("--approvals", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=60.0, help="idle CPU window, seconds")
    parser.add_argument("--opens", type=int, default=10, help="Home tab opens measured")
    parser.add_argument("--keep-logs", action="store_true")
    return parser.parse_args(argv)


def serve_baseline() -> int:
    """`python -m bot serve` with the pending index disabled for its readers."""
    from bot import home
    from bot.approver_lists import Approvers
    from bot.tracked_approvals import TrackedStatus

    async def everything(
        self: home.Home, user_id: str, recent: Sequence[TrackedApproval], seen: object
    ) -> list[TrackedApproval]:
        pending = await self._store.list_approvals(status=TrackedStatus.PENDING, limit=10**7)
        return [*pending, *recent]

    versions = itertools.count()

    async def always_new(self: Approvers) -> str:
        return str(next(versions))  # every tick looks at every pending approval

    home.Home._approvals_of = everything  # type: ignore[method-assign,assignment]
    Approvers.version = always_new  # type: ignore[method-assign]
    from bot.__main__ import main as bot_main

    return bot_main(["serve"])


def record(index: int, now: datetime, *, channel: str, requester: str) -> TrackedApproval:
    expires = now + timedelta(hours=1) + timedelta(hours=71) * random.random()
    approval_id = f"apr_scale_{index:06d}"
    return TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.MILESTONE_FUND,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=expires,
        job_id="job_dashcam",
        contract_id="ctr_bench",
        milestone_id=f"ms_scale_{index:06d}",
        details=ApprovalDetails(milestone_name=f"Batch {index}", amount_usd=Decimal("120.00")),
        requester=Requester(kind="slack", id=requester),
        channel_id=channel,
        next_check_at=expires + timedelta(seconds=5),
        adopted_at=expires - timedelta(hours=72),
    )


async def seed(path: Path, count: int) -> float:
    started = time.monotonic()
    random.seed(20)
    now = datetime.now(UTC)
    store = await SqliteStore.open(path)
    # Seeding only: no fsync per write (the bot opens its copy with SQLite's defaults).
    await store._read(lambda c: c.execute("PRAGMA synchronous = OFF"))
    try:
        await store.put_record(APPROVERS, GLOBAL, ScopeTiers.of([Tier(members=(GLOBAL_APPROVER,))]))
        await store.put_record(APPROVERS, FEW_CHANNEL, ScopeTiers.of([Tier(members=(READER,))]))
        records = [
            record(i, now, channel=f"C0SCALE{i % CHANNELS:02d}", requester=REQUESTERS[i % 3])
            for i in range(count)
        ]
        records += [
            record(count + i, now, channel=FEW_CHANNEL, requester=(READER, "U0BEN")[i % 2])
            for i in range(10)
        ]
        for first in range(0, len(records), SEED_CHUNK):
            chunk = records[first : first + SEED_CHUNK]
            await asyncio.gather(*(store.add_approval(approval) for approval in chunk))
    finally:
        await store.close()
    return time.monotonic() - started


async def settle(pid: int, *, quiet_cpu: float = 0.5, period: float = 5.0) -> float:
    """Until the process used less than `quiet_cpu` s of CPU in `period` s; seconds waited."""
    started = time.monotonic()
    while True:
        before = cpu_seconds(pid)
        await asyncio.sleep(period)
        if cpu_seconds(pid) - before < quiet_cpu or time.monotonic() - started > 600:
            return time.monotonic() - started


async def measure(
    args: argparse.Namespace, workdir: Path, seeded: Path, *, label: str, baseline: bool
) -> dict[str, Any]:
    database = workdir / f"{label}.db"
    shutil.copy(seeded, database)
    opentrain = OpenTrainSim(seed="demo")
    await opentrain.start(HOST, 0)
    slack = SlackSim(signing_secret=SIGNING_SECRET)
    await slack.start(HOST, 0)
    env = sim_bot_env(
        opentrain,
        slack,
        store_url=f"sqlite:///{database}",
        reminder_interval_seconds=REMINDER_INTERVAL_S,
        reminder_offsets="1h",
        slack_rate_limit_scale=100,
    )
    command = ["-m", "bench.scale", "serve-baseline"] if baseline else ["-m", "bot", "serve"]
    bot = spawn(f"bot-{label}", command, port=int(env["PORT"]), log_dir=workdir, env=env)
    try:
        await bot.wait_ready("/healthz", timeout=120)
        slack.bot_url = f"{bot.url}/slack/events"
        started = time.monotonic()
        if baseline:  # its ticks never settle: the same warm-up as the bot's start-up pass
            await asyncio.sleep(args.warmup)
            warmup = args.warmup
        else:
            warmup = await settle(bot.pid)
            args.warmup = warmup
        progress(f"{label}: warmed up in {warmup:.0f} s; idle window")
        cpu_before = cpu_seconds(bot.pid)
        await asyncio.sleep(args.window)
        idle_cpu = cpu_seconds(bot.pid) - cpu_before
        acks, renders = [], []
        for _ in range(args.opens):
            before = slack.state.home_view(READER)
            before_hash = before.hash if before else None
            sent = time.perf_counter()
            answer = await slack.driver.open_home(READER)
            acks.append(answer.elapsed_ms)

            def changed(previous: str | None = before_hash) -> bool:
                view = slack.state.home_view(READER)
                return view is not None and view.hash != previous

            await wait_until(changed, timeout=120, interval=0.002, message="the Home tab")
            renders.append((time.perf_counter() - sent) * 1000)
        status = proc_status(bot.pid)
    finally:
        await stop(bot)
        await slack.stop()
        await opentrain.stop()
    ticks = args.window / REMINDER_INTERVAL_S
    result = {
        "warmup_s": round(warmup, 1),
        "since_ready_s": round(time.monotonic() - started, 1),
        "idle_cpu_s": round(idle_cpu, 2),
        "idle_cpu_per_reminder_tick_s": round(idle_cpu / ticks, 3),
        "home_ack_ms": summarize(acks),
        "home_render_ms": summarize(renders),
        "rss_mb": round(status["VmRSS"] / 1024, 1),
        "peak_rss_mb": round(status["VmHWM"] / 1024, 1),
    }
    progress(f"{label}: {result}")
    return result


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    load_before = load_average()
    seeded = workdir / "seeded.db"
    seeding = await seed(seeded, args.approvals)
    progress(f"seeded {args.approvals + 10} in {seeding:.0f} s")
    args.warmup = 0.0
    bot = await measure(args, workdir, seeded, label="bot", baseline=False)
    baseline = await measure(args, workdir, seeded, label="baseline", baseline=True)
    targets = [
        check("peak RSS (MB)", bot["peak_rss_mb"], "<", RSS_TARGET_MB),
        check("Home tab ack p99 (ms)", bot["home_ack_ms"]["p99"], "<", HOME_TARGET_MS),
        check("Home tab render p99 (ms)", bot["home_render_ms"]["p99"], "<", HOME_TARGET_MS),
        check(
            "idle CPU ÷ baseline's",
            round(bot["idle_cpu_s"] / max(baseline["idle_cpu_s"], 1e-9), 3),
            "<",
            0.2,
        ),
    ]
    return {
        "benchmark": "scale",
        "setup": {
            "approvals": args.approvals + 10,
            "channels": CHANNELS + 1,
            "reader": f"{READER}: concerned by 10 (their channel's tier; 5 asked for by them)",
            "tiers": f"global: {GLOBAL_APPROVER}; {FEW_CHANNEL}: {READER}",
            "bot": "python -m bot serve, SQLite, REMINDER_INTERVAL_SECONDS=10, REMINDER_OFFSETS=1h",
            "baseline": "python -m bench.scale serve-baseline (pending index disabled)",
            "seeding_s": round(seeding, 1),
            "window_s": args.window,
        },
        "results": bot,
        "baseline": baseline,
        "render_p50_ratio": round(
            percentile([baseline["home_render_ms"]["p50"]], 50)
            / max(bot["home_render_ms"]["p50"], 1e-9),
            1,
        ),
        **verdict(targets, load_before),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mode == "serve-baseline":
        return serve_baseline()
    with scratch_dir("bench-scale-", keep=args.keep_logs) as workdir:
        result = asyncio.run(run(args, workdir))
    return emit(result)


if __name__ == "__main__":
    sys.exit(main())
