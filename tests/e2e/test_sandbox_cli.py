"""`python -m bot sandbox` and `python -m bot run` (what `make run` starts) as real processes:
they print the viewer's URL, the URL answers, the default channel follows the demo job, and
SIGTERM stops everything cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.redis_server import free_port
from tests.support.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
VIEWER_URL = re.compile(r"Open (http://127\.0\.0\.1:\d+/\S*)")
START_TIMEOUT_S = 30.0


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (the sandbox takes three in a row)."""
    while True:
        first = free_port()
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first


@asynccontextmanager
async def running(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`python -m bot <args>` with an empty environment; yields it and the URL it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    seen: list[str] = []
    try:
        url = await asyncio.wait_for(_viewer_url(process.stdout, seen), START_TIMEOUT_S)
        yield process, url
    except TimeoutError:
        raise AssertionError("no viewer URL printed:\n" + "".join(seen)) from None
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), START_TIMEOUT_S)


async def _viewer_url(stdout: asyncio.StreamReader, seen: list[str]) -> str:
    while True:
        line = (await stdout.readline()).decode()
        if not line:
            raise AssertionError("the process ended:\n" + "".join(seen))
        seen.append(line)
        if match := VIEWER_URL.search(line):
            return match.group(1)


async def assert_viewer_answers(url: str) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(url)
        assert page.status_code == 200
        assert 'id="composer-input"' in page.text
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        screen = await client.get(
            url.split("?")[0] + "viewer/screen", params={"channel": "C0HIRING"}
        )
        assert screen.status_code == 200
        assert (screen.json()["user"], screen.json()["channel"]) == ("U0ANA", "C0HIRING")


async def _shows(client: httpx.AsyncClient, url: str, text: str) -> bool:
    screen = await client.get(url.split("?")[0] + "viewer/screen", params={"channel": "C0HIRING"})
    return text in screen.text


async def test_sandbox_prints_the_viewer_url_and_serves_it() -> None:
    first = free_ports(3)
    async with running("sandbox", "--port", str(first)) as (process, url):
        assert url == f"http://127.0.0.1:{first + 1}/?channel=C0HIRING"
        await assert_viewer_answers(url)
        async with httpx.AsyncClient(timeout=10) as client:
            # The other two: the OpenTrain simulator's approval pages and the bot.
            opentrain = await client.get(f"http://127.0.0.1:{first}/")
            assert opentrain.status_code == 200 and "OpenTrain (simulator)" in opentrain.text
            # Its "Play the other side" page, and #hiring following the demo job: a new
            # applicant there is a notice here.
            applied = await client.post(
                f"http://127.0.0.1:{first}/trainer/proposals",
                data={"firstName": "Hedy", "lastName": "Lamarr", "bidAmountUsd": "430"},
            )
            assert applied.status_code == 303
            await wait_for(
                lambda: _shows(client, url, "Hedy L."),
                timeout=START_TIMEOUT_S,
                message="the new proposal in #hiring",
            )
            bot = await client.get(f"http://127.0.0.1:{first + 2}/healthz")
            assert bot.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), START_TIMEOUT_S) == 0


async def test_run_without_slack_credentials_starts_the_sandbox() -> None:
    first = free_ports(3)
    async with running("run", "--port", str(first)) as (process, url):
        assert url.startswith(f"http://127.0.0.1:{first + 1}/")
        await assert_viewer_answers(url)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), START_TIMEOUT_S) == 0


async def test_a_taken_port_is_explained() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "sandbox",
            "--port",
            str(port),
            cwd=REPO,
            env={"PATH": os.environ.get("PATH", "")},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT_S)
    assert process.returncode == 1
    assert "The sandbox could not start" in stderr.decode()
    assert "--port" in stderr.decode()
