"""Benchmark 8 — many agents waiting on one approval (`GET …?waitSeconds=60`).

One deployment of real processes over loopback: the OpenTrain simulator and the Slack simulator
as subprocesses, and two bots (`python -m bot serve`) on one SQLite file — the *leader*, started
first, holds the feed lease and gets OpenTrain's webhook (the doorbell), the *replica* only
answers. This process drives and watches.

Per round, a fresh hire approval (requested from OpenTrain directly, tracked with
`/opentrain track <id>`), then one of three phases:

* `baseline`: nobody waits. The script holds for `--hold` seconds plus up to one watcher
  interval (random, so confirms land at every phase of the replica's looks; the bots' CPU
  measured), then confirms (`POST /_sim/approvals/{id}/confirm` starts the clock) and polls a
  plain `GET /agent/v1/approvals/{id}` on the leader every 10 ms: when the bot knew the outcome.
* `leader`: `--waiters` (200) concurrent `GET /agent/v1/approvals/{id}?waitSeconds=60` on the
  leader, which applies the outcome itself (woken by its tracker's notify). Once every request
  is sent the script lets the bot take them in (1 s), holds as long as the baseline (CPU
  measured: the cost of holding them), confirms, and times each answer.
* `replica`: the same waiters on the replica, which learns the outcome from the shared store
  (its watcher's look every 0.5 s).

OpenTrain's request log (`GET /_sim/requests`) is read around each round: reads of the approval
(`GET /approvals/{id}`) while the waiters were held, and after the confirm. Targets: every
waiter answered `confirmed`; no OpenTrain request from waiting (0 reads while held, the same
reads after the confirm as the baseline: the tracker's own one); all answered within
`TARGET_LEADER_MS` of the confirm on the leader, `TARGET_REPLICA_MS` on the replica.

`python -m bench.waiters [--waiters 200] [--rounds 5] [--hold 3]`
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench._processes import cpu_seconds, log_lines
from bench.common import (
    HOST,
    Fleet,
    Proc,
    bot_env,
    check,
    fleet,
    free_port,
    load_average,
    percentile,
    progress,
    run_in_scratch,
    verdict,
    wait_until,
)
from bench.outcome_latency import CHANNEL, CREDITS_CENTS, request_hires, subscribe, track_all
from bot.outcome_waits import WATCH_INTERVAL_SECONDS

AGENT = "bench"
AGENT_TOKEN = "agent-token-bench-0123456789abcdef"
PHASES = ("baseline", "leader", "replica")
WAIT_SECONDS = 60
POLL_S = 0.01  # the baseline's plain GET, to see when the bot knew the outcome
INTAKE_S = 1.0  # after the last waiter's request was sent, before the hold is measured
SETTLE_S = 2.0  # after the last answer: room for any late OpenTrain read to show in the log
TARGET_LEADER_MS = 1000.0  # every waiter answered within this of the confirm
TARGET_REPLICA_MS = TARGET_LEADER_MS + WATCH_INTERVAL_SECONDS * 1000


# --- pure helpers (tests/unit/test_bench_smoke.py) ---------------------------------------------


def latency_ms(answered_at: Sequence[float], confirmed_at: float) -> dict[str, float | int]:
    """n, min, p50, p95, max of the answers' times after the confirm, in ms."""
    values = [(at - confirmed_at) * 1000 for at in answered_at]
    return {
        "n": len(values),
        "min": round(min(values), 1),
        "p50": round(percentile(values, 50), 1),
        "p95": round(percentile(values, 95), 1),
        "max": round(max(values), 1),
    }


def opentrain_requests(requests: Sequence[dict[str, Any]], approval_id: str) -> dict[str, int]:
    """OpenTrain requests by kind: reads of `approval_id`, feed polls, anything else."""
    kinds: Counter[str] = Counter(approval_reads=0, feed_polls=0, other=0)
    for request in requests:
        if request["method"] == "GET" and request["path"] == f"/approvals/{approval_id}":
            kinds["approval_reads"] += 1
        elif request["path"] == "/updates":
            kinds["feed_polls"] += 1
        else:
            kinds["other"] += 1
    return dict(kinds)


