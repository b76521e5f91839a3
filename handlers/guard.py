"""The error boundary every listener runs inside: nothing raised after `ack()` reaches bolt.

bolt's async runner answers Slack as soon as a listener acks and keeps running
the listener in its own task. If that task then raises, bolt resets the ack it
already had, logs "didn't call ack()" and answers 404 three seconds later — a
late failure for work that was accepted. So each listener is wrapped: a failure
after the ack is logged once with the listener's name and told to the person in
words (privately in the channel, else by DM); a failure before the ack still
goes to bolt, whose error handler answers the request.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.logs import log_kv
from bot.services import Services
from handlers.replies import error_message

log = logging.getLogger(__name__)

Listener = Callable[..., Awaitable[None]]


def guarded(services: Services) -> Callable[[Listener], Listener]:
    """Wrap a listener (keeping its signature, which bolt reads to pass arguments)."""

    def wrap(listener: Listener) -> Listener:
        @functools.wraps(listener)
        async def run(**kwargs: Any) -> None:
            ack = kwargs.get("ack")
            try:
                await listener(**kwargs)
            except Exception as exc:
                if ack is not None and getattr(ack, "response", None) is None:
                    raise  # not acked yet: bolt's error handler answers Slack
                await _failed_after_ack(services, listener.__name__, kwargs, exc)

        return run

    return wrap


async def _failed_after_ack(
    services: Services, name: str, kwargs: dict[str, Any], error: Exception
) -> None:
    channel, user = who_and_where(kwargs)
    log.info("listener failed after ack %s", log_kv(listener=name, user=user, channel=channel))
    message = error_message(error)  # logs the error itself, with a traceback if unexpected
    if user is None or not user.startswith(("U", "W")):
        return
    try:
        await services.notifier.ephemeral(channel, user, message)
    except Exception:  # the store is down too: the logs have it
        log.warning("could not tell the user %s", log_kv(listener=name, user=user))


def who_and_where(kwargs: dict[str, Any]) -> tuple[str | None, str | None]:
    """(channel, user) of whoever caused this request, from any payload shape bolt passes."""
    command = kwargs.get("command")
    if isinstance(command, dict):
        return _text(command.get("channel_id")), _text(command.get("user_id"))
    event = kwargs.get("event")
    if isinstance(event, dict) and "user" in event:
        return _text(event.get("channel")), _text(event.get("user"))
    body = kwargs.get("body")
    if not isinstance(body, dict):
        return None, None
    user = body.get("user")
    user_id = _text(user.get("id")) if isinstance(user, dict) else _text(body.get("user_id"))
    channel = body.get("channel")
    channel_id = _text(channel.get("id")) if isinstance(channel, dict) else None
    return channel_id, user_id


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


Register = Callable[[Listener], Listener]


class Listeners:
    """Where the listener modules register: bolt's decorators, each listener guarded."""

    def __init__(self, app: AsyncApp, services: Services) -> None:
        self._app = app
        self._guard = guarded(services)

    def command(self, name: str) -> Register:
        return self._add(self._app.command(name))

    def action(self, action_id: str) -> Register:
        return self._add(self._app.action(action_id))

    def view(self, callback_id: str) -> Register:
        return self._add(self._app.view(callback_id))

    def event(self, name: str) -> Register:
        return self._add(self._app.event(name))

    def _add(self, bolt_register: Callable[[Listener], Any]) -> Register:
        def register(listener: Listener) -> Listener:
            bolt_register(self._guard(listener))
            return listener

        return register
