"""Signed HTTP deliveries to the bot, timed against Slack's three-second budget."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.sandbox.slack.config import SimConfig
from bot.sandbox.slack.errors import SimUsageError

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: HMAC-SHA256 over `v0:{timestamp}:{raw body}`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


@dataclass(frozen=True)
class DeliveryResult:
    """What the bot answered. `body` is decoded JSON when the bot answered JSON, else text.

    `timed_out` is Slack's verdict: no answer within three seconds means the
    user saw "operation_timeout", whatever arrived later.
    """

    status: int | None
    body: Any
    headers: dict[str, str]
    elapsed_ms: float
    timed_out: bool = False
    error: str | None = None  # a transport failure: "timeout", "connection_error"
    response_action: str | None = None  # a view_submission answer's, once applied
    rejected: str | None = None  # why Slack refused what the bot answered

    @classmethod
    def failed(cls, error: str, elapsed_ms: float, *, ack_timeout_ms: float) -> DeliveryResult:
        """No answer: the delivery timed out or the connection failed."""
        return cls(
            status=None,
            body=None,
            headers={},
            elapsed_ms=elapsed_ms,
            timed_out=error == "timeout" or elapsed_ms > ack_timeout_ms,
            error=error,
        )

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "body": self.body,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "timed_out": self.timed_out,
            "error": self.error,
            "response_action": self.response_action,
            "rejected": self.rejected,
        }


class BotTransport:
    def __init__(self, config: SimConfig) -> None:
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def deliver(
        self, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> DeliveryResult:
        bot_url = self._config.bot_url
        if not bot_url:
            raise SimUsageError('no bot URL configured (POST /_sim/config {"botUrl": …})')
        timestamp = str(int(time.time()))
        request_headers = {
            "Content-Type": content_type,
            "User-Agent": _USER_AGENT,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": sign(self._config.signing_secret, timestamp, body),
            **(headers or {}),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._config.delivery_timeout_s)
        started = time.perf_counter()
        try:
            async with self._session.post(
                bot_url, data=body, headers=request_headers, timeout=timeout
            ) as response:
                raw = await response.read()
                elapsed_ms = (time.perf_counter() - started) * 1000
                return DeliveryResult(
                    status=response.status,
                    body=_decode(raw),
                    headers=dict(response.headers),
                    elapsed_ms=elapsed_ms,
                    timed_out=elapsed_ms > self._config.ack_timeout_ms,
                )
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError:
            error = "connection_error"
        elapsed_ms = (time.perf_counter() - started) * 1000
        return DeliveryResult.failed(error, elapsed_ms, ack_timeout_ms=self._config.ack_timeout_ms)


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text) if text.strip() else ""
    except ValueError:
        return text
