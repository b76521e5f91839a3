"""The `Store` contract runs against SqliteStore (a tmp file) and RedisStore (a real server).

Several instances opened on one backend model several bot processes: two
SqliteStores on one file (two connections, two worker threads) or two Redis
clients on one server. Each module of this package holds the contract of one part
of the store (bot/store/base.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import RedisStore, SqliteStore, Store
from tests.integration.store.support import Backend


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "cosign.db"

        async def opener() -> Store:
            return await SqliteStore.open(path)
    else:
        url = request.getfixturevalue("redis_url")

        async def opener() -> Store:
            return await RedisStore.connect(url, prefix="contract:")

    backend = Backend(request.param, opener)
    yield backend
    await backend.close_all()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()
