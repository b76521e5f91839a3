"""Slack text as safe HTML: `plain_text`, `mrkdwn` and the `<…>` tokens inside it.

Everything shown comes from the bot or from people typing, so every piece of
text is HTML-escaped on the way out. The only markup produced is our own:
`<b>`, `<i>`, `<s>`, `<code>`, `<pre>`, `<blockquote>`, mention spans and links
whose scheme is http, https or mailto. Known `:shortcodes:` become their emoji.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.sandbox.slack.viewer.emoji import emojize

# Rendered tokens and code spans are parked behind these private-use characters while the
# surrounding text is formatted, so `*` or `_` inside a URL or a code span stays literal.
_PARK_OPEN, _PARK_CLOSE = "\ue000", "\ue001"
_PARKED = re.compile(f"{_PARK_OPEN}(\\d+){_PARK_CLOSE}")
_PRIVATE_USE = re.compile("[\ue000\ue001]")

_TOKEN = re.compile(r"<([^<>\n]+)>")
_CODE_BLOCK = re.compile(r"```(.+?)```", re.DOTALL)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Slack formats `*x*` only at word edges and never across lines; `prop_ada_1` stays plain.
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])")
_QUOTE = re.compile(r"^&gt; ?(.*)$", re.MULTILINE)
_DATE_PART = re.compile(r"\{(\w+)\}")

_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


@dataclass(frozen=True)
class Names:
    """What a reader's Slack client knows when it renders text: who is who, and their clock."""

    viewer_id: str
    tz: ZoneInfo
    now: datetime
    users: dict[str, str] = field(default_factory=dict)  # id → display name
    channels: dict[str, str] = field(default_factory=dict)  # id → name
    groups: dict[str, str] = field(default_factory=dict)  # id → handle


def attr(value: object) -> str:
    """A value for inside a double-quoted HTML attribute."""
    return escape(str(value), quote=True)


def url_scheme(url: str) -> str:
    """The lower-cased scheme, or "" for something that is not a URL at all."""
    try:
        return urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return ""


def plain_html(text: str) -> str:
    return escape(_PRIVATE_USE.sub("", text)).replace("\n", "<br>")


def text_html(text_object: object, names: Names) -> str:
    """A Block Kit text object (`plain_text` or `mrkdwn`) as HTML."""
    if not isinstance(text_object, dict):
        return ""
    text = str(text_object.get("text", ""))
    if text_object.get("type") == "mrkdwn":
        return mrkdwn_html(text, names)
    # Slack shows `:shortcodes:` in plain text as emoji unless the object says `emoji: false`.
    return plain_html(text) if text_object.get("emoji") is False else emojize(plain_html(text))


def mrkdwn_html(text: str, names: Names) -> str:
    parked: list[str] = []

    def park(html: str) -> str:
        parked.append(html)
        return f"{_PARK_OPEN}{len(parked) - 1}{_PARK_CLOSE}"

    text = _PRIVATE_USE.sub("", text)
    # Code first: inside it, tokens and formatting characters are shown as typed.
    text = _CODE_BLOCK.sub(lambda m: park(f"<pre>{_literal(m.group(1))}</pre>"), text)
    text = _CODE_SPAN.sub(lambda m: park(f"<code>{_literal(m.group(1))}</code>"), text)
    text = _TOKEN.sub(lambda m: park(_token_html(m.group(1), names)), text)
    html = escape(_unescape(text), quote=False)
    html = _BOLD.sub(r"<b>\1</b>", html)
    html = _ITALIC.sub(r"<i>\1</i>", html)
    html = _STRIKE.sub(r"<s>\1</s>", html)
    html = _QUOTE.sub(r"<blockquote>\1</blockquote>", html)
    html = html.replace("</blockquote>\n", "</blockquote>").replace("\n", "<br>")
    return _PARKED.sub(lambda m: parked[int(m.group(1))], emojize(html))


def _unescape(text: str) -> str:
    """Slack escapes only these three in message text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _literal(text: str) -> str:
    return escape(_unescape(text), quote=False)


def _known(name: str | None, fallback: str) -> str:
    """A directory name (plain text) or else the token's own label (Slack-escaped), as HTML."""
    return escape(name, quote=False) if name else _literal(fallback)


