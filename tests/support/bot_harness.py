"""The whole system for end-to-end tests: both simulators and the bot on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.runner import Sandbox, start_sandbox

FAST = {"ot_poll_interval_seconds": 0.2}
# AGENT_POLICY_FILE for tests whose agents make more requests than an agent should.
ROOMY_POLICY = str(Path(__file__).resolve().parents[1] / "fixtures" / "policy" / "roomy.yaml")

SandboxFactory = Callable[..., Awaitable[Sandbox]]


@pytest.fixture
async def make_sandbox(tmp_path: Path) -> AsyncIterator[SandboxFactory]:
    """Start sandboxes (stopped at the end); keyword arguments go to `start_sandbox`."""
    started: list[Sandbox] = []

    async def make(**options: Any) -> Sandbox:
        data_dir = options.pop("data_dir", tmp_path)
        sandbox = await start_sandbox(data_dir=data_dir, **{**FAST, **options})
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in reversed(started):
        await sandbox.stop()


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox()