def held_for(args: argparse.Namespace) -> float:
    """`--hold` plus up to one watcher interval, so confirms land at every phase of its looks."""
    return float(args.hold + args.rng.uniform(0, WATCH_INTERVAL_SECONDS))


# --- the deployment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    opentrain: Proc
    slack: Proc
    leader: Proc
    replica: Proc


async def deploy(args: argparse.Namespace, procs: Fleet, http: httpx.AsyncClient) -> Deployment:
    opentrain = await procs.opentrain_sim()
    account = {"availableCents": CREDITS_CENTS}
    (await http.patch(f"{opentrain.url}/_sim/account", json=account)).raise_for_status()
    leader_port = free_port()
    secret = await subscribe(http, opentrain, f"http://{HOST}:{leader_port}/opentrain/webhook")
    slack = await procs.slack_sim(bot_url=f"http://{HOST}:{leader_port}/slack/events")
    # Every waiting request counts against its agent's rate: room for all of them.
    policy = procs.log_dir / "policy.yaml"
    policy.write_text("default:\n  requestsPerMinute: 10000\n", encoding="utf-8")
    settings: dict[str, object] = {
        "opentrain_url": opentrain.url,
        "slack_url": slack.url,
        "database_url": f"sqlite:///{procs.log_dir / 'bot.db'}",
        "default_channel": CHANNEL,
        "ot_poll_interval_seconds": args.poll_interval,
        "ot_webhook_secret": secret,
        "agent_tokens": f"{AGENT}:{AGENT_TOKEN}",
        "agent_policy_file": str(policy),
    }
    leader = await procs.bot(bot_env(port=leader_port, **settings), name="bot-leader")
    await wait_until(
        lambda: log_lines(leader, r"feed leadership .*leading=True"),
        timeout=30,
        message="the first bot leads the feed",
    )
    replica = await procs.bot(bot_env(**settings), name="bot-replica")
    return Deployment(opentrain, slack, leader, replica)


# --- one round ---------------------------------------------------------------------------------


async def request_log(http: httpx.AsyncClient, opentrain: Proc, since: int) -> list[dict[str, Any]]:
    answer = await http.get(f"{opentrain.url}/_sim/requests", params={"since": since})
    requests: list[dict[str, Any]] = answer.raise_for_status().json()["requests"]
    return requests


async def log_length(http: httpx.AsyncClient, opentrain: Proc) -> int:
    answer = await http.get(f"{opentrain.url}/_sim/requests", params={"since": 0})
    return int(answer.raise_for_status().json()["next"])


async def confirm(http: httpx.AsyncClient, opentrain: Proc, approval_id: str) -> float:
    """The human confirms in OpenTrain; when the confirm was sent (perf_counter)."""
    sent = time.perf_counter()
    confirmed = await http.post(f"{opentrain.url}/_sim/approvals/{approval_id}/confirm", json={})
    confirmed.raise_for_status()
    return sent


async def round_without_waiters(
    deployment: Deployment, approval_id: str, args: argparse.Namespace, http: httpx.AsyncClient
) -> dict[str, Any]:
    mark = await log_length(http, deployment.opentrain)
    procs = (deployment.leader, deployment.replica)
    cpu = [cpu_seconds(p.pid) for p in procs]
    await asyncio.sleep(held_for(args))
    cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu, strict=True)]
    held = opentrain_requests(await request_log(http, deployment.opentrain, mark), approval_id)
    after = await log_length(http, deployment.opentrain)
    url = f"{deployment.leader.url}/agent/v1/approvals/{approval_id}"
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    confirmed_at = await confirm(http, deployment.opentrain, approval_id)

    async def known() -> bool:
        body = (await http.get(url, headers=agent)).raise_for_status().json()
        return body["tracked"]["outcome"] is not None

    await wait_until(known, timeout=WAIT_SECONDS, interval=POLL_S, message="the outcome")
    learned = time.perf_counter()
    await asyncio.sleep(SETTLE_S)
    return {
        "known_ms": round((learned - confirmed_at) * 1000, 1),
        "cpu_seconds_while_held": [round(c, 2) for c in cpu],
        "opentrain_while_held": held,
        "opentrain_after_confirm": opentrain_requests(
            await request_log(http, deployment.opentrain, after), approval_id
        ),
    }


