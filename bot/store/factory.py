"""Choose the store from the settings: Redis when REDIS_URL is set, else the SQLite file."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.config import Settings
from bot.store.base import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore

SQLITE_PREFIX = "sqlite:///"
REDIS_SCHEMES = ("redis", "rediss", "unix")


async def open_store(settings: Settings) -> Store:
    """Open the configured store; ValueError when a URL is not one we understand."""
    if settings.redis_url is not None:
        url = settings.redis_url.get_secret_value()
        scheme = urlsplit(url).scheme
        if scheme not in REDIS_SCHEMES:
            # Only the scheme is echoed: the rest of the URL may hold a password.
            raise ValueError(
                f"REDIS_URL must start with redis://, rediss:// or unix:// (got {scheme or 'no'}"
                " scheme)"
            )
        return await RedisStore.connect(url)
    return await SqliteStore.open(sqlite_path(settings.database_url))


def sqlite_path(database_url: str) -> str:
    """The file of `sqlite:///relative.db`, `sqlite:////abs/path.db` or `sqlite:///:memory:`."""
    if not database_url.startswith(SQLITE_PREFIX):
        scheme = urlsplit(database_url).scheme
        raise ValueError(
            "DATABASE_URL must look like sqlite:///cosign.db (relative), sqlite:////abs/path.db"
            f" or sqlite:///:memory: (got {scheme or 'no'} scheme); set REDIS_URL to share"
            " state between several bot processes"
        )
    path = database_url.removeprefix(SQLITE_PREFIX)
    if not path:
        raise ValueError("DATABASE_URL names no file: use e.g. sqlite:///cosign.db")
    return path
