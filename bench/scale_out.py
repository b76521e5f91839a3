"""Benchmark 6 — scale-out: three bot processes on one Redis with 10 000 pending approvals.

10 000 pending milestone fundings with their cards are seeded into one Redis
(see bench/_processes.py) and three `python -m bot serve` processes share it.
Then 500 of the approvals are confirmed at once in the OpenTrain simulator.
Measured: every card updated exactly once with exactly one thread reply; how
the work spread over the processes (outcomes each applied — the feed leader's
job — and Slack effects each delivered, from their logs); and, after `kill -9`
of the feed leader with one more approval confirmed at that moment, the time
until another process holds the feed lease and until that outcome lands.

Baseline, same run: one process doing the same; its failover is a supervisor
restarting it at once (there is no other process to take over).

Slack's rate limits are enforced, time-scaled by `--scale` like benchmark 4,
with every bot pacing itself to match; the feed is polled at the production
default (`--poll-interval`, 10 s). The feed lease (3 s, renewed every second:
bot/feed_lease.py) does not depend on it; bench/failover.py times failover alone.

Processes: bots are `python -m bot serve`, Redis a `redis-server`; both
simulators run in this process.

    .venv/bin/python -m bench.scale_out [--approvals 10000] [--resolve 500] [--processes 3]
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
    SeededApproval,
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
from bench.common import (
    HOST,
    SIGNING_SECRET,
    Proc,
    check,
    emit,
    free_port,
    load_average,
    progress,
    spawn,
    verdict,
    wait_until,
)
from bot.feed_lease import FEED_LEASE, HEARTBEAT, LEASE_TTL
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.slack import SlackSim
from bot.store.redis import RedisStore

CHANNELS = 10
SETTLE_SECONDS = 5.0
# "Spread": every process delivers at least this share of the Slack effects (a fair
# share of three is a third).
SPREAD_TARGET = 0.1  # after the outbox is empty, time for a duplicate to show up
DELIVERED = r"slack effect delivered"
RESOLVED = r"approval resolved"
FEED_LEASE_S = LEASE_TTL.total_seconds()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--approvals", type=int, default=10_000)
    parser.add_argument("--resolve", type=int, default=500)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--scale", type=float, default=20.0, help="time scale of Slack's limits")
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="OT_POLL_INTERVAL_SECONDS"
    )
    parser.add_argument("--logs", type=Path, help="keep the bots' logs in this directory")
    return parser.parse_args()


async def main() -> int:
    args = parse_args()
    started = time.monotonic()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        workdir = args.logs or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        progress(f"{args.processes} processes")
        fleet = await run(args, workdir, processes=args.processes)
        progress("baseline: 1 process")
        single = await run(args, workdir, processes=1)
    shares = fleet["effects_delivered_by_process"]
    targets = [
        check("cards not updated exactly once", fleet["not_updated_once"], "<=", 0),
        check("outcomes without exactly one reply", fleet["not_replied_once"], "<=", 0),
        check(
            "share of Slack effects delivered by the least busy process",
            round(min(shares) / max(1, sum(shares)), 3),
            ">=",
            SPREAD_TARGET,
        ),
        check(
            "failover: kill -9 of the leader to the next outcome landed (s)",
            fleet["failover"]["outcome_landed_s"],
            "<=",
            FEED_LEASE_S + HEARTBEAT.total_seconds() + 5,
        ),
    ]
    return emit(
        {
            "benchmark": "scale_out",
            "setup": {
                "pending_approvals": args.approvals,
                "resolved_at_once": args.resolve,
                "processes": args.processes,
                "channels": CHANNELS,
                "store": "one redis-server, no persistence",
                "slack_limits_time_scale": args.scale,
                "ot_poll_interval_s": args.poll_interval,
                "feed_lease_s": FEED_LEASE_S,
                "bots": "python -m bot serve",
                "simulators": "in the benchmark process",
            },
            "results": fleet,
            "baseline": single,
            **verdict(targets, load_before),
            "wall_time_s": round(time.monotonic() - started, 1),
        }
    )


async def run(args: argparse.Namespace, workdir: Path, *, processes: int) -> dict[str, Any]:
    opentrain = OpenTrainSim(seed="demo")
    await opentrain.start(HOST, 0)
    slack = SlackSim(signing_secret=SIGNING_SECRET, rate_limits=True, rate_limit_scale=args.scale)
    await slack.start(HOST, 0)
    redis = await start_redis()
    store = await RedisStore.connect(redis.url)
    bots: list[Proc] = []
    try:
        seed_started = time.monotonic()
        channels = add_channels(slack, CHANNELS)
        seeded = await seed_pending(
            opentrain, slack, store, count=args.approvals, channels=channels
        )
        progress(f"seeded {len(seeded)} in {time.monotonic() - seed_started:.1f} s")
        env = sim_bot_env(
            opentrain,
            slack,
            store_url=redis.url,
            slack_rate_limit_scale=args.scale,
            ot_poll_interval_seconds=args.poll_interval,
        )
        bots += [start_bot(env, workdir, f"bot-{processes}-{n + 1}") for n in range(processes)]
        for bot in bots:
            await bot.wait_ready("/healthz")
        await wait_until(lambda: leader_of(store, bots), timeout=60, message="a feed leader")
        burst = await resolve_burst(args, opentrain, slack, store, seeded, bots)
        # Home tabs may still be refreshing: what the leader holds when killed would wait
        # out its claims (5 min) before another process could deliver it.
        await wait_until(lambda: outbox_empty(store), timeout=120, message="an empty outbox")
        failover = await fail_over(args, opentrain, slack, store, seeded, bots, env)
        await wait_until(lambda: outbox_empty(store), timeout=120, message="an empty outbox")
        await asyncio.sleep(SETTLE_SECONDS)
    finally:
        for bot in bots:
            await stop(bot)
        await store.close()
        redis.stop()
        await slack.stop()
        await opentrain.stop()

    resolved = seeded[: args.resolve + 1]  # the burst and the approval confirmed at the kill
    landings = [landing(slack, item) for item in resolved]
    result = {
        "resolved": len(resolved),
        "not_updated_once": sum(1 for found in landings if found.card_updates != 1),
        "not_replied_once": sum(1 for found in landings if found.replies != 1),
        "card_updates_total": sum(found.card_updates for found in landings),
        "replies_total": sum(found.replies for found in landings),
        **burst,
        "outcomes_applied_by_process": [len(log_lines(bot, RESOLVED)) for bot in bots],
        "effects_delivered_by_process": [len(log_lines(bot, DELIVERED)) for bot in bots],
        "effects_by_kind_by_process": [kinds(bot) for bot in bots],
        "failover": failover,
        "rate_limited_429": slack.state.rate_limited,
    }
    progress(f"{processes} process(es): {result}")
    return result


def start_bot(env: dict[str, str], workdir: Path, name: str) -> Proc:
    """`python -m bot serve` on a port of its own (not yet ready)."""
    port = free_port()
    return spawn(
        name, ["-m", "bot", "serve"], port=port, log_dir=workdir, env={**env, "PORT": str(port)}
    )


async def leader_of(store: RedisStore, bots: list[Proc]) -> Proc | None:
    holder = await store.lease_holder(FEED_LEASE)
    return next((bot for bot in bots if owns(bot, holder)), None)


def owns(bot: Proc, lease_holder: str | None) -> bool:
    """Whether a lease owner (`host:pid:nonce`, bot.app.process_owner) is this process."""
    return lease_holder is not None and lease_holder.split(":")[1] == str(bot.pid)


async def resolve_burst(
    args: argparse.Namespace,
    opentrain: OpenTrainSim,
    slack: SlackSim,
    store: RedisStore,
    seeded: list[SeededApproval],
    bots: list[Proc],
) -> dict[str, Any]:
    burst = seeded[: args.resolve]
    cpu_before = [cpu_seconds(bot.pid) for bot in bots]
    confirmed_at = time.time()
    confirm(opentrain, (item.approval_id for item in burst))
    progress(f"{len(burst)} confirmed; draining")
    await wait_until(
        lambda: all_landed(slack, burst),
        timeout=600,
        interval=0.25,
        message="every card update and reply of the burst",
    )
    landings = [landing(slack, item) for item in burst]
    times = [t for found in landings for t in (found.updated_at, found.replied_at) if t]
    return {
        "burst_drain_s": round(max(times) - confirmed_at, 2),
        "burst_cpu_s_by_process": [
            round(cpu_seconds(bot.pid) - before, 1)
            for bot, before in zip(bots, cpu_before, strict=True)
        ],
        "rate_limited_429_during_burst": slack.state.rate_limited,
    }


async def fail_over(
    args: argparse.Namespace,
    opentrain: OpenTrainSim,
    slack: SlackSim,
    store: RedisStore,
    seeded: list[SeededApproval],
    bots: list[Proc],
    env: dict[str, str],
) -> dict[str, Any]:
    """Kill the feed leader, confirm one more approval, and time who takes over."""
    victim = seeded[args.resolve]
    leader = await wait_until(lambda: leader_of(store, bots), timeout=60, message="the leader")
    killed_at = time.time()
    leader.kill()
    confirm(opentrain, [victim.approval_id])
    if len(bots) == 1:
        # Nobody else can take over: a supervisor starts a new process at once.
        restarted = start_bot(env, leader.log.parent, f"{leader.name}-restarted")
        bots.append(restarted)
        await restarted.wait_ready("/healthz")
    survivors = [bot for bot in bots if bot is not leader]
    successor = await wait_until(
        lambda: leader_of(store, survivors), timeout=120, interval=0.05, message="a new leader"
    )
    lease_at = time.time()
    await wait_until(
        lambda: all_landed(slack, [victim]), timeout=120, message="the outcome after the kill"
    )
    found = landing(slack, victim)
    landed_at = max(t for t in (found.updated_at, found.replied_at) if t)
    return {
        "killed": leader.name,
        "new_leader": successor.name,
        "lease_taken_over_s": round(lease_at - killed_at, 2),
        "outcome_landed_s": round(landed_at - killed_at, 2),
    }


async def outbox_empty(store: RedisStore) -> bool:
    return await store.count_effects(done=False) == 0


def kinds(bot: Proc) -> dict[str, int]:
    counted = Counter(line.rsplit("kind=", 1)[1].split()[0] for line in log_lines(bot, DELIVERED))
    return dict(sorted(counted.items()))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
