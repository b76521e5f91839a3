"""What every Web API method handler gets: the workspace, the token's scopes, its arguments."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.model import JsonDict
from bot.sandbox.slack.ratelimit import Tier
from bot.sandbox.slack.state import SlackState

TS_PATTERN = re.compile(r"\d{1,12}\.\d{1,6}")
T = TypeVar("T")


@dataclass(frozen=True)
class ApiContext:
    state: SlackState
    scopes: frozenset[str]

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise ApiError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))


class Args:
    """A call's arguments, from a form (all strings) or a JSON body (native types) alike."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes")

    def number(self, name: str, default: int) -> int:
        value = self._values.get(name)
        try:
            return int(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            return default

    def parsed(self, name: str, *, error: str) -> Any:
        """A JSON-valued argument: form posts send it encoded, JSON bodies inline."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(error) from None


Handler = Callable[[ApiContext, Args], JsonDict]


@dataclass(frozen=True)
class MethodSpec:
    handler: Handler
    tier: Tier
    scope: str | None = None  # when the scope does not depend on the arguments


def paginate(
    items: Sequence[T], args: Args, *, default_limit: int, zero_is_default: bool = False
) -> tuple[list[T], str]:
    """Slack's cursor pagination: a page of `items` and the `next_cursor` ("" on the last page).

    `zero_is_default`: the method documents `limit=0` as its default (`users.list`).
    """
    requested = args.number("limit", default_limit)
    if requested == 0 and zero_is_default:
        requested = default_limit
    limit = min(max(requested, 1), 1000)
    cursor = args.text("cursor")
    offset = 0
    if cursor is not None:
        try:
            kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
            offset = int(number)
        except ValueError:
            raise ApiError("invalid_cursor") from None
        if kind != "next" or not 0 <= offset <= len(items):
            raise ApiError("invalid_cursor")
    page = list(items[offset : offset + limit])
    end = offset + len(page)
    next_cursor = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
