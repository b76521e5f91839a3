"""The callback's signature and its retry schedule (pure)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from bot.callbacks import next_attempt, signature

T0 = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_the_signature_is_an_hmac_of_the_time_and_the_raw_body() -> None:
    body = b'{"approvalId":"apr_1","status":"confirmed"}'
    expected = hmac.new(
        b"agent-token-0123456789abcdef", b"1767268800." + body, hashlib.sha256
    ).hexdigest()
    assert signature("agent-token-0123456789abcdef", 1767268800, body) == (
        f"t=1767268800,v1={expected}"
    )
    # Another token, time or body: another signature.
    assert signature("other-token-0123456789abcdef", 1767268800, body) != signature(
        "agent-token-0123456789abcdef", 1767268800, body
    )
    assert signature("agent-token-0123456789abcdef", 1767268801, body).split(",")[1] != (
        f"v1={expected}"
    )


def test_retries_double_from_30_seconds_up_to_an_hour() -> None:
    delays = [(next_attempt(failed, T0, T0) or T0) - T0 for failed in (0, 1, 2, 3, 6, 7, 8, 40)]
    minutes = timedelta(minutes=1)
    assert delays == [
        timedelta(seconds=30),
        minutes,
        2 * minutes,
        4 * minutes,
        32 * minutes,
        60 * minutes,
        60 * minutes,
        60 * minutes,
    ]


def test_the_last_try_is_24_hours_after_the_outcome_then_it_gives_up() -> None:
    late = T0 + timedelta(hours=23, minutes=50)
    assert next_attempt(10, late, T0) == T0 + timedelta(hours=24)
    assert next_attempt(10, T0 + timedelta(hours=24), T0) is None
    assert next_attempt(0, T0 + timedelta(days=3), T0) is None
