"""The two ways the Slack simulator says no."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiError(Exception):
    """A Web API call refused the way Slack refuses: HTTP 200 and `{"ok": false, "error": …}`.

    `extra` carries Slack's additional top-level fields (`needed`/`provided` for
    `missing_scope`); `messages` become `response_metadata.messages`, Slack's
    human-readable explanation (e.g. for `invalid_blocks`).
    """

    def __init__(self, error: str, *, messages: Sequence[str] = (), **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


class SimUsageError(Exception):
    """The simulator was asked to do something Slack's client would never send.

    Clicking a button that is not on the message, submitting a modal with a
    required input left empty, a slash command from a user outside the channel:
    a real user cannot do these, so the driver refuses rather than sending a
    payload the bot would never see in production.
    """
