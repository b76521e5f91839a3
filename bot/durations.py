"""Durations as people type them ("24h", "90m", "7d", "1h30m") and as we print them."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([dhms])")


def parse_duration(text: str) -> timedelta:
    """Parse "24h", "2h", "30m", "7d", "1h30m" into a positive timedelta."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"not a duration: {text!r} (use e.g. 24h, 90m, 7d)")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


def humanize(delta: timedelta) -> str:
    """Coarse, readable length of time: "2 days 5 h", "3 h 10 min", "45 s"."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        day_word = "day" if days == 1 else "days"
        return f"{days} {day_word} {hours} h" if hours else f"{days} {day_word}"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def delay_words(delta: timedelta) -> str:
    """A delay as people set one: "24 h", "36 h", "12 h 30 min", "90 min"; whole days from
    two on ("3 days")."""
    seconds = int(abs(delta.total_seconds()))
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return humanize(delta)
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if not hours:
        return f"{minutes} min" if minutes else f"{seconds} s"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