async def round_with_waiters(
    bot: Proc,
    deployment: Deployment,
    approval_id: str,
    args: argparse.Namespace,
    http: httpx.AsyncClient,
) -> dict[str, Any]:
    sent = 0
    all_sent = asyncio.Event()

    async def on_sent(*_: object) -> None:
        nonlocal sent
        sent += 1
        if sent == args.waiters:
            all_sent.set()

    tracing = aiohttp.TraceConfig()
    tracing.on_request_headers_sent.append(on_sent)
    answers: list[tuple[float, int, str | None]] = []
    url = f"{bot.url}/agent/v1/approvals/{approval_id}?waitSeconds={WAIT_SECONDS}"
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    timeout = aiohttp.ClientTimeout(total=WAIT_SECONDS + 30)
    connector = aiohttp.TCPConnector(limit=0)  # one connection per waiter, as separate agents
    async with aiohttp.ClientSession(
        connector=connector, trace_configs=[tracing], timeout=timeout
    ) as session:

        async def wait() -> None:
            async with session.get(url, headers=agent) as answer:
                body = await answer.json()
                status = body.get("tracked", {}).get("status") if answer.status == 200 else None
                answers.append((time.perf_counter(), answer.status, status))

        mark = await log_length(http, deployment.opentrain)
        waiting = [asyncio.create_task(wait()) for _ in range(args.waiters)]
        await asyncio.wait_for(all_sent.wait(), WAIT_SECONDS / 2)
        # Every request is on the wire: let the bot take them all in, then measure what holding
        # them costs.
        await asyncio.sleep(INTAKE_S)
        procs = (deployment.leader, deployment.replica)
        cpu = [cpu_seconds(p.pid) for p in procs]
        await asyncio.sleep(held_for(args))
        cpu = [cpu_seconds(p.pid) - c for p, c in zip(procs, cpu, strict=True)]
        early = len(answers)
        held = opentrain_requests(await request_log(http, deployment.opentrain, mark), approval_id)
        after = await log_length(http, deployment.opentrain)
        confirmed_at = await confirm(http, deployment.opentrain, approval_id)
        await asyncio.gather(*waiting)
    await asyncio.sleep(SETTLE_S)
    statuses = Counter(f"{code} {status}" for _, code, status in answers)
    return {
        "answered_before_confirm": early,
        "answers": dict(statuses),
        "latency_ms": latency_ms([at for at, _, _ in answers], confirmed_at),
        "cpu_seconds_while_held": [round(c, 2) for c in cpu],
        "opentrain_while_held": held,
        "opentrain_after_confirm": opentrain_requests(
            await request_log(http, deployment.opentrain, after), approval_id
        ),
    }


# --- the run -----------------------------------------------------------------------------------


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """A phase's rounds together: worst latencies, summed answers and OpenTrain requests."""

    def total(key: str) -> dict[str, int]:
        counted: Counter[str] = Counter()
        for one in rounds:
            counted.update(one[key])
        return dict(counted)

    result: dict[str, Any] = {
        "rounds": len(rounds),
        "opentrain_while_held": total("opentrain_while_held"),
        "opentrain_after_confirm": total("opentrain_after_confirm"),
        "cpu_seconds_while_held_per_round": [one["cpu_seconds_while_held"] for one in rounds],
    }
    if "latency_ms" in rounds[0]:
        for stat in ("min", "p50", "p95", "max"):
            result[f"{stat}_ms_per_round"] = [one["latency_ms"][stat] for one in rounds]
        result["worst_max_ms"] = max(one["latency_ms"]["max"] for one in rounds)
        result["answers"] = total("answers")
        result["answered_before_confirm"] = sum(one["answered_before_confirm"] for one in rounds)
    else:
        result["known_ms_per_round"] = [one["known_ms"] for one in rounds]
    return result


