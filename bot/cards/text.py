"""Text that is safe to put in front of Slack: cleaned, escaped, and cut to Block Kit limits.

Two kinds of text reach a message. Our own markup (mentions we chose, date
tokens, ids) goes into `mrkdwn` objects. Free text that a person or an agent
typed (milestone names, notes, job titles…) goes into `plain_text` objects,
which Slack never parses for mentions, links or formatting; where it has to sit
inside mrkdwn it is escaped with `esc()` first, so `<!channel>` or
`<https://evil|click>` shows as typed and pings or links nobody.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject

# Block Kit limits, in characters. `clip` counts UTF-16 code units (an emoji is
# two), the stricter reading, so a cut string fits however Slack counts.
HEADER_TEXT = 150
SECTION_TEXT = 3000
SECTION_FIELD = 2000
CONTEXT_ELEMENT = 2000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
FALLBACK_TEXT = 4000
MAX_BLOCKS = 50
ID_DISPLAY = 100  # OpenTrain ids are short; anything longer is cut for display

ELLIPSIS = "…"

# Direction overrides and isolates reorder what people see (a name can read as
# something else entirely); they carry no meaning in names or notes.
_INVISIBLE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{1,40}")
_SLACK_GROUP = re.compile(r"S[A-Z0-9]{1,40}")
_SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{1,40}")


def clean(text: str, *, multiline: bool = False) -> str:
    """`text` without invisible direction marks and control characters, whitespace tidied."""
    text = _CONTROL.sub(" ", _INVISIBLE.sub("", text.replace("\r\n", "\n")))
    if not multiline:
        return " ".join(text.split())
    return "\n".join(" ".join(line.split()) for line in text.split("\n")).strip()


def esc(text: str, *, multiline: bool = False) -> str:
    """Free text made inert inside mrkdwn (Slack's escaping rules: &, <, >)."""
    return (
        clean(text, multiline=multiline)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` (UTF-16 units) with an ellipsis when it did not fit."""
    if utf16_len(text) <= limit:
        return text
    return _head(text, limit - len(ELLIPSIS)).rstrip() + ELLIPSIS


def clip_mrkdwn(text: str, limit: int) -> str:
    """Like `clip`, but never cuts a `<…>` token or an `&…;` entity in half."""
    if utf16_len(text) <= limit:
        return text
    head = _head(text, limit - len(ELLIPSIS))
    open_token = head.rfind("<")
    if open_token > head.rfind(">"):
        head = head[:open_token]
    entity = head.rfind("&")
    if entity != -1 and ";" not in head[entity:]:
        head = head[:entity]
    return head.rstrip() + ELLIPSIS


def _head(text: str, budget: int) -> str:
    """The longest prefix of `text` within `budget` UTF-16 units (give or take one)."""
    head = text[:budget]
    while (excess := utf16_len(head) - budget) > 0:
        # Each character is one or two units: dropping half the excess never overshoots by more
        # than one unit, and the loop ends after a few rounds even for a string of emoji.
        head = head[: len(head) - (excess + 1) // 2]
    return head


def plain(text: str, limit: int = SECTION_TEXT, *, multiline: bool = True) -> PlainTextObject:
    """A plain_text object: free text is shown literally, so it only needs cleaning and cutting."""
    shown = clip(clean(text, multiline=multiline), limit)
    # Slack rejects empty text objects; a name made only of invisible marks ends up here.
    return PlainTextObject(text=shown or "—", emoji=True)


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> MarkdownTextObject:
    """A mrkdwn object for our own markup; callers `esc()` any free text they embed.

    `verbatim` stops Slack from auto-linking bare URLs and channel names inside
    escaped free text, while our explicit `<@U…>` and date tokens still render.
    """
    shown = clip_mrkdwn(_INVISIBLE.sub("", text), limit)
    return MarkdownTextObject(text=shown or "—", verbatim=True)


def code(value: str) -> str:
    """An id shown as inline code; a backtick in it would end the span early."""
    shown = clip(clean(value), ID_DISPLAY).replace("`", "'")
    return f"`{esc(shown)}`"


def mention(slack_id: str) -> str:
    """`<@U…>` for users, `<!subteam^S…>` for user groups; anything else shown as inert code."""
    if _SLACK_USER.fullmatch(slack_id):
        return f"<@{slack_id}>"
    if _SLACK_GROUP.fullmatch(slack_id):
        return f"<!subteam^{slack_id}>"
    return code(slack_id)


def channel_ref(channel_id: str) -> str:
    return f"<#{channel_id}>" if _SLACK_CHANNEL.fullmatch(channel_id) else code(channel_id)


def date_token(at: datetime) -> str:
    """Slack renders this in the reader's own time zone; the fallback after `|` is UTC."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{utc_words(at)}>"


def utc_words(at: datetime) -> str:
    """A moment as plain words ("2026-12-07 21:36 UTC"), for fallback text that has no tokens."""
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def deadline(expires_at: datetime, now: datetime, *, markup: bool = True) -> str:
    """ "expires <date>" or "expired <date>": the verb is decided when rendered (cards are
    rendered again when their status changes), the moment is absolute, so a message read
    days later never says "in 2 days" (`markup=False`: the UTC words, for fallback text)."""
    when = date_token(expires_at) if markup else utc_words(expires_at)
    return f"{expiry_verb(expires_at, now)} {when}"


def expiry_verb(expires_at: datetime, now: datetime) -> str:
    return "expires" if expires_at > now else "expired"


def fallback(text: str) -> str:
    """Notification text: Slack parses it like mrkdwn, so it is escaped as a whole."""
    return clip_mrkdwn(esc(text), FALLBACK_TEXT) or "—"


def link(url: str, label: str) -> str:
    """`<url|label>` for a URL already vetted by `links.safe_link` (no `<`, `>` or `|`)."""
    return f"<{url.replace('&', '&amp;')}|{esc(label)}>"
