"""Benchmark 1 — ack latency: how fast the bot answers Slack while OpenTrain is slow.

Processes (all real, over loopback): the OpenTrain simulator and the Slack simulator as
subprocesses, the bot as `python -m bot serve`, and the baseline as a subprocess of this script
(`python -m bench.ack_latency serve-baseline …`). This process is only the client: it signs each
slash command and button click exactly like Slack (`X-Slack-Signature`, v0 HMAC), POSTs it to
`/slack/events` and times request → HTTP 200.

OpenTrain answers every API call after `--latency-ms` (a simulator fault, default 5 000 ms).
Requests go out open-loop at `--rate` per second (a late answer never delays the next request)
in a fixed mix: `/opentrain fund ms_batch2`, `/opentrain track <id>`, `/opentrain pending`, and
the "Request again" and "Fund this milestone" buttons.

Baseline: a small bolt app that makes the OpenTrain call a request needs *before* it acks
(`process_before_response=True`), which is what Slack's 3 s limit punishes.

`python -m bench.ack_latency [--samples 300] [--rate 10] [--latency-ms 5000]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import (
    HOST,
    OT_TOKEN,
    SIGNING_SECRET,
    SLACK_BOT_TOKEN,
    SLACK_TEAM_ID,
    Fleet,
    Proc,
    bot_env,
    check,
    fleet,
    free_port,
    load_average,
    progress,
    run_in_scratch,
    slack_headers,
    spawn,
    summarize,
    verdict,
    wait_until,
)
from bot.cards.ids import APPROVAL_EVENT_TYPE, ActionId

CHANNEL = "C0HIRING"
USER = "U0ANA"
MILESTONE = "ms_batch2"
TARGET_P99_MS = 50.0
SLACK_ACK_LIMIT_MS = 3000.0
KINDS = ("fund", "track", "pending", "click:request-again", "click:fund-milestone")
FORM = "application/x-www-form-urlencoded"
# Rounds of the whole mix sent before the clock starts: bolt calls auth.test on its first
# request, and each listener's first run imports and builds what it needs.
WARMUP_ROUNDS = 4


# --- what Slack sends ------------------------------------------------------------------------


def command_body(text: str, *, response_url: str, trigger_id: str) -> bytes:
    """A `/opentrain` slash command as Slack posts it (form-encoded)."""
    return urlencode(
        {
            "token": "bench-verification-token",
            "team_id": SLACK_TEAM_ID,
            "team_domain": "opentrain-sandbox",
            "channel_id": CHANNEL,
            "channel_name": "hiring",
            "user_id": USER,
            "user_name": "ana",
            "command": "/opentrain",
            "text": text,
            "api_app_id": "A0SANDBOX",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    ).encode()


def click_body(
    action_id: str,
    value: str,
    *,
    message_ts: str,
    ephemeral: bool,
    response_url: str,
    trigger_id: str,
) -> bytes:
    """A `block_actions` interaction (a button click on a message) as Slack posts it."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": USER, "username": "ana", "name": "ana", "team_id": SLACK_TEAM_ID},
        "api_app_id": "A0SANDBOX",
        "token": "bench-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": CHANNEL,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": trigger_id,
        "team": {"id": SLACK_TEAM_ID, "domain": "opentrain-sandbox"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "hiring"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "bench",
                "type": "button",
                "text": {"type": "plain_text", "text": action_id},
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass(frozen=True)
class Target:
    """What the requests refer to: the tracked approval, its card, where replies go."""

    approval_id: str
    card_ts: str
    response_url: str


def request_body(kind: str, index: int, target: Target) -> bytes:
    """The body of request `index` of `kind` (one of KINDS)."""
    trigger = f"bench.{index}.{int(time.time())}"
    match kind:
        case "fund":
            return command_body(
                f"fund {MILESTONE}", response_url=target.response_url, trigger_id=trigger
            )
        case "track":
            return command_body(
                f"track {target.approval_id}", response_url=target.response_url, trigger_id=trigger
            )
        case "pending":
            return command_body("pending", response_url=target.response_url, trigger_id=trigger)
        case "click:request-again":
            return click_body(
                ActionId.REQUEST_AGAIN.value,
                target.approval_id,
                message_ts=target.card_ts,
                ephemeral=False,
                response_url=target.response_url,
                trigger_id=trigger,
            )
        case "click:fund-milestone":
            return click_body(
                ActionId.FUND_MILESTONE.value,
                MILESTONE,
                message_ts=target.card_ts,
                ephemeral=True,
                response_url=target.response_url,
                trigger_id=trigger,
            )
    raise ValueError(f"unknown request kind {kind!r}")


def mix(samples: int) -> list[str]:
    """The request kinds in sending order: the KINDS in turn."""
    return [KINDS[i % len(KINDS)] for i in range(samples)]


# --- the client ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    kind: str
    status: int | None
    ms: float
    error: str | None = None


async def send(session: aiohttp.ClientSession, url: str, kind: str, body: bytes) -> Sample:
    headers = slack_headers(SIGNING_SECRET, body, FORM)
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return Sample(kind, response.status, (time.perf_counter() - started) * 1000)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Sample(kind, None, (time.perf_counter() - started) * 1000, type(exc).__name__)


async def run_load(url: str, target: Target, *, samples: int, rate: float) -> list[Sample]:
    """Open loop: request i leaves at start + i/rate, whether or not earlier ones answered."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter()
        tasks = []
        for index, kind in enumerate(mix(samples)):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = request_body(kind, index, target)
            tasks.append(asyncio.create_task(send(session, url, kind, body)))
        return list(await asyncio.gather(*tasks))


def report(samples: list[Sample]) -> dict[str, Any]:
    ok = [s.ms for s in samples if s.status == 200]
    by_kind = {
        kind: summarize([s.ms for s in samples if s.kind == kind and s.status == 200])
        for kind in KINDS
        if any(s.kind == kind and s.status == 200 for s in samples)
    }
    return {
        "latency_ms": summarize(ok) if ok else None,
        "by_kind_ms": by_kind,
        "statuses": dict(Counter(str(s.status) for s in samples)),
        "errors": dict(Counter(s.error for s in samples if s.error)),
        "over_slack_3s": sum(1 for s in samples if s.ms > SLACK_ACK_LIMIT_MS),
    }


# --- the setup -------------------------------------------------------------------------------


async def set_latency(http: httpx.AsyncClient, opentrain: Proc, latency_ms: int | None) -> None:
    """Every OpenTrain API call answers after `latency_ms` (None: no fault)."""
    (await http.delete(f"{opentrain.url}/_sim/faults")).raise_for_status()
    if latency_ms:
        fault = {"path": "*", "latencyMs": latency_ms}
        (await http.post(f"{opentrain.url}/_sim/faults", json=fault)).raise_for_status()


async def idle(http: httpx.AsyncClient, opentrain: Proc) -> None:
    """Until OpenTrain has answered every call and no new one came for a while: the previous
    phase's background work (one call after another) is done."""
    seen = -1

    async def settled() -> bool:
        nonlocal seen
        log = (await http.get(f"{opentrain.url}/_sim/requests")).json()["requests"]
        answered = all(entry["status"] is not None or entry["dropped"] for entry in log)
        quiet, seen = len(log) == seen, len(log)
        return answered and quiet

    await wait_until(settled, timeout=120, interval=1.0, message="OpenTrain calls answered")


async def tracked_card(http: httpx.AsyncClient, slack: Proc) -> Target:
    """`/opentrain fund ms_batch2` through the Slack simulator, then its card's approval id."""
    command = {"command": "/opentrain", "text": f"fund {MILESTONE}", "user_id": USER}
    answer = await http.post(f"{slack.url}/_sim/command", json={**command, "channel_id": CHANNEL})
    answer.raise_for_status()

    async def card() -> tuple[str, str] | None:
        state = (await http.get(f"{slack.url}/_sim/state")).json()
        for channel in state["channels"]:
            for message in channel["messages"] if channel["id"] == CHANNEL else []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == APPROVAL_EVENT_TYPE:
                    return str(metadata["event_payload"]["approvalId"]), str(message["ts"])
        return None

    approval_id, ts = await wait_until(card, timeout=30, interval=0.2, message="the card")
    # The simulator refuses an unknown response_url (404): the bot's follow-ups still go out.
    return Target(approval_id, ts, f"{slack.url}/_sim/response/bench")


async def measure(
    url: str, target: Target, http: httpx.AsyncClient, opentrain: Proc, args: argparse.Namespace
) -> list[Sample]:
    """Warm up against a fast OpenTrain, then measure with the slow one."""
    await set_latency(http, opentrain, None)
    await run_load(url, target, samples=WARMUP_ROUNDS * len(KINDS), rate=args.rate)
    await idle(http, opentrain)
    await set_latency(http, opentrain, args.latency_ms)
    samples = await run_load(url, target, samples=args.samples, rate=args.rate)
    await set_latency(http, opentrain, None)
    return samples


async def run(args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    load_before = load_average()
    with fleet(log_dir) as procs:
        opentrain = await procs.opentrain_sim()
        bot_port = free_port()
        slack = await procs.slack_sim(bot_url=f"http://{HOST}:{bot_port}/slack/events")
        env = bot_env(
            opentrain_url=opentrain.url,
            slack_url=slack.url,
            port=bot_port,
            database_url=f"sqlite:///{log_dir / 'bot.db'}",
            default_channel=CHANNEL,
        )
        bot = await procs.bot(env)
        async with httpx.AsyncClient(timeout=30) as http:
            target = await tracked_card(http, slack)
            progress(
                f"bot: {args.samples} requests at {args.rate}/s, OpenTrain +{args.latency_ms} ms"
            )
            bot_samples = await measure(f"{bot.url}/slack/events", target, http, opentrain, args)
            await idle(http, opentrain)  # the bot's work after its acks, before it stops
            bot.stop()
            baseline = await start_baseline(procs, opentrain, slack)
            progress(f"baseline: {args.samples} requests at {args.rate}/s")
            base_samples = await measure(
                f"{baseline.url}/slack/events", target, http, opentrain, args
            )
    bot_report, base_report = report(bot_samples), report(base_samples)
    p99 = bot_report["latency_ms"]["p99"] if bot_report["latency_ms"] else float("inf")
    targets = [
        check("bot ack p99 (ms)", p99, "<", TARGET_P99_MS),
        check(
            "bot requests answered 200", bot_report["statuses"].get("200", 0), ">=", args.samples
        ),
    ]
    return {
        "benchmark": "ack_latency",
        "setup": {
            "processes": "OpenTrain sim, Slack sim, bot (`python -m bot serve`) and the baseline "
            "app are subprocesses; this process only sends and times the requests",
            "samples": args.samples,
            "rate_per_s": args.rate,
            "opentrain_latency_ms": args.latency_ms,
            "mix": list(KINDS),
            "approval": target.approval_id,
            "measured": "request sent → HTTP 200 read; signed like Slack; straight to "
            "/slack/events",
        },
        "results": bot_report,
        "baseline": {
            "design": "bolt app with process_before_response=True: one OpenTrain call before "
            "the ack (fund: POST /milestones/{id}/fund; track and request again: "
            "GET /approvals/{id}; pending: none)",
            **base_report,
        },
        **verdict(targets, load_before),
    }


# --- the baseline app -------------------------------------------------------------------------


def baseline_app(opentrain_url: str, slack_api_url: str) -> web.Application:
    """The naive design: ask OpenTrain first, ack with the answer."""
    opentrain = httpx.AsyncClient(
        base_url=f"{opentrain_url}/api/public/v1",
        headers={"Authorization": f"Bearer {OT_TOKEN}"},
        timeout=60,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=50),
    )
    bolt = AsyncApp(
        client=AsyncWebClient(token=SLACK_BOT_TOKEN, base_url=slack_api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
    )

    async def ask(method: str, path: str) -> str:
        response = await opentrain.request(method, path)
        return f"OpenTrain answered {response.status_code}"

    @bolt.command("/opentrain")
    async def command(ack: AsyncAck, command: dict[str, Any]) -> None:
        match str(command.get("text", "")).split():
            case ["fund", milestone]:
                await ack(await ask("POST", f"/milestones/{milestone}/fund"))
            case ["track", approval]:
                await ack(await ask("GET", f"/approvals/{approval}"))
            case _:
                await ack("Nothing to ask OpenTrain.")

    @bolt.action(ActionId.REQUEST_AGAIN.value)
    async def request_again(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ask("GET", f"/approvals/{body['actions'][0]['value']}")
        await ack()

    @bolt.action(ActionId.FUND_MILESTONE.value)
    async def fund_milestone(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ask("POST", f"/milestones/{body['actions'][0]['value']}/fund")
        await ack()

    app = bolt.web_app(path="/slack/events")

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    return app


async def start_baseline(procs: Fleet, opentrain: Proc, slack: Proc) -> Proc:
    port = free_port()
    args = ["-m", "bench.ack_latency", "serve-baseline", "--port", str(port)]
    args += ["--opentrain", opentrain.url, "--slack-api", f"{slack.url}/api/"]
    proc = spawn("baseline", args, port=port, log_dir=procs.log_dir, env={})
    procs.procs.append(proc)
    await proc.wait_ready("/healthz")
    return proc


# --- command line ------------------------------------------------------------------------------


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ack_latency", description=__doc__)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--latency-ms", type=int, default=5000, help="OpenTrain's answer delay")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep process logs (path on stderr)"
    )
    sub = parser.add_subparsers(dest="mode")
    serve = sub.add_parser("serve-baseline", help="(internal) run the baseline app")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--opentrain", required=True)
    serve.add_argument("--slack-api", required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.mode == "serve-baseline":
        app = baseline_app(args.opentrain, args.slack_api)
        web.run_app(app, host=HOST, port=args.port, print=None, access_log=None)
        return 0
    return run_in_scratch("bench-ack-", run, args)


if __name__ == "__main__":
    sys.exit(main())
