"""Message permalinks in Slack's own shape, on whatever base URL the workspace links to.

Slack links a message as `<workspace URL>/archives/<channel>/p<ts without its dot>`, and a
thread reply with `?thread_ts=<parent ts>&cid=<channel>` added. The simulator keeps that shape
but puts it on its own origin, where the viewer answers the path by opening the message, so a
"View card" button in the sandbox leads somewhere. `https://<team>.slack.com` as the base gives
the links real Slack would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

# Slack's message timestamps have six digits after the dot; the path drops the dot.
_ARCHIVE_PATH = re.compile(r"/archives/(?P<channel>[A-Z0-9]+)/p(?P<seconds>\d+)(?P<micro>\d{6})")
_TS = re.compile(r"\d+\.\d{6}")


@dataclass(frozen=True)
class MessageLink:
    """Which message a permalink names; `thread_ts` is the thread's parent, for a reply."""

    channel: str
    ts: str
    thread_ts: str | None = None


def permalink(base: str, link: MessageLink) -> str:
    url = f"{base.rstrip('/')}/archives/{link.channel}/p{link.ts.replace('.', '')}"
    if link.thread_ts is not None:
        url += "?" + urlencode({"thread_ts": link.thread_ts, "cid": link.channel})
    return url


def parse_permalink(url: str) -> MessageLink | None:
    """The message a permalink (or just its path and query) names, or None if it names none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _ARCHIVE_PATH.fullmatch(parts.path)
    if match is None:
        return None
    thread_ts = parse_qs(parts.query).get("thread_ts", [None])[0]
    if thread_ts is not None and not _TS.fullmatch(thread_ts):
        return None
    ts = f"{match['seconds']}.{match['micro']}"
    return MessageLink(
        channel=match["channel"], ts=ts, thread_ts=thread_ts if thread_ts != ts else None
    )
