"""Benchmark 7 — outcome latency while strangers flood the agent API.

One deployment of real processes over loopback, as in bench/outcome_latency.py's webhook mode:
the OpenTrain simulator and the Slack simulator as subprocesses, the bot as `python -m bot serve`
(SQLite, an agent token configured, the webhook doorbell on). This process drives and watches.

Setup: `2 × --samples` hire approvals requested from OpenTrain directly and tracked in Slack with
`/opentrain track <id>`; every card posted.

Measurement, one approval at a time, as in outcome_latency: `POST /_sim/approvals/{id}/confirm`
starts the clock, the Slack simulator's change feed stops it at the card's `chat.update` (and at
the thread reply). Two phases on the same deployment, each with its own approvals:

* `idle` (the baseline): nothing else happens.
* `flood`: a separate process (`python -m bench.flood flooder …`) sends agent API requests
  without a valid token (none, wrong, malformed; every endpoint), `--concurrency` (50) in flight
  on one aiohttp client, each worker sending its next as soon as the last is answered, for the
  whole phase (counted in waves of `--requests`, 2 000), from 127.0.0.2 so that this process's
  own agent calls (127.0.0.1) are not the ones blocked. After each confirm the script also times
  one authenticated `GET /agent/v1/approvals/{id}` from 127.0.0.1.

Target: card updated p99 under the flood ≤ 1.5 × the idle p99. Also reported: the flooder's
answers by status and its rate, the bot's CPU per phase, and the bot's log lines about strangers.

`python -m bench.flood [--samples 50] [--requests 2000] [--concurrency 50]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections import Counter
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
    progress,
    run_in_scratch,
    spawn,
    summarize,
    verdict,
    wait_until,
)
from bench.outcome_latency import (
    CHANNEL,
    CREDITS_CENTS,
    UPDATE_SPACING_S,
    Outcome,
    SlackChanges,
    confirm_and_watch,
    report,
    request_hires,
    subscribe,
    track_all,
    verify,
)

AGENT = "bench"
AGENT_TOKEN = "agent-token-bench-0123456789abcdef"
STRANGER_ADDRESS = "127.0.0.2"  # Linux answers the whole 127/8 on loopback
TARGET_RATIO = 1.5
PREFIX = "/agent/v1"
WRONG = "agent-token-wrong-00000000000000000"
# What a stranger sends, taken in turn: (method, path, body) × Authorization headers.
TARGETS: list[tuple[str, str, Any]] = [
    ("POST", "hire", {"proposalId": "prop_ada", "milestone": {"name": "B", "amount": 450}}),
    ("POST", "fund", {"milestoneId": "ms_batch2"}),
    ("POST", "approvals", {"approvalId": "apr_x"}),
    ("GET", "approvals/apr_x", None),
]
STRANGER_HEADERS: list[dict[str, str]] = [
    {},
    {"Authorization": f"Bearer {WRONG}"},
    {"Authorization": f"Bearer {AGENT_TOKEN[:-1]}"},
    {"Authorization": "Bearer"},
    {"Authorization": f"Basic {AGENT_TOKEN}"},
    {"Authorization": f"Bearer {WRONG}", "X-Forwarded-For": "198.51.100.23"},
]
FLOODING = "flooder: first answers in"


# --- the flooder (its own process) ------------------------------------------------------------


async def flood(url: str, requests: int, concurrency: int, source: str) -> dict[str, Any]:
    """Requests without a valid token, `concurrency` in flight, until SIGTERM; what was answered.

    `concurrency` workers on one client, each sending its next request as soon as the last is
    answered, so the pressure is steady (a wave of `requests` is only how it is counted)."""
    statuses: Counter[str] = Counter()
    with_retry_after = 0
    sent = 0
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency, local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal sent, with_retry_after
            while True:
                index, sent = sent, sent + 1
                method, path, body = TARGETS[index % len(TARGETS)]
                headers = STRANGER_HEADERS[index // len(TARGETS) % len(STRANGER_HEADERS)]
                try:
                    async with session.request(
                        method, f"{url}{PREFIX}/{path}", json=body, headers=headers
                    ) as answer:
                        await answer.read()
                        statuses[str(answer.status)] += 1
                        with_retry_after += "Retry-After" in answer.headers
                except aiohttp.ClientError as exc:
                    statuses[type(exc).__name__] += 1
                if statuses.total() == concurrency:
                    print(FLOODING, file=sys.stderr, flush=True)

        stopping = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await stopping.wait()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    seconds = time.perf_counter() - started
    answered = statuses.total()
    return {
        "requests": answered,
        "waves": round(answered / requests, 1),
        "seconds": round(seconds, 1),
        "per_second": round(answered / seconds, 1),
        "statuses": dict(statuses),
        "answers_with_retry_after": with_retry_after,
    }


async def start_flooder(procs: Fleet, bot: Proc, args: argparse.Namespace) -> Proc:
    command = ["-m", "bench.flood", "flooder", "--url", bot.url]
    command += ["--requests", str(args.requests), "--concurrency", str(args.concurrency)]
    proc = spawn("flooder", command, port=0, log_dir=procs.log_dir, env={})
    procs.procs.append(proc)
    await wait_until(
        lambda: FLOODING in proc.output() or not proc.alive,
        timeout=60,
        message="the flooder's first answers",
    )
    if not proc.alive:
        raise RuntimeError(f"the flooder exited:\n{proc.output()}")
    return proc


def flooder_report(proc: Proc) -> dict[str, Any]:
    """The JSON line the flooder printed when it stopped."""
    for line in reversed(proc.output(tail=100_000).splitlines()):
        if line.startswith("{"):
            report: dict[str, Any] = json.loads(line)
            return report
    raise RuntimeError(f"the flooder printed no report:\n{proc.output()}")


# --- the deployment ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    opentrain: Proc
    slack: Proc
    bot: Proc


async def deploy(args: argparse.Namespace, procs: Fleet, http: httpx.AsyncClient) -> Deployment:
    """outcome_latency's webhook deployment, with an agent token so the agent API is in use."""
    opentrain = await procs.opentrain_sim()
    account = {"availableCents": CREDITS_CENTS}
    (await http.patch(f"{opentrain.url}/_sim/account", json=account)).raise_for_status()
    port = free_port()
    secret = await subscribe(http, opentrain, f"http://{HOST}:{port}/opentrain/webhook")
    slack = await procs.slack_sim(bot_url=f"http://{HOST}:{port}/slack/events")
    # The measuring agent reads its approval after every confirm (more than the default 30 a
    # minute); only strangers are to be turned away here.
    policy = procs.log_dir / "policy.yaml"
    policy.write_text("default:\n  requestsPerMinute: 1000\n", encoding="utf-8")
    env = bot_env(
        opentrain_url=opentrain.url,
        slack_url=slack.url,
        port=port,
        database_url=f"sqlite:///{procs.log_dir / 'bot.db'}",
        default_channel=CHANNEL,
        ot_poll_interval_seconds=args.poll_interval,
        ot_webhook_secret=secret,
        agent_tokens=f"{AGENT}:{AGENT_TOKEN}",
        agent_policy_file=str(policy),
    )
    return Deployment(opentrain, slack, await procs.bot(env))


