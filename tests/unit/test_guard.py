"""A listener that fails after `ack()` still answers Slack 200 at once (handlers/guard.py).

Real bolt: an `AsyncApp` dispatching each kind of request Slack sends (slash
command, button, modal submission, event) to a listener that acks and then
raises. Without the guard, bolt's async runner resets the ack and answers 404
after its 3-second window; with it, the answer is the ack, and the person is
told in words.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.services import Services
from handlers.guard import Listeners, who_and_where


class Told:
    def __init__(self) -> None:
        self.messages: list[tuple[str | None, str]] = []

    async def ephemeral(self, channel: str | None, user: str, message: Any) -> None:
        self.messages.append((channel, user))


async def _authorize(**_: Any) -> AuthorizeResult:
    """The workspace as `auth.test` would say, without asking Slack."""
    return AuthorizeResult(
        enterprise_id=None,
        team_id="T0SANDBOX",
        bot_token="xoxb-test",
        bot_user_id="U0BOT",
        bot_id="B0BOT",
    )


def _app() -> AsyncApp:
    return AsyncApp(
        signing_secret="unused",
        authorize=_authorize,
        request_verification_enabled=False,
        process_before_response=False,
    )


def _form(body: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(body)})


USER = {"id": "U0ANA", "team_id": "T0SANDBOX"}
REQUESTS: dict[str, tuple[str, str]] = {
    "command": (
        urlencode(
            {"command": "/opentrain", "text": "x", "user_id": "U0ANA", "channel_id": "C0HIRING"}
        ),
        "application/x-www-form-urlencoded",
    ),
    "action": (
        _form(
            {
                "type": "block_actions",
                "user": USER,
                "channel": {"id": "C0HIRING"},
                "actions": [{"action_id": "press", "type": "button"}],
                "trigger_id": "1.2.3",
            }
        ),
        "application/x-www-form-urlencoded",
    ),
    "view": (
        _form(
            {
                "type": "view_submission",
                "user": USER,
                "view": {
                    "type": "modal",
                    "callback_id": "form",
                    "state": {"values": {}},
                    "private_metadata": "",
                },
            }
        ),
        "application/x-www-form-urlencoded",
    ),
    "event": (
        json.dumps(
            {
                "type": "event_callback",
                "team_id": "T0SANDBOX",
                "event_id": "Ev1",
                "event": {"type": "app_mention", "user": "U0ANA", "channel": "C0HIRING"},
            }
        ),
        "application/json",
    ),
}


def _register(listeners: Any, kind: str, listener: Any) -> None:
    match kind:
        case "command":
            listeners.command("/opentrain")(listener)
        case "action":
            listeners.action("press")(listener)
        case "view":
            listeners.view("form")(listener)
        case "event":
            listeners.event("app_mention")(listener)


async def _dispatch(app: AsyncApp, kind: str) -> BoltResponse:
    body, content_type = REQUESTS[kind]
    request = AsyncBoltRequest(body=body, headers={"content-type": [content_type]})
    return await app.async_dispatch(request)


@pytest.mark.parametrize("kind", list(REQUESTS))
async def test_a_failure_after_the_ack_still_answers_200_and_tells_the_person(kind: str) -> None:
    app, told = _app(), Told()
    services = cast(Services, SimpleNamespace(notifier=told))

    async def acks_then_fails(ack: Any = None, **_: Any) -> None:
        if ack is not None:
            await ack()
        raise RuntimeError("after the ack")

    async def listener_with_ack(ack: Any, body: dict[str, Any]) -> None:
        await acks_then_fails(ack)

    async def listener_without_ack(event: dict[str, Any]) -> None:  # events are acked by bolt
        await acks_then_fails()

    listener = listener_without_ack if kind == "event" else listener_with_ack
    _register(Listeners(app, services), kind, listener)
    response = await _dispatch(app, kind)
    assert response.status == 200
    await _settled(told)
    assert told.messages and told.messages[0][1] == "U0ANA"


async def test_without_the_guard_bolt_turns_the_same_failure_into_a_late_404() -> None:
    """The bug the guard exists for (bolt's async runner), so the test above means something."""
    app = _app()

    @app.action("press")
    async def acks_then_fails(ack: Any) -> None:
        await ack()
        raise RuntimeError("after the ack")

    response = await _dispatch(app, "action")
    assert response.status == 404


async def test_a_failure_before_the_ack_is_left_to_bolt() -> None:
    app, told = _app(), Told()
    services = cast(Services, SimpleNamespace(notifier=told))

    async def fails_first(ack: Any) -> None:
        raise RuntimeError("before the ack")

    Listeners(app, services).action("press")(fails_first)
    response = await _dispatch(app, "action")
    assert response.status == 500 and told.messages == []


def test_who_and_where_reads_every_payload_shape() -> None:
    assert who_and_where({"command": {"user_id": "U1", "channel_id": "C1"}}) == ("C1", "U1")
    assert who_and_where({"event": {"user": "U1", "channel": "C1"}}) == ("C1", "U1")
    body = {"user": {"id": "W1"}, "channel": {"id": "G1"}}
    assert who_and_where({"body": body}) == ("G1", "W1")
    assert who_and_where({"body": {"user": {"id": "U1"}}}) == (None, "U1")
    assert who_and_where({}) == (None, None)


async def _settled(told: Told) -> None:
    """The listener runs in bolt's own task after the answer: wait for it to tell."""
    from tests.support.wait import wait_for

    await wait_for(lambda: told.messages, timeout=5, message="the person told")