def _token_html(token: str, names: Names) -> str:
    """One `<…>` token: a mention, a channel, a date, a broadcast or a link."""
    body, _, label = token.partition("|")
    if body.startswith("@"):
        user_id = body[1:]
        name = _known(names.users.get(user_id), label or user_id)
        me = " mention-me" if user_id == names.viewer_id else ""
        return f'<span class="mention{me}" data-user-id="{attr(user_id)}">@{name}</span>'
    if body.startswith("#"):
        channel_id = body[1:]
        name = _known(names.channels.get(channel_id), label or channel_id)
        return (
            f'<a href="#" class="channel-link" data-conversation="{attr(channel_id)}">#{name}</a>'
        )
    if body.startswith("!subteam^"):
        group_id = body.removeprefix("!subteam^")
        handle = names.groups.get(group_id)
        shown = f"@{escape(handle)}" if handle else _literal(label or group_id)
        return f'<span class="mention">{shown}</span>'
    if body.startswith("!date^"):
        return escape(format_date_token(body, label, names), quote=False)
    if body.startswith("!"):
        shown = _BROADCASTS.get(body[1:].split("^")[0], label or body)
        return f'<span class="mention">{_literal(shown)}</span>'
    url = _unescape(body)
    shown_label = _literal(label) if label else _literal(body)
    if url_scheme(url) not in _LINK_SCHEMES:
        return shown_label  # javascript:, data: and friends never become links
    return f'<a href="{attr(url)}" target="_blank" rel="noopener noreferrer">{shown_label}</a>'


# --- dates -------------------------------------------------------------------------------


def format_date_token(body: str, fallback: str, names: Names) -> str:
    """`!date^<epoch>^<format>[^<link>]` in the reader's time zone; the fallback when unreadable."""
    parts = body.split("^")
    if len(parts) < 3:
        return _unescape(fallback)
    try:
        moment = datetime.fromtimestamp(int(parts[1]), UTC).astimezone(names.tz)
    except (ValueError, OverflowError, OSError):
        return _unescape(fallback)
    template = _unescape(parts[2])
    today = names.now.astimezone(names.tz).date()
    pieces = {
        name: _date_part(name, moment, today, names.now) for name in _DATE_PART.findall(template)
    }
    if any(piece is None for piece in pieces.values()):
        return _unescape(fallback)  # as Slack does for a format it does not know
    return _DATE_PART.sub(lambda match: pieces[match.group(1)] or "", template)


def _date_part(name: str, moment: datetime, today: date, now: datetime) -> str | None:
    day = f"{moment.day}{_ordinal(moment.day)}"
    plain = {
        "date_num": moment.strftime("%Y-%m-%d"),
        "date": f"{moment:%B} {day}, {moment.year}",
        "date_short": f"{moment:%b} {moment.day}, {moment.year}",
        "date_long": f"{moment:%A}, {moment:%B} {day}, {moment.year}",
        "time": clock_time(moment),
        "time_secs": clock_time(moment, seconds=True),
    }
    if name in plain:
        return plain[name]
    if name.endswith("_pretty") and name.removesuffix("_pretty") in plain:
        relative = {
            timedelta(0): "Today",
            timedelta(days=-1): "Yesterday",
            timedelta(days=1): "Tomorrow",
        }
        offset = moment.date() - today
        return relative.get(offset, plain[name.removesuffix("_pretty")])
    if name == "ago":
        return _ago(moment, now)
    return None


def _ordinal(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def clock_time(moment: datetime, *, seconds: bool = False) -> str:
    """The time as Slack shows it in English: 2:05 PM."""
    hour = moment.hour % 12 or 12
    tail = f":{moment.second:02d}" if seconds else ""
    return f"{hour}:{moment.minute:02d}{tail} {'AM' if moment.hour < 12 else 'PM'}"


def _ago(moment: datetime, now: datetime) -> str:
    seconds = int((now - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            amount = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"
