"""Benchmark 4 — a burst under Slack's rate limits: 1 000 outcomes across 10 channels at once.

The Slack simulator enforces Slack's limits, time-scaled by `--scale` S (Tier 3
`chat.update` 50 calls per 60/S s workspace-wide, `chat.postMessage` S/s per
channel after a burst of 3, Tier 4 `views.publish` 100 per 60/S s); the bot
runs with `SLACK_RATE_LIMIT_SCALE=S` so its pacing matches, and its poll and
outbox intervals are scaled by S too. 1 000 pending milestone fundings with
their cards are seeded directly (see bench/_processes.py), then confirmed in
the OpenTrain simulator in one go. Measured: the time from those confirms to
the last card update / thread reply, as a ratio to the least time Slack's
limits allow for the calls the outcomes need; the 429s the bot provoked; and
that every card was updated exactly once with exactly one reply.

Baseline, same run: the same burst with the bot's pacing disabled
(`SLACK_RATE_LIMIT_SCALE=1e6`), so only Slack's 429s slow it down.

Processes: the bot is `python -m bot serve` (SQLite store); both simulators run
in this process, so seeding and counting read their state directly.

    .venv/bin/python -m bench.burst [--approvals 1000] [--channels 10] [--scale 20]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._processes import (
    SeededApproval,
    all_landed,
    confirm,
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
    spawn,
    verdict,
    wait_until,
)
from bot.outbox import EffectKind, effect
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.methods import METHODS
from bot.sandbox.slack.ratelimit import POST_MESSAGE_BURST, POST_MESSAGE_PER_SECOND, Tier
from bot.store import Store
from bot.store.sqlite import SqliteStore
from bot.tracked_approvals import TrackedStatus

UNPACED_SCALE = 1e6  # the bot's pacing allows a million times Slack's rates: no pacing
RATIO_TARGET = 1.2
# "Near zero": at most this share of the burst's Web API calls answered 429.
RATE_LIMITED_SHARE_TARGET = 0.005
# After the last outcome landed, the bot keeps running this many outbox intervals, so a
# duplicate (a second update or reply) would have the chance to show up.
SETTLE_INTERVALS = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument(
        "--scale", type=float, default=20.0, help="time scale of Slack's limits (S)"
    )
    return parser.parse_args()


async def main() -> int:
    args = parse_args()
    started = time.monotonic()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        workdir = Path(tmp)
        progress(f"paced run: bot pacing at scale {args.scale:g}")
        paced = await run(args, workdir, label="paced", bot_scale=args.scale)
        progress(f"baseline run: bot pacing off (scale {UNPACED_SCALE:g})")
        baseline = await run(args, workdir, label="unpaced", bot_scale=UNPACED_SCALE)
    targets = [
        check("drain time / rate-limit lower bound", paced["ratio_to_lower_bound"], "<=", 1.2),
        check(
            "429 answers / Web API calls",
            paced["rate_limited_share"],
            "<=",
            RATE_LIMITED_SHARE_TARGET,
        ),
        check("approvals not updated exactly once", paced["not_updated_once"], "<=", 0),
        check("approvals without exactly one reply", paced["not_replied_once"], "<=", 0),
    ]
    return emit(
        {
            "benchmark": "burst",
            "setup": {
                "approvals": args.approvals,
                "channels": args.channels,
                "time_scale": args.scale,
                "slack_limits_enforced": {
                    "chat.update": f"{Tier.TIER_3.per_minute} per {60 / args.scale:g} s",
                    "chat.postMessage": (
                        f"{POST_MESSAGE_PER_SECOND * args.scale:g}/s per channel"
                        f" after a burst of {POST_MESSAGE_BURST}"
                    ),
                    "views.publish": f"{Tier.TIER_4.per_minute} per {60 / args.scale:g} s",
                },
                "bot": "python -m bot serve, SQLite store",
                "simulators": "in the benchmark process",
            },
            "results": paced,
            "baseline": baseline,
            **verdict(targets, load_before),
            "wall_time_s": round(time.monotonic() - started, 1),
        }
    )


async def run(
    args: argparse.Namespace, workdir: Path, *, label: str, bot_scale: float
) -> dict[str, Any]:
    async with limited_simulators(args.scale) as (opentrain, slack):
        return await burst(args, workdir, opentrain, slack, label=label, bot_scale=bot_scale)


async def burst(
    args: argparse.Namespace,
    workdir: Path,
    opentrain: OpenTrainSim,
    slack: SlackSim,
    *,
    label: str,
    bot_scale: float,
) -> dict[str, Any]:
    database = workdir / f"{label}.db"
    seeded = await seed_sqlite(
        opentrain, slack, database, approvals=args.approvals, channels=args.channels
    )
    env = sim_bot_env(
        opentrain,
        slack,
        store_url=f"sqlite:///{database}",
        slack_rate_limit_scale=bot_scale,
        # Every interval shrinks with Slack's limits, so detection keeps its real-world
        # share of the drain (the defaults are 10 s, 2 s and 5 s).
        ot_poll_interval_seconds=10 / args.scale,
        outbox_interval_seconds=2 / args.scale,
        due_check_interval_seconds=5 / args.scale,
    )
    bot = spawn(
        f"bot-{label}", ["-m", "bot", "serve"], port=int(env["PORT"]), log_dir=workdir, env=env
    )
    try:
        await bot.wait_ready("/healthz")
        # The feed leader has polled once: the burst meets a bot in its steady state.
        await wait_until(
            lambda: any(r["path"] == "/updates" for r in opentrain.requests.since(0)),
            timeout=30,
            message="the first feed poll",
        )
        calls_before = Counter(slack.state.api_calls)
        limited_before = slack.state.rate_limited
        cpu_before = cpu_seconds(bot.pid)
        load = load_average()

        confirmed_at = time.time()
        confirm(opentrain, (item.approval_id for item in seeded))
        progress(f"{len(seeded)} confirmed in {time.time() - confirmed_at:.2f} s; draining")
        lower = lower_bound(args, seeded, home_publishes=len(seeded))
        await wait_until(
            lambda: all_landed(slack, seeded),
            timeout=max(120.0, 6 * lower["seconds"]),
            interval=0.25,
            message="every card update and reply",
        )
        await asyncio.sleep(SETTLE_INTERVALS * 2 / args.scale)
        await wait_until(lambda: outbox_empty(database), timeout=120, message="an empty outbox")
        cpu_used = cpu_seconds(bot.pid) - cpu_before
        memory = proc_status(bot.pid)
    finally:
        await stop(bot)

    landings = [landing(slack, item) for item in seeded]
    times = [t for found in landings for t in (found.updated_at, found.replied_at) if t]
    drain = max(times) - confirmed_at
    calls = Counter(slack.state.api_calls)
    calls.subtract(calls_before)
    made = {method: count for method, count in sorted(calls.items()) if count}
    rate_limited = slack.state.rate_limited - limited_before
    publishes = await home_publishes(database, seeded)
    bound = lower_bound(args, seeded, home_publishes=publishes)
    result = {
        "drain_s": round(drain, 2),
        "first_landing_s": round(min(times) - confirmed_at, 2),
        "lower_bound_s": round(bound["seconds"], 2),
        "lower_bound_by_method_s": bound["by_method"],
        "ratio_to_lower_bound": round(drain / bound["seconds"], 3),
        "rate_limited_429": rate_limited,
        "web_api_calls": sum(made.values()),
        "rate_limited_share": round(rate_limited / max(1, sum(made.values())), 4),
        "web_api_calls_by_method": made,
        "not_updated_once": sum(1 for found in landings if found.card_updates != 1),
        "not_replied_once": sum(1 for found in landings if found.replies != 1),
        "card_updates_total": sum(found.card_updates for found in landings),
        "replies_total": sum(found.replies for found in landings),
        "home_tab_publishes": publishes,
        "bot_cpu_s": round(cpu_used, 1),
        "bot_rss_mb": round(memory.get("VmRSS", 0) / 1024, 1),
        "bot_slack_rate_limit_scale": bot_scale,
        "loadavg_at_burst": load,
    }
    progress(
        f"{label}: drain {result['drain_s']} s, bound {result['lower_bound_s']} s,"
        f" ratio {result['ratio_to_lower_bound']}, 429s {rate_limited}"
    )
    return result


def lower_bound(
    args: argparse.Namespace, seeded: list[SeededApproval], *, home_publishes: int
) -> dict[str, Any]:
    """The least time the simulator's limits allow for the calls these outcomes need.

    A tiered method admits `per_minute` calls in any window of 60/S s, so its
    k-th call (from 0) can come no earlier than floor(k / per_minute) windows in;
    a channel's posts pass a burst of 3, then S per second.
    """
    window = 60 / args.scale
    needed = {"chat.update": len(seeded), "views.publish": home_publishes}
    by_method: dict[str, float] = {}
    for method, count in needed.items():
        per_window = METHODS[method].tier.per_minute
        by_method[method] = math.floor(max(count - 1, 0) / per_window) * window
    replies_per_channel = Counter(item.channel_id for item in seeded)
    rate = POST_MESSAGE_PER_SECOND * args.scale
    by_method["chat.postMessage (busiest channel)"] = max(
        max(0, count - POST_MESSAGE_BURST) / rate for count in replies_per_channel.values()
    )
    return {
        "seconds": max(by_method.values()),
        "by_method": {method: round(seconds, 2) for method, seconds in by_method.items()},
    }


async def outbox_empty(database: Path) -> bool:
    store = await SqliteStore.open(database)
    try:
        return await store.count_effects(done=False) == 0
    finally:
        await store.close()


async def home_publishes(database: Path, seeded: list[SeededApproval]) -> int:
    """Home tabs the outcomes re-published (each is one `views.publish`)."""
    store = await SqliteStore.open(database)
    try:
        return await home_publishes_in(store, seeded)
    finally:
        await store.close()


async def home_publishes_in(store: Store, seeded: list[SeededApproval]) -> int:
    """Home tabs the outcomes re-published, as their done effects in `store` record them."""
    total = 0
    now = datetime.now(UTC)  # effect ids do not depend on the time
    for item in seeded:
        refresh = effect(
            item.approval_id, EffectKind.REFRESH_HOME, now, key=TrackedStatus.CONFIRMED.value
        )
        done = await store.get_effect(refresh.id)
        total += len(((done.result if done else None) or {}).get("published", []))
    return total


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
