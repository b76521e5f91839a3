"""The doctor's store checks: the store answers and takes a write; a Redis store keeps its data."""

from __future__ import annotations

import uuid
from datetime import timedelta

from bot.config import Settings
from bot.doctor.check import Check
from bot.store import Store, StoreUnavailable, open_store
from bot.store.redis_health import RedisHealth, assess, read_config


async def store_check(settings: Settings) -> tuple[Check, dict[str, str]]:
    """Whether the store answers and takes a write; also the routes it holds."""
    uses_redis = settings.redis_url is not None
    fix = (
        "Check REDIS_URL (host, port, password; rediss:// for TLS) and that Redis is running."
        if uses_redis
        else "DATABASE_URL must name a file in a directory the bot may write, e.g. "
        "sqlite:///cosign.db."
    )
    store: Store | None = None
    try:
        store = await open_store(settings)
        description = await store.ping()
        # A key that expires on its own: proof of a write that leaves nothing behind.
        await store.claim_key(f"doctor:{uuid.uuid4().hex}", timedelta(minutes=1))
        routes = await store.list_routes()
    except (StoreUnavailable, ValueError) as exc:
        return Check("Store", False, str(exc), fix), {}
    finally:
        if store is not None:
            await store.close()
    return Check("Store", True, f"{description}, writable"), routes


async def redis_checks(settings: Settings) -> list[Check]:
    """Whether the Redis store keeps its data (bot/store/redis_health.py); none on SQLite,
    or when Redis cannot be reached (the store check says so)."""
    if settings.redis_url is None:
        return []
    try:
        config = await read_config(settings.redis_url.get_secret_value())
    except StoreUnavailable:
        return []
    return redis_health_checks(assess(config), allow_eviction=settings.redis_allow_eviction)


def redis_health_checks(health: RedisHealth, *, allow_eviction: bool) -> list[Check]:
    """An evicting Redis fails (serve refuses it) unless REDIS_ALLOW_EVICTION; missing
    persistence, and anything a managed Redis would not tell, are warnings."""
    eviction, persistence = health.eviction, health.persistence
    evicting = eviction.verdict == "bad"
    detail = eviction.detail
    if evicting and allow_eviction:
        detail += " (REDIS_ALLOW_EVICTION=true: the bot starts anyway)"
    return [
        Check(
            "Redis eviction policy",
            eviction.verdict == "ok",
            detail,
            _sentence(eviction.fix),
            required=evicting and not allow_eviction,
        ),
        Check(
            "Redis persistence",
            persistence.verdict == "ok",
            persistence.detail,
            _sentence(persistence.fix),
            required=False,
        ),
    ]


def _sentence(text: str | None) -> str | None:
    return None if text is None else text[:1].upper() + text[1:] + "."
