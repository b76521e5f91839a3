"""Benchmark 10 — the burst of benchmark 4 delivered by three replicas on one Redis.

1 000 pending milestone fundings across 10 channels (seeded into one `redis-server`, see
bench/_processes.py) are confirmed in the OpenTrain simulator in one go while three
`python -m bot serve` processes share the store. The Slack simulator enforces Slack's
limits, time-scaled by `--scale` S (Tier 3 `chat.update` 50 calls per 60/S s
workspace-wide, `chat.postMessage` S/s per channel after a burst of 3, Tier 4
`views.publish` 100 per 60/S s); every bot runs with `SLACK_RATE_LIMIT_SCALE=S` and its
poll, outbox and due intervals divided by S, as in benchmark 4. Measured: the time from
the confirms to the last card update / thread reply, as a ratio to the least time
Slack's limits allow for the calls the outcomes needed; the 429s the replicas provoked;
every card updated exactly once with exactly one reply; the work and CPU per replica.

Baseline, same run: the same three replicas with per-process pacing
(`SLACK_SHARED_PACING=false`): each paces itself to Slack's whole rate, so together they
exceed it and lean on 429s and `Retry-After`.

The default scale is 10, not benchmark 4's 20: three bots, Redis and the simulators share
two cores here, and a bot's CPU per outcome is fixed while time scaling shrinks Slack's
windows. At S = 20 a call that leaves ~0.1 s after Redis granted its turn (its replica's
event loop busy meanwhile) arrives 1.5 turns of the Tier 3 bucket late — more than the
call of headroom every window keeps — and the per-process baseline becomes CPU-bound
instead of rate-bound (bench/RESULTS.md §10 has both runs).

Processes: bots are `python -m bot serve`, Redis a `redis-server` without persistence;
both simulators run in this process, so seeding and counting read their state directly.

    .venv/bin/python -m bench.burst_replicas [--approvals 1000] [--channels 10] [--scale 10]
        [--replicas 3] [--logs DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench._processes import (
    add_channels,
    all_landed,
    confirm,
    cpu_seconds,
    landing,
    log_lines,
    seed_pending,
    sim_bot_env,
    start_redis,
    stop,
)
from bench.burst import RATIO_TARGET, SETTLE_INTERVALS, home_publishes_in, lower_bound
from bench.common import (
    HOST,
    SIGNING_SECRET,
    Proc,
    check,
    emit,
    load_average,
    progress,
    verdict,
    wait_until,
)
from bench.scale_out import DELIVERED, kinds, outbox_empty, start_bot
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.ratelimit import POST_MESSAGE_BURST, POST_MESSAGE_PER_SECOND, Tier
from bot.store.redis import RedisStore


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.burst_replicas", description=__doc__)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument(
        "--scale", type=float, default=10.0, help="time scale of Slack's limits (S)"
    )
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--logs", type=Path, help="keep the bots' logs in this directory")
    return parser.parse_args()


async def main() -> int:
    args = parse_args()
    started = time.monotonic()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-burst-replicas-") as tmp:
        workdir = args.logs or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        progress(f"{args.replicas} replicas, pacing shared through Redis")
        shared = await run(args, workdir, label="shared", shared_pacing=True)
        progress(f"baseline: {args.replicas} replicas, each pacing alone")
        alone = await run(args, workdir, label="per-process", shared_pacing=False)
    targets = [
        check("429 answers provoked", shared["rate_limited_429"], "<=", 0),
        check(
            "drain time / rate-limit lower bound",
            shared["ratio_to_lower_bound"],
            "<=",
            RATIO_TARGET,
        ),
        check("approvals not updated exactly once", shared["not_updated_once"], "<=", 0),
        check("approvals without exactly one reply", shared["not_replied_once"], "<=", 0),
    ]
    return emit(
        {
            "benchmark": "burst_replicas",
            "setup": {
                "approvals": args.approvals,
                "channels": args.channels,
                "replicas": args.replicas,
                "time_scale": args.scale,
                "slack_limits_enforced": {
                    "chat.update": f"{Tier.TIER_3.per_minute} per {60 / args.scale:g} s",
                    "chat.postMessage": (
                        f"{POST_MESSAGE_PER_SECOND * args.scale:g}/s per channel"
                        f" after a burst of {POST_MESSAGE_BURST}"
                    ),
                    "views.publish": f"{Tier.TIER_4.per_minute} per {60 / args.scale:g} s",
                },
                "bots": "python -m bot serve, one redis-server (no persistence)",
                "simulators": "in the benchmark process",
            },
            "results": shared,
            "baseline": alone,
            **verdict(targets, load_before),
            "wall_time_s": round(time.monotonic() - started, 1),
        }
    )


async def run(
    args: argparse.Namespace, workdir: Path, *, label: str, shared_pacing: bool
) -> dict[str, Any]:
    opentrain = OpenTrainSim(seed="demo")
    await opentrain.start(HOST, 0)
    slack = SlackSim(signing_secret=SIGNING_SECRET, rate_limits=True, rate_limit_scale=args.scale)
    await slack.start(HOST, 0)
    redis = await start_redis()
    store = await RedisStore.connect(redis.url)
    bots: list[Proc] = []
    try:
        seed_started = time.monotonic()
        channels = add_channels(slack, args.channels)
        seeded = await seed_pending(
            opentrain, slack, store, count=args.approvals, channels=channels
        )
        progress(f"seeded {len(seeded)} in {time.monotonic() - seed_started:.1f} s")
        env = sim_bot_env(
            opentrain,
            slack,
            store_url=redis.url,
            slack_rate_limit_scale=args.scale,
            slack_shared_pacing=str(shared_pacing).lower(),
            ot_poll_interval_seconds=10 / args.scale,
            outbox_interval_seconds=2 / args.scale,
            due_check_interval_seconds=5 / args.scale,
        )
        bots += [start_bot(env, workdir, f"bot-{label}-{n + 1}") for n in range(args.replicas)]
        for bot in bots:
            await bot.wait_ready("/healthz")
        await wait_until(
            lambda: any(r["path"] == "/updates" for r in opentrain.requests.since(0)),
            timeout=30,
            message="the first feed poll",
        )
        calls_before = Counter(slack.state.api_calls)
        limited_before = slack.state.rate_limited
        cpu_before = [cpu_seconds(bot.pid) for bot in bots]
        load = load_average()

        confirmed_at = time.time()
        confirm(opentrain, (item.approval_id for item in seeded))
        progress(f"{len(seeded)} confirmed; draining")
        await wait_until(
            lambda: all_landed(slack, seeded),
            timeout=600,
            interval=0.25,
            message="every card update and reply",
        )
        await asyncio.sleep(SETTLE_INTERVALS * 2 / args.scale)
        await wait_until(lambda: outbox_empty(store), timeout=120, message="an empty outbox")
        cpu_used = [
            cpu_seconds(bot.pid) - before for bot, before in zip(bots, cpu_before, strict=True)
        ]
        publishes = await home_publishes_in(store, seeded)
    finally:
        for bot in bots:
            await stop(bot)
        await store.close()
        redis.stop()
        await slack.stop()
        await opentrain.stop()

    landings = [landing(slack, item) for item in seeded]
    times = [t for found in landings for t in (found.updated_at, found.replied_at) if t]
    drain = max(times) - confirmed_at
    calls = Counter(slack.state.api_calls)
    calls.subtract(calls_before)
    made = {method: count for method, count in sorted(calls.items()) if count}
    rate_limited = slack.state.rate_limited - limited_before
    bound = lower_bound(args, seeded, home_publishes=publishes)
    result = {
        "slack_shared_pacing": shared_pacing,
        "drain_s": round(drain, 2),
        "first_landing_s": round(min(times) - confirmed_at, 2),
        "lower_bound_s": round(bound["seconds"], 2),
        "lower_bound_by_method_s": bound["by_method"],
        "ratio_to_lower_bound": round(drain / bound["seconds"], 3),
        "rate_limited_429": rate_limited,
        "web_api_calls": sum(made.values()),
        "web_api_calls_by_method": made,
        "not_updated_once": sum(1 for found in landings if found.card_updates != 1),
        "not_replied_once": sum(1 for found in landings if found.replies != 1),
        "home_tab_publishes": publishes,
        "effects_delivered_by_replica": [len(log_lines(bot, DELIVERED)) for bot in bots],
        "effects_by_kind_by_replica": [kinds(bot) for bot in bots],
        "bot_cpu_s_by_replica": [round(used, 1) for used in cpu_used],
        "loadavg_at_burst": load,
    }
    progress(
        f"{label}: drain {result['drain_s']} s, bound {result['lower_bound_s']} s,"
        f" ratio {result['ratio_to_lower_bound']}, 429s {rate_limited}"
    )
    return result


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
