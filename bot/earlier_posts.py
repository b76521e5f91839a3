"""Finding a post whose answer was lost, by the effect id in its metadata.

Every message the outbox posts carries `{"effectId": …}` in its metadata. When an
attempt's outcome is unclear (a timeout, a dropped connection, a crash), the next
attempt reads the channel (or the thread) back before posting again — only the window
the first attempt could have posted in: from its start (minus clock skew) to the end
of the claim it ran under (plus skew). Slack's `ts` are wall-clock times, so the
window is taken from this machine's wall clock.

The window is read page by page with cursors, newest first, up to
MAX_LOOKUP_MESSAGES; a window busier than that is `Unsure` — the caller asks a
human rather than risk a second post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

EFFECT_METADATA_KEY = "effectId"
CLOCK_SKEW = timedelta(minutes=1)
PAGE_SIZE = 200  # Slack's advice for history pages
MAX_LOOKUP_MESSAGES = 2_000


class Unsure(Exception):
    """The window holds more messages than a lookup reads: the post may be there, unseen."""

    def __init__(self, scanned: int) -> None:
        super().__init__(f"{scanned} messages in the window, none of them ours")
        self.scanned = scanned


@dataclass(frozen=True)
class Window:
    """When an earlier attempt may have posted; None bounds for an attempt of unknown start."""

    oldest: datetime | None
    latest: datetime | None

    @classmethod
    def of_attempt(cls, started: datetime | None, lasting: timedelta) -> Window:
        if started is None:
            return cls(None, None)
        return cls(started - CLOCK_SKEW, started + lasting + CLOCK_SKEW)

    def bounds(self) -> dict[str, Any]:
        if self.oldest is None or self.latest is None:
            return {}
        return {"oldest": _ts(self.oldest), "latest": _ts(self.latest), "inclusive": True}


def stamp(kwargs: dict[str, Any], effect_id: str) -> dict[str, Any]:
    """`chat.postMessage` arguments whose metadata names `effect_id` (kept with any event type)."""
    metadata = kwargs.get("metadata") or {"event_type": "opentrain_effect", "event_payload": {}}
    payload = {**metadata["event_payload"], EFFECT_METADATA_KEY: effect_id}
    return {**kwargs, "metadata": {**metadata, "event_payload": payload}}


async def find_earlier_post(
    slack: AsyncWebClient,
    *,
    channel: str,
    effect_id: str,
    window: Window,
    thread_ts: str | None = None,
) -> str | None:
    """The `ts` of the message `effect_id` posted in `window`, or None; Unsure past the bound.

    Slack's errors (`not_in_channel`, a 429, …) are raised as they come.
    """
    scanned = 0
    cursor: str | None = None
    while True:
        page_args: dict[str, Any] = {
            "channel": channel,
            "limit": PAGE_SIZE,
            "include_all_metadata": True,
            **window.bounds(),
        }
        if cursor:
            page_args["cursor"] = cursor
        if thread_ts is None:
            page = await slack.conversations_history(**page_args)
        else:
            page = await slack.conversations_replies(ts=thread_ts, **page_args)
        messages: list[dict[str, Any]] = page.get("messages") or []
        for message in messages:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get(EFFECT_METADATA_KEY) == effect_id:
                return str(message["ts"])
        scanned += len(messages)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return None
        if scanned >= MAX_LOOKUP_MESSAGES:
            raise Unsure(scanned)


def wall_clock() -> datetime:
    """Now, as Slack's `ts` count it (the bot's own clock may be a simulated one)."""
    return datetime.now(UTC)


def _ts(at: datetime) -> str:
    return f"{at.timestamp():.6f}"
