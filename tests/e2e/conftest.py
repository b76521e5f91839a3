"""Fixtures shared by the end-to-end tests that run bots against one deployment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import Deployment, deployment


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Deployment]:
    """Both simulators, for bots started in the test (in process or as processes)."""
    async with deployment(tmp_path) as running:
        yield running


@pytest.fixture(params=["sqlite", "redis"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides choosing the store: the deployment's SQLite file, or a real Redis."""
    if request.param == "sqlite":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url")}
