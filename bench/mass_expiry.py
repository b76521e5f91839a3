"""Benchmark 11 — a mass expiry: 10 000 pending approvals expire at once (issue 20 §6).

10 000 pending milestone fundings with their cards are seeded directly
(bench/_processes.py), the bot (`python -m bot serve`, SQLite, following the
OpenTrain simulator's clock) starts, and the simulator's clock jumps past their
expiry. Each approval then needs its post-expiry read (the read that flips it to
`expired`), and its card updated, an outcome reply and the requester's DM. Slack's
limits are enforced by the Slack simulator at time scale `--scale` S, with the
bot's pacing at the same scale; the due checks keep the bot's default interval
(5 s), as in production. Measured: from the jump to the last card update, as a
ratio to the least time Slack's `chat.update` limit allows for N updates
(Tier 3, 50 per 60/S s); every card updated once with one reply.

Baseline, same run: the due checks as before (one batch of 100 per interval:
`python -m bench.mass_expiry serve-baseline`, which runs `python -m bot serve`
without the immediate re-run of a full batch).

    .venv/bin/python -m bench.mass_expiry [--approvals 10000] [--channels 10] [--scale 40]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._processes import (
    SeededApproval,
    cpu_seconds,
    landing,
    limited_simulators,
    proc_status,
    seed_sqlite,
    sim_bot_env,
    stop,
)
from bench.common import (
    check,
    emit,
    load_average,
    progress,
    scratch_dir,
    spawn,
    verdict,
    wait_until,
)
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.methods import METHODS

RATIO_TARGET = 1.2
PAST_EXPIRY = timedelta(seconds=10)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mass_expiry", description=__doc__)
    parser.add_argument("mode", nargs="?", default="run", choices=["run", "serve-baseline"])
    parser.add_argument("--approvals", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--scale", type=float, default=10.0, help="time scale of Slack's limits")
    parser.add_argument("--keep-logs", action="store_true", help="keep the bots' logs")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline run")
    return parser.parse_args(argv)


def serve_baseline() -> int:
    """`python -m bot serve` with the due checks as before: one batch per interval."""
    from bot import tracker

    check_due = tracker.Tracker.check_due

    async def one_batch(self: tracker.Tracker) -> int:
        self._on_more_due = lambda: None
        return await check_due(self)

    tracker.Tracker.check_due = one_batch  # type: ignore[method-assign]
    from bot.__main__ import main as bot_main

    return bot_main(["serve"])


def chat_update_bound(count: int, scale: float) -> float:
    """The least time for `count` chat.update calls: the k-th (from 0) no earlier than
    floor(k / per window) windows of 60/S s in."""
    per_window = METHODS["chat.update"].tier.per_minute
    return math.floor(max(count - 1, 0) / per_window) * 60 / scale


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    load_before = load_average()
    with scratch_dir("bench-expiry-", keep=args.keep_logs) as workdir:
        progress("the bot: due checks run again at once while a batch is full")
        result = await run(args, workdir, label="bot", baseline=False)
        progress("baseline: one batch of due checks per interval")
        baseline = (
            await run(args, workdir, label="baseline", baseline=True)
            if not args.no_baseline
            else {}
        )
    targets = [
        check("drain / chat.update bound", result["ratio_to_bound"], "<=", RATIO_TARGET),
        check("cards not updated exactly once", result["not_updated_once"], "<=", 0),
        check("cards without exactly one reply", result["not_replied_once"], "<=", 0),
    ]
    return emit(
        {
            "benchmark": "mass_expiry",
            "setup": {
                "approvals": args.approvals,
                "channels": args.channels,
                "time_scale": args.scale,
                "chat.update": f"50 per {60 / args.scale:g} s (Tier 3, scaled)",
                "bot": "python -m bot serve, SQLite, following the OpenTrain simulator's clock,"
                " SLACK_RATE_LIMIT_SCALE=S, default DUE_CHECK_INTERVAL_SECONDS (5)",
                "baseline": "python -m bench.mass_expiry serve-baseline (one batch per interval)",
                "simulators": "in the benchmark process",
            },
            "results": result,
            "baseline": baseline,
            **verdict(targets, load_before),
            "wall_time_s": round(time.monotonic() - started, 1),
        }
    )


async def run(
    args: argparse.Namespace, workdir: Path, *, label: str, baseline: bool
) -> dict[str, Any]:
    async with limited_simulators(args.scale) as (opentrain, slack):
        return await expire(args, workdir, opentrain, slack, label=label, baseline=baseline)


async def expire(
    args: argparse.Namespace,
    workdir: Path,
    opentrain: OpenTrainSim,
    slack: SlackSim,
    *,
    label: str,
    baseline: bool,
) -> dict[str, Any]:
    database = workdir / f"{label}.db"
    progress(f"{label}: seeding")
    seeded = await seed_sqlite(
        opentrain, slack, database, approvals=args.approvals, channels=args.channels
    )
    env = sim_bot_env(
        opentrain,
        slack,
        store_url=f"sqlite:///{database}",
        sandbox_clock_url=f"{opentrain.origin}/_sim/clock",
        slack_rate_limit_scale=args.scale,
        outbox_interval_seconds=2 / args.scale,
    )
    command = ["-m", "bench.mass_expiry", "serve-baseline"] if baseline else ["-m", "bot", "serve"]
    bot = spawn(f"bot-{label}", command, port=int(env["PORT"]), log_dir=workdir, env=env)
    try:
        await bot.wait_ready("/healthz")
        await wait_until(
            lambda: any(r["path"] == "/updates" for r in opentrain.requests.since(0)),
            timeout=60,
            message="the first feed poll",
        )
        cpu_before = cpu_seconds(bot.pid)
        limited_before = slack.state.rate_limited
        expired_at = time.time()
        opentrain.state.advance((APPROVAL_TTL + PAST_EXPIRY).total_seconds())
        progress(f"{label}: the clock is past every expiry; draining")
        bound = chat_update_bound(len(seeded), args.scale)
        await wait_drained(slack, seeded, timeout=max(900.0, 4 * bound))
        cpu_used = cpu_seconds(bot.pid) - cpu_before
        memory = proc_status(bot.pid)
    finally:
        await stop(bot)
    landings = [landing(slack, item) for item in seeded]
    updated = [found.updated_at for found in landings if found.updated_at]
    replied = [found.replied_at for found in landings if found.replied_at]
    drain = max(updated) - expired_at
    result = {
        "drain_s": round(drain, 1),
        "last_reply_s": round(max(replied) - expired_at, 1),
        "chat_update_bound_s": round(bound, 1),
        "ratio_to_bound": round(drain / bound, 3),
        "half_updated_s": round(sorted(updated)[len(updated) // 2] - expired_at, 1),
        "not_updated_once": sum(1 for found in landings if found.card_updates != 1),
        "not_replied_once": sum(1 for found in landings if found.replies != 1),
        "rate_limited_429": slack.state.rate_limited - limited_before,
        "bot_cpu_s": round(cpu_used, 1),
        "bot_rss_mb": round(memory.get("VmRSS", 0) / 1024, 1),
    }
    progress(f"{label}: {result}")
    return result


async def wait_drained(slack: SlackSim, seeded: list[SeededApproval], *, timeout: float) -> None:
    """Until every card is updated and replied to (checking only those not done yet)."""
    waiting = list(seeded)
    deadline = time.monotonic() + timeout
    while waiting:
        waiting = [
            item
            for item in waiting
            if not ((found := landing(slack, item)).card_updates and found.replies)
        ]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(waiting)} cards still not updated after {timeout:g} s")
        await asyncio.sleep(1.0)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.mode == "serve-baseline":
        sys.exit(serve_baseline())
    sys.exit(asyncio.run(main(arguments)))
