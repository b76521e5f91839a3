"""The agent API's HTTP plumbing: tokens, bodies, client addresses and refusals as envelopes.

Pure helpers over aiohttp requests; the endpoints and their one error handler
are in `bot/agent_api.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import SecretStr, ValidationError

from bot.agent_gate import RateLimited
from bot.opentrain import OpenTrainError, OpenTrainUnavailable, Unauthorized
from bot.spend import Busy, UnknownSubject

MAX_BODY_BYTES = 64 * 1024
MAX_PROBLEM = 200
MAX_ISSUES = 20  # a body of 3000 unknown keys needs no 3000-line answer
UNKNOWN_ADDRESS = "unknown"  # no peer address (a Unix socket): all such callers share one count
# `GET /agent/v1/approvals/{id}?waitSeconds=N`: held until the approval ends or N seconds passed.
WAIT_PARAMETER = "waitSeconds"
MAX_WAIT_SECONDS = 60  # under the idle timeouts of the usual proxies and HTTP clients
WHOLE_SECONDS = re.compile(r"[0-9]{1,3}")  # ASCII digits only: str.isdigit takes "²" and "٣"


class Refused(Exception):
    """A request this API turns down, answered with the error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def authenticate(header: str | None, tokens: Mapping[str, SecretStr]) -> str | None:
    """The agent whose token `header` (`Bearer <token>`) carries, else None.

    Every configured token is compared, in constant time, over SHA-256 digests
    (equal lengths), so neither timing nor an early exit tells a caller how
    close a guess was or which agent it matched.
    """
    scheme, _, presented = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    digest = hashlib.sha256(presented.strip().encode()).digest()
    matched: str | None = None
    for name, token in tokens.items():
        expected = hashlib.sha256(token.get_secret_value().encode()).digest()
        if hmac.compare_digest(digest, expected):
            matched = name
    return matched


async def read_body(request: web.Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it grows past `limit` bytes."""
    too_large = Refused(413, "PAYLOAD_TOO_LARGE", f"The body is over {limit // 1024} KiB.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.content.iter_chunked(limit + 1):
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def read_json(request: web.Request) -> object:
    """The body as JSON with exact decimals; Refused on size, syntax or duplicate keys."""
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        return json.loads(
            raw, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_no_duplicates
        )
    except ValueError as exc:
        problem = str(exc)[:MAX_PROBLEM]  # it may quote the body back; keep that short
        raise Refused(400, "BAD_REQUEST", f"The body is not valid JSON: {problem}") from None
    except RecursionError:
        # `[[[[…` nested past the parser's stack fits easily in MAX_BODY_BYTES.
        raise Refused(400, "BAD_REQUEST", "The body is not valid JSON: nested too deeply") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key (`"amount": 1, "amount": 1000`) must not be resolved by guessing.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def client_address(request: web.Request) -> str:
    """Who to count a stranger's failures against: the connection's peer.

    Never X-Forwarded-For or the like: a caller writes those itself, so trusting them would let
    one stranger pass for any number of addresses, or for a real agent's, and have it blocked.
    Behind a proxy every caller shares the proxy's address; limit strangers there instead.
    """
    return request.remote or UNKNOWN_ADDRESS


def wait_seconds(request: web.Request) -> int:
    """`?waitSeconds=`: whole seconds from 0 to MAX_WAIT_SECONDS (absent: 0); Refused otherwise."""
    values = request.query.getall(WAIT_PARAMETER, [])
    if not values:
        return 0
    if len(values) == 1 and WHOLE_SECONDS.fullmatch(values[0]):
        seconds = int(values[0])
        if seconds <= MAX_WAIT_SECONDS:
            return seconds
    problem = f"a whole number of seconds from 0 to {MAX_WAIT_SECONDS}, given once"
    raise Refused(
        400,
        "BAD_REQUEST",
        f"{WAIT_PARAMETER} must be {problem}.",
        {"parameter": WAIT_PARAMETER, "problem": problem},
    )


def opentrain_refusal(exc: OpenTrainError) -> Refused:
    """OpenTrain's status, code and details, passed through with where they came from.

    Two statuses change: OpenTrain's 401 concerns the bot's own token, not the
    agent's, so it becomes 502; and an answer without a status (unreachable,
    unreadable) becomes 503 or 502.
    """
    details = {**exc.details, "source": "opentrain", "opentrainRequestId": exc.request_id}
    headers: dict[str, str] = {}
    if exc.retry_after_seconds is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after_seconds)))
    status = exc.status
    if isinstance(exc, OpenTrainUnavailable):
        status = 503
    elif isinstance(exc, Unauthorized) or status is None or not 400 <= status < 600:
        status = 502
    return Refused(status, exc.code, exc.message, details, headers)


def policy_refusal(exc: RateLimited | UnknownSubject | Busy) -> Refused:
    """The spend policy's own refusals (bot/agent_gate.py, bot/spend.py) as envelopes."""
    match exc:
        case RateLimited(retry_after=wait):
            return Refused(
                429,
                "RATE_LIMITED",
                f"Over the agent's requests per minute; try again in {wait} s.",
                {"reason": "rate_limited", "retryAfterSeconds": wait},
                headers={"Retry-After": str(wait)},
            )
        case UnknownSubject():
            return Refused(
                404, "NOT_FOUND", str(exc), {"resource": exc.resource, exc.key: exc.value}
            )
    return Refused(
        503,
        "UNAVAILABLE",
        "Another request of this agent is still being made; try again shortly.",
        headers={"Retry-After": "5"},
    )


def invalid_body(exc: ValidationError) -> Refused:
    issues = [
        {
            "field": ".".join(str(part) for part in error["loc"]) or "body",
            "problem": _problem(error["type"], error["msg"]),
        }
        for error in exc.errors()[:MAX_ISSUES]
    ]
    return Refused(400, "BAD_REQUEST", "The request body is invalid.", {"issues": issues})


def _problem(kind: str, message: str) -> str:
    if kind == "extra_forbidden":
        return "unknown field"
    return message.removeprefix("Value error, ")