# --- measuring --------------------------------------------------------------------------------


async def measure_phase(
    phase: str,
    deployment: Deployment,
    approvals: list[str],
    card_ts: dict[str, str],
    args: argparse.Namespace,
    http: httpx.AsyncClient,
) -> dict[str, Any]:
    changes = SlackChanges(http, deployment.slack.url)
    await changes.quiet(2.0)
    rng = random.Random(args.seed)
    timeout = args.poll_interval * 3 + 10
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    outcomes: list[Outcome] = []
    agent_ms: list[float] = []
    agent_statuses: Counter[int] = Counter()
    cpu_before = cpu_seconds(deployment.bot.pid)
    started_phase = time.perf_counter()
    progress(f"{phase}: confirming {len(approvals)} approvals one at a time")
    for approval_id in approvals:
        await asyncio.sleep(UPDATE_SPACING_S + rng.uniform(0, 1.0))
        await changes.next(0)  # skip anything that changed meanwhile
        outcomes.append(
            await confirm_and_watch(
                http, deployment.opentrain.url, changes, approval_id, card_ts[approval_id], timeout
            )
        )
        asked = time.perf_counter()
        answer = await http.get(
            f"{deployment.bot.url}{PREFIX}/approvals/{approval_id}", headers=agent
        )
        agent_ms.append((time.perf_counter() - asked) * 1000)
        agent_statuses[answer.status_code] += 1
    seconds = time.perf_counter() - started_phase
    cpu = cpu_seconds(deployment.bot.pid) - cpu_before

    latency = report(phase, outcomes, {})
    return {
        "phase": latency.pop("mode"),
        **latency,
        "missed": sum(1 for o in outcomes if o.card_ms is None),
        "agent_get_ms": summarize(agent_ms),
        "agent_get_statuses": {str(k): v for k, v in agent_statuses.items()},
        "seconds": round(seconds, 1),
        "bot_cpu_seconds": round(cpu, 1),
    }


