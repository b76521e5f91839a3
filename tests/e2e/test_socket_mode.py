"""`python -m bot socket` as a real process: Slack over Socket Mode, HTTP routes on $PORT.

The Slack simulator has no bot URL here, so every command, submission and click
can only have reached the bot through its WebSocket.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.sandbox.slack.socket_mode import SocketMode
from tests.support.commands import hire_values
from tests.support.processes import (
    CHANNEL,
    HOST,
    REPO,
    USER,
    BotProcess,
    Deployment,
    card,
    deployment,
    outcome_replies,
    resolved,
)
from tests.support.redis_server import free_port
from tests.support.wait import wait_for

EXIT_TIMEOUT = 20.0


def socket_settings(running: Deployment, **overrides: Any) -> dict[str, Any]:
    """A Socket Mode deployment: an app token, and no signing secret."""
    return {"slack_app_token": running.slack.app_token, "slack_signing_secret": None, **overrides}


async def run_to_exit(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m bot socket` that is expected to give up on its own."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "socket"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT,
        check=False,
    )


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path) as started:
        yield started


async def spawn_socket_bot(running: Deployment, *, connected: bool = True) -> BotProcess:
    bot = await running.spawn_bot(command="socket", entry=False, **socket_settings(running))
    if connected:
        await wait_for(lambda: running.slack.socket_mode.connected, message="the bot's WebSocket")
    return bot


async def test_a_hire_runs_over_socket_mode_and_the_bot_stops_cleanly(
    running: Deployment,
) -> None:
    bot = await spawn_socket_bot(running)
    slack, opentrain = running.slack, running.opentrain
    assert slack.bot_url is None  # nothing could reach the bot over HTTP

    async with httpx.AsyncClient(timeout=5.0) as http:
        health = await http.get(f"{bot.url}/healthz")
    assert health.status_code == 200  # the HTTP routes are served beside the socket

    result = await slack.send_command(
        command="/opentrain", text="hire prop_ada 450 Batch 1", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()
    [view] = await wait_for(lambda: slack.state.open_views(USER), message="hire modal")
    assert view.content["callback_id"] == "hire-modal"
    submitted = await slack.submit_view(
        user_id=USER, view_id=view.id, values=hire_values(name="Batch 1", amount="450")
    )
    assert submitted.ok and submitted.response_action is None, submitted.to_dict()
    assert slack.state.open_views(USER) == []

    [approval_id] = await wait_for(lambda: list(opentrain.state.approvals), message="approval")
    posted = await wait_for(lambda: card(slack, approval_id), message="card in #hiring")
    assert "Review & confirm" in str(posted.blocks)

    opentrain.state.confirm(approval_id)
    await wait_for(lambda: resolved(slack, approval_id), message="card updated with a reply")
    [reply] = outcome_replies(slack, approval_id)
    assert f"<@{USER}>" in reply.text or f"<@{USER}>" in str(reply.blocks)
    assert len(slack.replies(CHANNEL, posted.ts)) == 1

    kinds = [delivery.kind for delivery in slack.state.deliveries]
    assert kinds == ["command", "view_submission"]
    assert all(delivery.status == 200 for delivery in slack.state.deliveries)

    assert await bot.terminate() == 0
    output = bot.output()
    assert "Traceback" not in output, output[-3000:]
    await wait_for(lambda: not slack.socket_mode.connected, message="the socket closed")


async def test_socket_without_an_app_token_says_what_is_missing(running: Deployment) -> None:
    env = running.process_env(**socket_settings(running, slack_app_token=None))

    finished = await run_to_exit(env)

    assert finished.returncode != 0
    assert "socket needs SLACK_APP_TOKEN (xapp-…) and SLACK_BOT_TOKEN." in finished.stderr
    assert "Traceback" not in finished.stderr


async def test_socket_with_a_refused_app_token_exits(running: Deployment) -> None:
    env = running.process_env(**socket_settings(running, slack_app_token="xapp-revoked"))
    finished = await run_to_exit(env)

    assert finished.returncode != 0
    assert "apps.connections.open failed (invalid_auth); check SLACK_APP_TOKEN" in finished.stderr
    assert "xapp-revoked" not in finished.stderr + finished.stdout
    assert "Traceback" not in finished.stderr
    assert not running.slack.socket_mode.connected


async def test_sigterm_stops_a_bot_still_dialling_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slack hands out a URL nothing listens on: slack_sdk would retry it forever.
    dead_end = f"ws://{HOST}:{free_port()}/link/?ticket=gone"
    monkeypatch.setattr(SocketMode, "open_connection", lambda _: {"url": dead_end})
    async with deployment(tmp_path) as running:
        bot = await spawn_socket_bot(running, connected=False)
        await wait_for(lambda: "Failed to connect" in bot.output(), message="a failed dial")

        assert await bot.terminate() == 0
        assert "socket mode stopping" in bot.output()
