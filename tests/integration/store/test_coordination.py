"""The store contract: the feed cursor, leases and once-keys, on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.store import Store
from tests.integration.store.support import (
    LEASE,
    TINY,
    Backend,
    is_none,
)
from tests.support.wait import wait_for

# --- cursor, leases, once-keys -------------------------------------------------------------


async def test_cursor(store: Store) -> None:
    assert await store.get_cursor() is None
    await store.set_cursor("c1")
    await store.set_cursor("c2")
    assert await store.get_cursor() == "c2"


async def test_lease_acquire_renew_release(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    assert await one.acquire_lease("feed", "one", LEASE) is True
    assert await two.acquire_lease("feed", "two", LEASE) is False
    assert await one.acquire_lease("feed", "one", LEASE) is True  # renewal
    assert await two.lease_holder("feed") == "one"
    assert await two.lease_holder("other") is None

    assert await two.release_lease("feed", "two") is False  # token-checked
    assert await two.lease_holder("feed") == "one"
    assert await one.release_lease("feed", "one") is True
    assert await one.release_lease("feed", "one") is False
    assert await one.lease_holder("feed") is None
    assert await two.acquire_lease("feed", "two", LEASE) is True


async def test_lease_expires_in_real_time(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    # Two seconds: long enough that a loaded machine still asks again before it lapses.
    assert await one.acquire_lease("feed", "one", timedelta(seconds=2)) is True
    assert await two.acquire_lease("feed", "two", LEASE) is False
    await wait_for(lambda: two.acquire_lease("feed", "two", LEASE), timeout=10, message="expiry")
    assert await one.lease_holder("feed") == "two"
    assert await one.release_lease("feed", "one") is False


async def test_lease_renewal_extends_it(store: Store) -> None:
    assert await store.acquire_lease("feed", "one", TINY)
    assert await store.acquire_lease("feed", "one", LEASE)
    # A marker taken after the renewal, with twice the first TTL, times the wait.
    assert await store.acquire_lease("marker", "one", TINY * 2)
    await wait_for(
        lambda: is_none(store.lease_holder("marker")), timeout=5, message="marker expiry"
    )
    assert await store.lease_holder("feed") == "one"


async def test_claim_key_once_until_it_expires(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    assert await one.claim_key("delivery:1", TINY) is True
    assert await two.claim_key("delivery:1", TINY) is False
    assert await two.claim_key("delivery:2", LEASE) is True
    await wait_for(lambda: two.claim_key("delivery:1", LEASE), timeout=5, message="expiry")
    assert await one.claim_key("delivery:1", LEASE) is False


async def test_concurrent_claim_key_has_one_winner(backend: Backend) -> None:
    stores = [await backend.open() for _ in range(5)]
    results = await asyncio.gather(*(s.claim_key("k", LEASE) for s in stores for _ in range(4)))
    assert results.count(True) == 1
