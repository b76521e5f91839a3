"""Benchmark 5 — footprint: one bot tracking 10 000 pending approvals, and the store per approval.

For each store (SQLite, the default; Redis, for replicas): seed N pending
milestone fundings with their cards (what N adopts leave behind: the record,
its done card effect, two audit entries; see bench/_processes.py), start
`python -m bot serve`, let its jobs run (feed poll, due checks, reminders),
open a Home tab and ask `/opentrain pending` (the paths that read every pending
approval), then read VmRSS and VmHWM from `/proc/<pid>/status`. Store size per
approval: the SQLite file's growth / N; Redis `INFO memory` used_memory growth / N.

Baseline, same run: an idle bot with 0 approvals, same steps.

Processes: the bot is `python -m bot serve`, Redis a `redis-server`; both
simulators run in this process.

    .venv/bin/python -m bench.footprint [--approvals 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench._processes import (
    RedisServer,
    add_channels,
    proc_status,
    seed_pending,
    sim_bot_env,
    start_redis,
    stop,
)
from bench.common import (
    HOST,
    SIGNING_SECRET,
    check,
    emit,
    load_average,
    progress,
    spawn,
    verdict,
    wait_until,
)
from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.slack import SlackSim
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

RSS_TARGET_MB = 150
CHANNELS = 10
READER = "U0ANA"  # opens her Home tab and lists what is pending
# RSS is sampled this long after the reads, at this interval; the maximum is reported.
SAMPLE_SECONDS = 5.0
SAMPLE_INTERVAL = 0.25


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    parser.add_argument("--approvals", type=int, default=10_000)
    return parser.parse_args()


async def main() -> int:
    args = parse_args()
    started = time.monotonic()
    load_before = load_average()
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        workdir = Path(tmp)
        for backend in ("sqlite", "redis"):
            for count in (0, args.approvals):
                label = f"{backend}-{count}"
                progress(f"{label}: seeding and starting the bot")
                runs[label] = await measure(workdir, backend=backend, count=count)
                progress(f"{label}: {runs[label]}")
    n = args.approvals
    results = {
        "approvals": n,
        "bot_rss_mb": {b: runs[f"{b}-{n}"]["rss_max_mb"] for b in ("sqlite", "redis")},
        "bot_peak_rss_mb": {b: runs[f"{b}-{n}"]["vm_hwm_mb"] for b in ("sqlite", "redis")},
        "store_bytes_per_approval": {
            b: round(runs[f"{b}-{n}"]["store_growth_bytes"] / n) for b in ("sqlite", "redis")
        },
        "runs": {label: run for label, run in runs.items() if not label.endswith("-0")},
    }
    baseline = {
        "approvals": 0,
        "bot_rss_mb": {b: runs[f"{b}-0"]["rss_max_mb"] for b in ("sqlite", "redis")},
        "bot_peak_rss_mb": {b: runs[f"{b}-0"]["vm_hwm_mb"] for b in ("sqlite", "redis")},
        "runs": {label: run for label, run in runs.items() if label.endswith("-0")},
    }
    targets = [
        check(
            f"peak RSS with {n} pending, SQLite (MB)",
            runs[f"sqlite-{n}"]["vm_hwm_mb"],
            "<",
            RSS_TARGET_MB,
        ),
        check(
            f"peak RSS with {n} pending, Redis (MB)",
            runs[f"redis-{n}"]["vm_hwm_mb"],
            "<",
            RSS_TARGET_MB,
        ),
    ]
    return emit(
        {
            "benchmark": "footprint",
            "setup": {
                "approvals": n,
                "channels": CHANNELS,
                "reads": "App Home opened by one requester, then /opentrain pending",
                "bot": "python -m bot serve",
                "simulators": "in the benchmark process",
                "redis": "redis-server, no persistence",
            },
            "results": results,
            "baseline": baseline,
            **verdict(targets, load_before),
            "wall_time_s": round(time.monotonic() - started, 1),
        }
    )


async def measure(workdir: Path, *, backend: str, count: int) -> dict[str, Any]:
    opentrain = OpenTrainSim(seed="demo")
    await opentrain.start(HOST, 0)
    slack = SlackSim(signing_secret=SIGNING_SECRET)
    await slack.start(HOST, 0)
    redis: RedisServer | None = None
    try:
        channels = add_channels(slack, CHANNELS)
        if backend == "redis":
            redis = await start_redis()
            store_url = redis.url
        else:
            store_url = f"sqlite:///{workdir / f'{backend}-{count}.db'}"
        # Measured closed, like after seeding: an empty schema, no client buffers.
        await (await open_store(store_url)).close()
        before = await store_size(store_url)
        store = await open_store(store_url)
        seed_started = time.monotonic()
        await seed_pending(opentrain, slack, store, count=count, channels=channels)
        seeding = time.monotonic() - seed_started
        await store.close()  # SQLite folds its write-ahead log into the file on close
        growth = await store_size(store_url) - before
        run = await observe_bot(opentrain, slack, workdir, store_url=store_url, count=count)
        return {**run, "store_growth_bytes": growth, "seeding_s": round(seeding, 1)}
    finally:
        if redis is not None:
            redis.stop()
        await slack.stop()
        await opentrain.stop()


async def open_store(store_url: str) -> Store:
    if store_url.startswith("redis"):
        return await RedisStore.connect(store_url)
    return await SqliteStore.open(store_url.removeprefix("sqlite:///"))


async def store_size(store_url: str) -> int:
    """Bytes the store holds: the SQLite file (with any write-ahead log), or Redis used_memory."""
    if store_url.startswith("redis"):
        client = Redis.from_url(store_url)
        try:
            info = await client.info("memory")
        finally:
            await client.aclose()
        return int(info["used_memory"])
    path = Path(store_url.removeprefix("sqlite:///"))
    return sum(f.stat().st_size for f in path.parent.glob(f"{path.name}*"))


async def observe_bot(
    opentrain: OpenTrainSim, slack: SlackSim, workdir: Path, *, store_url: str, count: int
) -> dict[str, Any]:
    env = sim_bot_env(opentrain, slack, store_url=store_url)
    name = f"bot-{'redis' if store_url.startswith('redis') else 'sqlite'}-{count}"
    bot = spawn(name, ["-m", "bot", "serve"], port=int(env["PORT"]), log_dir=workdir, env=env)
    try:
        await bot.wait_ready("/healthz")
        slack.bot_url = f"{bot.url}/slack/events"
        await wait_until(
            lambda: any(r["path"] == "/updates" for r in opentrain.requests.since(0)),
            timeout=30,
            message="the first feed poll",
        )
        idle = proc_status(bot.pid)  # the startup reminder tick may or may not have run
        home = await slack.driver.open_home(READER)
        pending = await slack.send_command(
            command="/opentrain", text="pending", user_id=READER, channel_id="C0BENCH00"
        )
        if not (home.ok and pending.ok):
            raise RuntimeError(f"the bot refused a read: {home.to_dict()} {pending.to_dict()}")
        await wait_until(
            lambda: slack.state.home_view(READER) is not None and slack.state.response_posts,
            timeout=60,
            message="the Home tab and the pending list",
        )
        samples = []
        deadline = time.monotonic() + SAMPLE_SECONDS
        while time.monotonic() < deadline:
            samples.append(proc_status(bot.pid)["VmRSS"])
            await asyncio.sleep(SAMPLE_INTERVAL)
        status = proc_status(bot.pid)
    finally:
        await stop(bot)
    return {
        "rss_before_reads_mb": round(idle["VmRSS"] / 1024, 1),
        "rss_max_mb": round(max(samples) / 1024, 1),
        "vm_hwm_mb": round(status["VmHWM"] / 1024, 1),
        "home_ack_ms": round(home.elapsed_ms, 1),
        "pending_ack_ms": round(pending.elapsed_ms, 1),
    }


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
