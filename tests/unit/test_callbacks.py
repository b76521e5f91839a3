"""The callback's signature, its retry schedule, and the README's way of verifying it."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def test_the_readmes_verification_snippet_accepts_the_bots_signature_only() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    [snippet] = [
        block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "X-Cosign" in block
    ]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own README, checked as documentation
    genuine = namespace["cosign_callback_is_genuine"]
    token, body, now = "agent-token-0123456789abcdef", b'{"status":"confirmed"}', int(time.time())
    assert genuine({"X-Cosign-Signature": signature(token, now, body)}, body, token)
    assert not genuine({"X-Cosign-Signature": signature(token, now, body)}, body + b" ", token)
    assert not genuine({"X-Cosign-Signature": signature("other", now, body)}, body, token)
    stale = signature(token, now - 301, body)
    assert not genuine({"X-Cosign-Signature": stale}, body, token)
    assert not genuine({"X-Cosign-Signature": "garbage"}, body, token)
    assert not genuine({}, body, token)
