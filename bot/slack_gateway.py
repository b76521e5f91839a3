"""The one place that builds Slack Web API clients: one for calls that are safe to repeat,
one for posts, both paced and both honouring `Retry-After`.

* `calls` — reads, `views.*`, `chat.update`, ephemerals, joins. Repeating one of these
  changes nothing twice, so the SDK retries dropped connections and 5xx by itself.
* `posts` — `chat.postMessage`, and only through the outbox (bot/notifier.py). No
  automatic retry: Slack may have posted a message whose answer was lost, and the SDK
  would post it again without looking. The outbox retries instead, after looking for
  the earlier post by its metadata.

Every call waits for its turn in the pacer both clients share (per method, and per channel
for posts: bot/pacing.py in this process, or bot/pacing_redis.py across replicas on one
Redis, as the composition root chooses); a 429 is raised to the caller (the outbox waits it
out or postpones the effect) and holds every caller of that method for `Retry-After` — in
every replica when the pacing is shared. Each call's result is
reported to the observer the composition root passes in (`/metrics`, bot/metrics.py):
`ok`, `ratelimited`, `error` (Slack answered with an error) or `unreachable` (no answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.config import Settings
from bot.pacing import Pacer, SlackPacer, rate_limit_wait

# One Slack call, including a slow answer; a post's outcome is looked up after this.
CALL_TIMEOUT_SECONDS = 10

# Told each call's Web API method and result (`ok`, `ratelimited`, `error`, `unreachable`).
CallObserver = Callable[[str, str], None]


def _unobserved(method: str, result: str) -> None:
    pass


@dataclass
class SlackHealth:
    """Whether the last call Slack should have answered got no answer or a 5xx (/healthz)."""

    failing: bool = False


class PacedClient(AsyncWebClient):
    """An `AsyncWebClient` whose every call takes its pacing turn and reports Slack's health."""

    def __init__(
        self,
        *,
        pacer: Pacer,
        health: SlackHealth,
        observe: CallObserver = _unobserved,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pacer = pacer
        self.health = health
        self.observe = observe

    async def api_call(  # type: ignore[override]  # same signature, all keyword arguments
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        channel = _channel_of(json, data, params)
        await self.pacer.acquire(api_method, channel)
        try:
            response = await super().api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )
        except SlackApiError as exc:
            self.health.failing = exc.response.status_code >= 500  # a 4xx is Slack answering
            retry_after = rate_limit_wait(exc)
            self.observe(api_method, "error" if retry_after is None else "ratelimited")
            if retry_after is not None:
                await self.pacer.hold(api_method, channel, retry_after)
            raise
        except (TimeoutError, aiohttp.ClientError, OSError):
            self.health.failing = True
            self.observe(api_method, "unreachable")
            raise
        self.health.failing = False
        self.observe(api_method, "ok")
        return response


@dataclass(frozen=True)
class SlackGateway:
    calls: PacedClient  # safe to repeat: the SDK retries connection errors and 5xx
    posts: PacedClient  # posts: never retried by the SDK; the outbox retries after looking
    pacer: Pacer
    health: SlackHealth = field(default_factory=SlackHealth)


def open_gateway(
    settings: Settings,
    *,
    timeout: float = CALL_TIMEOUT_SECONDS,
    observe: CallObserver = _unobserved,
    pacer: Pacer | None = None,
) -> SlackGateway:
    """Both clients for the configured bot token and Slack API URL, sharing one pacer
    (`pacer`, else this process's own buckets); `observe` is told every call's method and
    result."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    pacer = pacer or SlackPacer(settings.slack_rate_limit_scale)
    health = SlackHealth()
    common: dict[str, Any] = {
        "token": token,
        "base_url": settings.slack_api_url,
        "timeout": int(timeout),
        "pacer": pacer,
        "health": health,
        "observe": observe,
    }
    calls = PacedClient(
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
        **common,
    )
    posts = PacedClient(retry_handlers=[], **common)
    return SlackGateway(calls=calls, posts=posts, pacer=pacer, health=health)


def _channel_of(*bodies: dict[str, Any] | None) -> str | None:
    for body in bodies:
        if body and isinstance(body.get("channel"), str):
            return str(body["channel"])
    return None
