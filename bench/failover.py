"""Benchmark 10 — failover: `kill -9` of the feed leader among three bots on one Redis.

Three `python -m bot serve` processes share one `redis-server` (no persistence)
and both simulators (in this process); a few pending approvals are seeded with
their cards. Each round: wait until the outbox is empty (nothing the leader
claimed is left to wait out its claim), wait a random part of a heartbeat (so
kills land at every phase of the lease's renewals), find the feed leader,
`kill -9` it and confirm one approval in the OpenTrain simulator at that moment.
Timed from the kill: another process holds the feed lease, the card is updated,
the outcome's thread reply is posted (as the Slack simulator stamps them). A new
process then replaces the dead one, so every round starts with three. The feed
is polled at the production default (`--poll-interval`, 10 s) and no webhook
rings: only the lease hands the feed over.

Baseline, same run: the same deployment with the lease timed as before
bot/feed_lease.py — renewed only on each poll: heartbeat = poll interval, TTL =
3 × poll interval (at least 2 s) — run as `python -m bench.failover
serve-baseline`, which sets those two timings and then runs `python -m bot serve`.

Target: every round's outcome landed (card updated and reply posted) ≤ 5 s after
the kill; every card updated once with one reply.

    .venv/bin/python -m bench.failover [--rounds 5] [--baseline-rounds 3] [--poll-interval 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._processes import (
    SeededApproval,
    add_channels,
    all_landed,
    confirm,
    landing,
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
    scratch_dir,
    spawn,
    summarize,
    verdict,
    wait_until,
)
from bot import feed_lease
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.slack import SlackSim
from bot.store.redis import RedisStore

TARGET_S = 5.0
PROCESSES = 3
CHANNELS = 2
SETTLE_SECONDS = 3.0  # after the last round, time for a duplicate to show up
# The per-poll lease as it was (bot/tracker.py before bot/feed_lease.py).
OLD_LEASE_POLLS = 3
OLD_LEASE_MIN = timedelta(seconds=2)


def old_timing(poll_interval: float) -> tuple[timedelta, timedelta]:
    """(heartbeat, TTL) of the per-poll lease: renewed on each poll, 3 polls long."""
    poll = timedelta(seconds=poll_interval)
    return poll, max(poll * OLD_LEASE_POLLS, OLD_LEASE_MIN)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="kills with the heartbeat lease")
    parser.add_argument(
        "--baseline-rounds", type=int, default=3, help="kills with the per-poll lease"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="OT_POLL_INTERVAL_SECONDS"
    )
    parser.add_argument("--seed", type=int, default=7, help="the kills' random phases")
    parser.add_argument("--keep-logs", action="store_true", help="keep the bots' logs")
    sub = parser.add_subparsers(dest="mode")
    sub.add_parser("serve-baseline", help="(internal) a bot with the per-poll lease")
    return parser.parse_args(argv)


def serve_baseline() -> int:
    """`python -m bot serve` with the feed lease timed as before: renewed on each poll."""
    heartbeat, ttl = old_timing(float(os.environ.get("OT_POLL_INTERVAL_SECONDS", "10")))
    feed_lease.HEARTBEAT, feed_lease.LEASE_TTL = heartbeat, ttl  # read when the lease is built
    from bot.__main__ import main as bot_main

    return bot_main(["serve"])


async def main(args: argparse.Namespace) -> int:
    started = time.monotonic()
    load_before = load_average()
    rng = random.Random(args.seed)
    with scratch_dir("bench-failover-", keep=args.keep_logs) as workdir:
        progress(f"heartbeat lease: {args.rounds} kills")
        fleet = await run(args, workdir, rng, baseline=False)
        progress(f"baseline, per-poll lease: {args.baseline_rounds} kills")
        old = await run(args, workdir, rng, baseline=True)
    heartbeat, ttl = old_timing(args.poll_interval)
    targets = [
        check(
            "kill -9 of the leader → outcome landed, worst round (s)",
            fleet["outcome_landed_s"]["max"],
            "<=",
            TARGET_S,
        ),
        check("cards not updated exactly once", fleet["not_once"], "<=", 0),
    ]
    return emit(
        {
            "benchmark": "failover",
            "setup": {
                "processes": PROCESSES,
                "store": "one redis-server, no persistence",
                "ot_poll_interval_s": args.poll_interval,
                "webhooks": "none (the feed poll only)",
                "feed_lease": {
                    "bot": {
                        "heartbeat_s": feed_lease.HEARTBEAT.total_seconds(),
                        "ttl_s": feed_lease.LEASE_TTL.total_seconds(),
                    },
                    "baseline": {
                        "heartbeat_s": heartbeat.total_seconds(),
                        "ttl_s": ttl.total_seconds(),
                    },
                },
                "bots": "python -m bot serve (baseline: python -m bench.failover serve-baseline)",
                "simulators": "in the benchmark process",
                "seed": args.seed,
            },
            "results": fleet,
            "baseline": old,
            **verdict(targets, load_before),
            "wall_time_s": round(time.monotonic() - started, 1),
        }
    )


async def run(
    args: argparse.Namespace, workdir: Path, rng: random.Random, *, baseline: bool
) -> dict[str, Any]:
    rounds = args.baseline_rounds if baseline else args.rounds
    heartbeat = (
        old_timing(args.poll_interval)[0] if baseline else feed_lease.HEARTBEAT
    ).total_seconds()
    opentrain = OpenTrainSim(seed="demo")
    await opentrain.start(HOST, 0)
    slack = SlackSim(signing_secret=SIGNING_SECRET)
    await slack.start(HOST, 0)
    redis = await start_redis()
    store = await RedisStore.connect(redis.url)
    bots: list[Proc] = []
    try:
        seeded = await seed_pending(
            opentrain, slack, store, count=rounds, channels=add_channels(slack, CHANNELS)
        )
        env = sim_bot_env(
            opentrain, slack, store_url=redis.url, ot_poll_interval_seconds=args.poll_interval
        )
        name = "baseline" if baseline else "bot"
        command = ["-m", "bench.failover", "serve-baseline"] if baseline else ["-m", "bot", "serve"]
        kills = []
        started = 0
        for victim in seeded:
            while len(bots) < PROCESSES:  # a new process replaces the one killed
                started += 1
                bots.append(await start_bot(command, env, workdir, f"{name}-{started}"))
            kills.append(
                await kill_the_leader(store, slack, opentrain, bots, victim, rng, heartbeat)
            )
            progress(f"{name}: {kills[-1]}")
        await asyncio.sleep(SETTLE_SECONDS)
    finally:
        for bot in bots:
            await stop(bot)
        await store.close()
        redis.stop()
        await slack.stop()
        await opentrain.stop()
    landings = [landing(slack, victim) for victim in seeded]
    return {
        "rounds": kills,
        "lease_taken_over_s": summarize([k["lease_taken_over_s"] for k in kills], 2),
        "card_updated_s": summarize([k["card_updated_s"] for k in kills], 2),
        "outcome_landed_s": summarize([k["outcome_landed_s"] for k in kills], 2),
        "not_once": sum(1 for found in landings if (found.card_updates, found.replies) != (1, 1)),
    }


async def start_bot(command: list[str], env: dict[str, str], workdir: Path, name: str) -> Proc:
    port = free_port()
    bot = spawn(name, command, port=port, log_dir=workdir, env={**env, "PORT": str(port)})
    await bot.wait_ready("/healthz")
    return bot


async def kill_the_leader(
    store: RedisStore,
    slack: SlackSim,
    opentrain: OpenTrainSim,
    bots: list[Proc],
    victim: SeededApproval,
    rng: random.Random,
    heartbeat: float,
) -> dict[str, Any]:
    """Kill the feed leader at a random phase of its heartbeat, confirm `victim` at once,
    and time the takeover and the outcome's landing; the dead process leaves `bots`."""
    await wait_until(lambda: outbox_empty(store), timeout=120, message="an empty outbox")
    await wait_until(lambda: leader_of(store, bots), timeout=120, message="a feed leader")
    await asyncio.sleep(rng.uniform(0, heartbeat))
    leader = await wait_until(lambda: leader_of(store, bots), timeout=120, message="the leader")
    killed_at = time.time()
    leader.kill()
    confirm(opentrain, [victim.approval_id])
    bots.remove(leader)
    successor = await wait_until(
        lambda: leader_of(store, bots), timeout=180, interval=0.02, message="a new leader"
    )
    lease_at = time.time()
    await wait_until(
        lambda: all_landed(slack, [victim]), timeout=180, interval=0.02, message="the outcome"
    )
    found = landing(slack, victim)
    assert found.updated_at is not None and found.replied_at is not None
    return {
        "killed": leader.name,
        "new_leader": successor.name,
        "lease_taken_over_s": round(lease_at - killed_at, 2),
        "card_updated_s": round(found.updated_at - killed_at, 2),
        "outcome_landed_s": round(max(found.updated_at, found.replied_at) - killed_at, 2),
    }


async def leader_of(store: RedisStore, bots: list[Proc]) -> Proc | None:
    holder = await store.lease_holder(feed_lease.FEED_LEASE)
    # A lease owner is `host:pid:nonce` (bot.app.process_owner).
    return next((b for b in bots if holder and holder.split(":")[1] == str(b.pid)), None)


async def outbox_empty(store: RedisStore) -> bool:
    return await store.count_effects(done=False) == 0


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.mode == "serve-baseline":
        sys.exit(serve_baseline())
    sys.exit(asyncio.run(main(arguments)))