def card_p99(result: dict[str, Any]) -> float:
    if result["card_update_ms"] is None or result["missed"]:
        return float("inf")
    return float(result["card_update_ms"]["p99"])


async def run(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    load_before = load_average()
    with fleet(log_dir) as procs:
        async with httpx.AsyncClient(timeout=30) as http:
            deployment = await deploy(args, procs, http)
            approvals = await request_hires(http, deployment.opentrain, 2 * args.samples)
            progress(f"tracking {len(approvals)} approvals in Slack")
            card_ts = await track_all(http, deployment.slack, approvals)
            idle_ids, flood_ids = approvals[: args.samples], approvals[args.samples :]
            idle = await measure_phase("idle", deployment, idle_ids, card_ts, args, http)
            progress("starting the flooder")
            flooder = await start_flooder(procs, deployment.bot, args)
            flooded = await measure_phase("flood", deployment, flood_ids, card_ts, args, http)
            await flooder.terminate()
            flooded["flooder"] = flooder_report(flooder)
            await SlackChanges(http, deployment.slack.url).quiet(args.poll_interval + 2)
            state = (await http.get(f"{deployment.slack.url}/_sim/state")).json()
            verified = verify(state, approvals, card_ts)
            stranger_lines = log_lines(deployment.bot, "agent=unauthenticated")
            suppressed = log_lines(deployment.bot, "agent=unauthenticated.* suppressed=")
            await deployment.bot.terminate()
    flooded["bot_log_lines_about_strangers"] = len(stranger_lines)
    flooded["of_which_telling_suppressed"] = len(suppressed)
    limit = TARGET_RATIO * card_p99(idle)
    targets = [
        check("flood: p99 card updated (ms)", card_p99(flooded), "<=", round(limit, 1)),
        check("cards resolved", verified["cards_resolved"], ">=", len(approvals)),
        check("duplicate replies", verified["duplicate_replies"], "<=", 0),
        check(
            "flood: agent GETs answered 200",
            flooded["agent_get_statuses"].get("200", 0),
            ">=",
            args.samples,
        ),
    ]
    return {
        "benchmark": "flood",
        "setup": {
            "processes": "OpenTrain sim, Slack sim, bot (`python -m bot serve`, SQLite, "
            "webhook doorbell, one agent token) and the flooder are subprocesses; this process "
            "requests, tracks, confirms and watches",
            "samples_per_phase": args.samples,
            "flood": f"requests without a valid token, {args.concurrency} in flight for the "
            f"whole flood phase (waves of {args.requests}), from {STRANGER_ADDRESS}",
            "measured": "POST /_sim/approvals/{id}/confirm sent → card chat.update seen in the "
            "Slack simulator's change feed (and the thread reply)",
            "ot_poll_interval_seconds": args.poll_interval,
        },
        "results": flooded,
        "baseline": idle,
        "p99_ratio": round(card_p99(flooded) / card_p99(idle), 2),
        **verified,
        **verdict(targets, load_before),
    }


# --- command line -----------------------------------------------------------------------------


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.flood", description=__doc__)
    parser.add_argument("--samples", type=int, default=50, help="approvals per phase")
    parser.add_argument("--requests", type=int, default=2000, help="requests per flood wave")
    parser.add_argument("--concurrency", type=int, default=50, help="flood requests in flight")
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="OT_POLL_INTERVAL_SECONDS"
    )
    parser.add_argument("--seed", type=int, default=12, help="random delays between confirms")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep process logs (path on stderr)"
    )
    sub = parser.add_subparsers(dest="mode")
    flooder = sub.add_parser("flooder", help="(internal) flood the bot's agent API")
    flooder.add_argument("--url", required=True)
    flooder.add_argument("--source", default=STRANGER_ADDRESS, help="local address to send from")
    for name, default in (("--requests", 2000), ("--concurrency", 50)):
        flooder.add_argument(name, type=int, default=default)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.mode == "flooder":
        report = asyncio.run(flood(args.url, args.requests, args.concurrency, args.source))
        print(json.dumps(report), flush=True)
        return 0
    return run_in_scratch("bench-flood-", run, args)


if __name__ == "__main__":
    sys.exit(main())
