"""Shared helpers for the benchmarks: real processes on loopback ports, statistics, JSON out.

Every benchmark runs the bot as `python -m bot serve` (settings in its environment, like a
deployment) and the simulators as `python -m bot.sandbox.opentrain` / `python -m bot.sandbox.slack`
subprocesses unless it says otherwise. Progress goes to stderr; the result is the ONE JSON object
`emit` prints on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

import httpx

from bot.sandbox.opentrain.seed import FULL_TOKEN

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
SIGNING_SECRET = "bench-signing-secret"
OT_TOKEN = FULL_TOKEN  # the OpenTrain simulator's seeded full-access token
SLACK_BOT_TOKEN = "xoxb-sandbox"  # what the Slack simulator accepts by default
SLACK_TEAM_ID = "T0SANDBOX"  # the Slack simulator's team
READY_TIMEOUT = 30.0


# --- ports and signatures ----------------------------------------------------------------------


def free_port() -> int:
    """A port that was free a moment ago (the process we start binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's `X-Slack-Signature`: v0 HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_headers(secret: str, body: bytes, content_type: str) -> dict[str, str]:
    """The headers Slack sends with a signed request to an app."""
    timestamp = str(int(time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(secret, timestamp, body),
    }


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Proc:
    """One subprocess serving HTTP on `url`; its stdout and stderr go to `log`."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    async def wait_ready(self, path: str, timeout: float = READY_TIMEOUT) -> None:
        """Until `GET {url}{path}` answers 200 (fails at once if the process exited)."""
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def ready() -> bool:
                if not self.alive:
                    raise RuntimeError(f"{self.name} exited at start:\n{self.output()}")
                try:
                    return (await http.get(self.url + path)).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout=timeout, message=f"{self.name} {path}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (a deploy's stop), then SIGKILL if it does not exit in `timeout` seconds."""
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait()

    async def terminate(self, timeout: float = 15.0) -> int:
        """`stop` in a thread: simulators in this event loop keep answering while it exits."""
        return await asyncio.to_thread(self.stop, timeout)

    def kill(self) -> None:
        """SIGKILL: die like a crash, no shutdown hooks."""
        if self.alive:
            self.popen.kill()
        self.popen.wait()


def spawn(
    name: str, args: Sequence[str], *, port: int, log_dir: Path, env: Mapping[str, str]
) -> Proc:
    """Start `python <args>` in the repository with exactly `env` (plus PATH)."""
    log = log_dir / f"{name}.log"
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Proc(name, popen, f"http://{HOST}:{port}", log)


@dataclass
class Fleet:
    """Every process a benchmark started; `stop_all` ends them in reverse start order."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    async def opentrain_sim(
        self, *, name: str = "opentrain-sim", seed: str = "demo", extra_args: Sequence[str] = ()
    ) -> Proc:
        """`python -m bot.sandbox.opentrain` on a free port, ready to answer."""
        port = free_port()
        args = ["-m", "bot.sandbox.opentrain", "--host", HOST, "--port", str(port)]
        proc = self._add(
            spawn(
                name, [*args, "--seed", seed, *extra_args], port=port, log_dir=self.log_dir, env={}
            )
        )
        await proc.wait_ready("/_sim/clock")
        return proc

    async def slack_sim(
        self,
        *,
        name: str = "slack-sim",
        bot_url: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> Proc:
        """`python -m bot.sandbox.slack` on a free port (signing with SIGNING_SECRET), ready."""
        port = free_port()
        args = ["-m", "bot.sandbox.slack", "--host", HOST, "--port", str(port)]
        args += ["--signing-secret", SIGNING_SECRET, *(["--bot-url", bot_url] if bot_url else [])]
        proc = self._add(spawn(name, [*args, *extra_args], port=port, log_dir=self.log_dir, env={}))
        await proc.wait_ready("/_sim/state")
        return proc

    async def bot(self, env: Mapping[str, str], *, name: str = "bot") -> Proc:
        """`python -m bot serve` with `env` (see `bot_env`), ready when /healthz answers."""
        proc = self._add(
            spawn(
                name, ["-m", "bot", "serve"], port=int(env["PORT"]), log_dir=self.log_dir, env=env
            )
        )
        await proc.wait_ready("/healthz")
        return proc

    def _add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


@contextlib.contextmanager
def fleet(log_dir: Path) -> Iterator[Fleet]:
    """A `Fleet` whose processes are stopped on exit, whatever happened."""
    running = Fleet(log_dir)
    try:
        yield running
    finally:
        running.stop_all()


@contextlib.contextmanager
def scratch_dir(prefix: str, *, keep: bool = False) -> Iterator[Path]:
    """A temporary directory for logs and stores; kept (and named on stderr) when `keep`."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if keep:
            progress(f"logs kept in {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def bot_env(
    *,
    opentrain_url: str,
    slack_url: str,
    database_url: str,
    port: int | None = None,
    **settings: object,
) -> dict[str, str]:
    """The environment of a bot wired to the simulators at `opentrain_url` and `slack_url`
    (origins); `settings` are extra Settings fields by name (`ot_poll_interval_seconds=10`),
    upper-cased into variables. The bot's port is `env["PORT"]`."""
    values: dict[str, object] = {
        "port": port if port is not None else free_port(),
        "slack_bot_token": SLACK_BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": f"{slack_url}/api/",
        "ot_api_token": OT_TOKEN,
        "ot_api_base_url": opentrain_url,
        "database_url": database_url,
        "log_level": "INFO",
        **settings,
    }
    return {name.upper(): str(value) for name, value in values.items() if value is not None}


# --- waiting -------------------------------------------------------------------------------------


@overload
async def wait_until(
    condition: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    interval: float = ...,
    message: str = ...,
) -> T: ...


@overload
async def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = ...,
    message: str = ...,
) -> T: ...


async def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll `condition` (sync or async) until it is truthy; return that value (never None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(interval)


# --- statistics and the report -----------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), linear between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0–100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float], digits: int = 1) -> dict[str, float | int]:
    """n, min, p50, p90, p99, max and mean of `values`, rounded to `digits`."""
    return {
        "n": len(values),
        "min": round(min(values), digits),
        "p50": round(percentile(values, 50), digits),
        "p90": round(percentile(values, 90), digits),
        "p99": round(percentile(values, 99), digits),
        "max": round(max(values), digits),
        "mean": round(sum(values) / len(values), digits),
    }


def check(name: str, measured: float, op: str, limit: float) -> dict[str, Any]:
    """One target and whether `measured` meets it (`op` is "<", "<=", ">" or ">=")."""
    compare: dict[str, Callable[[float, float], bool]] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return {
        "target": f"{name} {op} {limit:g}",
        "measured": measured,
        "pass": compare[op](measured, limit),
    }


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """What the numbers ran on: CPU model, cores, Python, OS and the load average now."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1_5_15": load_average(),
    }


def verdict(targets: Sequence[Mapping[str, Any]], load_before: list[float]) -> dict[str, Any]:
    """The closing fields of every benchmark's JSON: its targets, whether all were met, and the
    machine it ran on (with the load average before the run)."""
    return {
        "targets": list(targets),
        "pass": all(target["pass"] for target in targets),
        "machine": {**machine_info(), "loadavg_before": load_before},
    }


def emit(result: Mapping[str, Any]) -> int:
    """Print the benchmark's one JSON object on stdout; the exit code (0 when it passed)."""
    print(json.dumps(result, indent=2, default=str), flush=True)
    return 0 if result["pass"] else 1


def run_in_scratch(
    prefix: str,
    run: Callable[[Any, Path], Coroutine[Any, Any, Mapping[str, Any]]],
    args: Any,
) -> int:
    """Run a benchmark in a scratch directory (kept with `--keep-logs`), print its JSON."""
    with scratch_dir(prefix, keep=args.keep_logs) as tmp:
        result = asyncio.run(run(args, tmp))
    return emit(result)


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the JSON result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
