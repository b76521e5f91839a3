"""Persistence: one protocol (`Store`), an embedded SQLite store and a shared Redis store."""

from bot.store.base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable"]
