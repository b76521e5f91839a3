"""Slack listeners only: parse → call bot services → ack/respond.

`register(app, services)` wires every listener kind (one module each) inside the
error boundary of `guard.py`, the workspace guard that drops requests from any
other Slack team, and a last-resort error handler so no failure ever shows a
stack trace in Slack.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.services import Services
from handlers import actions, commands, events, views
from handlers.guard import Listeners
from handlers.replies import error_message

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services) -> None:
    expected_team = services.settings.slack_team_id

    @app.middleware
    async def only_our_workspace(
        context: AsyncBoltContext,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        team = expected_team or (
            context.authorize_result.team_id if context.authorize_result else None
        )
        if team and context.team_id and context.team_id != team:
            log.warning("request from another workspace refused team=%s", context.team_id)
            return BoltResponse(status=403, body="This app serves another workspace.")
        return await next()

    @app.error
    async def any_listener_failed(error: Exception, respond: AsyncRespond | None) -> None:
        """Listeners answer their own failures; this catches whatever slipped past them."""
        message = error_message(error)  # logs it, with the traceback when unexpected
        if respond is not None:
            try:
                await respond(**message.as_kwargs(), response_type="ephemeral")
            except Exception:  # no response_url, or it expired: the log has it
                log.info("could not tell the user about a failed listener")

    # Every listener runs inside the guard: nothing raised after its ack reaches bolt.
    listeners = Listeners(app, services)
    commands.register(listeners, services)
    actions.register(listeners, services)
    views.register(listeners, services)
    events.register(listeners, services)