async def run(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    load_before = load_average()
    phases: dict[str, list[dict[str, Any]]] = {phase: [] for phase in PHASES}
    with fleet(log_dir) as procs:
        async with httpx.AsyncClient(timeout=30) as http:
            deployment = await deploy(args, procs, http)
            approvals = await request_hires(http, deployment.opentrain, args.rounds * len(PHASES))
            progress(f"tracking {len(approvals)} approvals in Slack")
            await track_all(http, deployment.slack, approvals)
            for index, approval_id in enumerate(approvals):
                phase = PHASES[index % len(PHASES)]
                progress(f"round {index // len(PHASES) + 1}/{args.rounds}: {phase}")
                if phase == "baseline":
                    result = await round_without_waiters(deployment, approval_id, args, http)
                else:
                    bot = deployment.leader if phase == "leader" else deployment.replica
                    result = await round_with_waiters(bot, deployment, approval_id, args, http)
                phases[phase].append(result)
            applied = [
                len(log_lines(bot, r"approval resolved"))
                for bot in (deployment.leader, deployment.replica)
            ]
            await asyncio.gather(deployment.leader.terminate(), deployment.replica.terminate())
    results = {phase: summary(rounds) for phase, rounds in phases.items()}
    expected = "200 confirmed"
    baseline_reads = results["baseline"]["opentrain_after_confirm"]["approval_reads"]
    targets = []
    for phase, limit in (("leader", TARGET_LEADER_MS), ("replica", TARGET_REPLICA_MS)):
        result = results[phase]
        targets += [
            check(
                f"{phase}: waiters answered {expected}",
                result["answers"].get(expected, 0),
                ">=",
                args.waiters * args.rounds,
            ),
            check(
                f"{phase}: answered before the confirm", result["answered_before_confirm"], "<=", 0
            ),
            check(
                f"{phase}: OpenTrain reads of the approval while held",
                result["opentrain_while_held"]["approval_reads"],
                "<=",
                0,
            ),
            check(
                f"{phase}: OpenTrain reads of the approval after the confirm",
                result["opentrain_after_confirm"]["approval_reads"],
                "<=",
                baseline_reads,
            ),
            check(
                f"{phase}: all answered after the confirm (worst max ms)",
                result["worst_max_ms"],
                "<",
                limit,
            ),
        ]
    return {
        "benchmark": "waiters",
        "setup": {
            "processes": "OpenTrain sim, Slack sim and two bots (`python -m bot serve`, one "
            "SQLite file, webhook doorbell to the leader) are subprocesses; this process "
            "requests, tracks, waits, confirms and watches",
            "waiters": args.waiters,
            "rounds_per_phase": args.rounds,
            "hold_seconds": args.hold,
            "wait_seconds": WAIT_SECONDS,
            "watch_interval_seconds": WATCH_INTERVAL_SECONDS,
            "ot_poll_interval_seconds": args.poll_interval,
            "measured": "POST /_sim/approvals/{id}/confirm sent → each waiter's 200 read",
        },
        "results": {"leader": results["leader"], "replica": results["replica"]},
        "baseline": results["baseline"],
        "outcomes_applied_by": {"leader": applied[0], "replica": applied[1]},
        **verdict(targets, load_before),
    }


# --- command line ------------------------------------------------------------------------------


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.waiters", description=__doc__)
    parser.add_argument("--waiters", type=int, default=200, help="waiters per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per phase")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds held before confirming")
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="OT_POLL_INTERVAL_SECONDS"
    )
    parser.add_argument("--seed", type=int, default=8, help="random hold lengths")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep process logs (path on stderr)"
    )
    args = parser.parse_args(argv)
    args.rng = random.Random(args.seed)
    return args


def main(argv: list[str] | None = None) -> int:
    return run_in_scratch("bench-waiters-", run, arguments(argv))


if __name__ == "__main__":
    sys.exit(main())
