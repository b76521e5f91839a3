"""What the Redis store's parts (mixed into `RedisStore`, bot/store/redis.py) share: its
client, its key prefix, and Redis errors turned into StoreUnavailable."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.store.base import StoreUnavailable


class RedisPart:
    """A part of `RedisStore`, over the store's client and prefix."""

    if TYPE_CHECKING:
        _redis: Redis
        _prefix: str

        @property
        def address(self) -> str: ...

    @contextlib.asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        """Redis errors as StoreUnavailable, as every other operation of the store."""
        try:
            yield
        except RedisError as exc:
            raise StoreUnavailable(f"redis at {self.address}: {exc}") from exc
