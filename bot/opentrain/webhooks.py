"""OpenTrain webhook signatures (opentrain-api.md §13).

`X-OpenTrain-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
Several `v1=` entries may appear in one header (as during a secret rotation);
one match is enough. Verify over the raw body bytes, before any JSON parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import re

DEFAULT_TOLERANCE_SECONDS = 300
# Unix seconds, ASCII digits only: 12 digits reach the year 33658. A longer `t=` is no
# timestamp, and would overflow the float comparison or hit int()'s 4300-digit limit.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class WebhookSignatureError(ValueError):
    """Why a delivery was refused: `malformed`, `stale` (either direction) or `mismatch`."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"webhook signature rejected: {reason}")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-OpenTrain-Signature` header value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """The signed timestamp if `header` is a valid, fresh signature of `body`; else raise."""
    timestamp, candidates = _parse(header)
    # Bounds replays: a captured delivery is only good for `tolerance` seconds.
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureError("stale")
    expected = _digest(secret, body, timestamp)
    # Compare against every candidate so timing does not reveal which one matched.
    matches = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    if not any(matches):
        raise WebhookSignatureError("mismatch")
    return timestamp


def _parse(header: str) -> tuple[int, list[str]]:
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureError("malformed")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            if not value.isascii():  # compare_digest refuses non-ASCII str
                raise WebhookSignatureError("malformed")
            candidates.append(value.lower())
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise WebhookSignatureError("malformed")
    if not candidates:
        raise WebhookSignatureError("malformed")
    return int(timestamps[0]), candidates


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
