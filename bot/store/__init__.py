"""Persistence: one protocol (`Store`), an embedded SQLite store and a shared Redis store."""

from bot.store.base import Store, StoreUnavailable
from bot.store.factory import open_store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

__all__ = ["RedisStore", "SqliteStore", "Store", "StoreUnavailable", "open_store"]
