"""`SlackSim`: Web API, driver, Socket Mode and control API on one aiohttp application."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from bot.sandbox.faults import FaultSet, fault_middleware
from bot.sandbox.slack.config import DEFAULT_SCOPES, SimConfig
from bot.sandbox.slack.control import ControlApi, control_errors
from bot.sandbox.slack.driver import Driver
from bot.sandbox.slack.model import Ephemeral, JsonDict, Message
from bot.sandbox.slack.response_url import handle_response_url
from bot.sandbox.slack.seed import apply_seed
from bot.sandbox.slack.socket_mode import SocketMode
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.transport import DeliveryResult
from bot.sandbox.slack.viewer import Viewer
from bot.sandbox.slack.web_api import WebApi

log = logging.getLogger(__name__)


class SlackSim:
    """A stateful stand-in for Slack: answers the bot's Web API calls, records what it did,
    and drives it with signed commands, clicks, submissions and events."""

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_url: str | None = None,
        team_id: str = "T0SANDBOX",
        bot_token: str = "xoxb-sandbox",  # noqa: S107 - the sandbox's made-up token
        app_token: str = "xapp-sandbox",  # noqa: S107 - likewise, for Socket Mode
        rate_limits: bool = False,
        rate_limit_scale: float = 1.0,
        seed: str = "demo",
        scopes: Iterable[str] | None = None,
        unfurl_domains: Iterable[str] = (),
        permalink_base: str | None = None,
    ) -> None:
        """`permalink_base`: where `chat.getPermalink` links (Slack's `/archives/…` shape on
        it, e.g. `https://acme.slack.com`); by default the simulator's own origin, where the
        viewer opens the message."""
        self.config = SimConfig(
            signing_secret=signing_secret,
            bot_token=bot_token,
            app_token=app_token,
            bot_url=bot_url,
            scopes=frozenset(scopes) if scopes is not None else DEFAULT_SCOPES,
            rate_limits=rate_limits,
            rate_limit_scale=rate_limit_scale,
            unfurl_domains=tuple(unfurl_domains),
        )
        self.state = SlackState(team_id=team_id, seed=seed)
        apply_seed(self.state, seed)
        self._permalink_base = permalink_base
        if permalink_base is not None:
            self.state.permalink_base = permalink_base
        self.faults = FaultSet()
        self.socket_mode = SocketMode(self.state, self.config, origin=lambda: self.origin)
        self.web_api = WebApi(
            self.state,
            self.config,
            app_level={"apps.connections.open": self.socket_mode.open_connection},
        )
        self.driver = Driver(
            self.state, self.config, origin=lambda: self.origin, socket_mode=self.socket_mode
        )
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._origin: str | None = None

    def _build_app(self) -> web.Application:
        app = web.Application(
            middlewares=[
                fault_middleware(self.faults, WebApi.method_of, self.web_api.fault_response),
                control_errors,
            ]
        )
        control = ControlApi(
            state=self.state,
            config=self.config,
            driver=self.driver,
            web_api=self.web_api,
            faults=self.faults,
        )

        async def response_url(request: web.Request) -> web.Response:
            return await handle_response_url(request, self.state)

        async def close_driver(_: web.Application) -> None:
            await self.driver.close()

        async def close_sockets(_: web.Application) -> None:
            await self.socket_mode.close()

        app.add_routes(
            [
                web.route("GET", "/api/{method}", self.web_api.handle),
                web.route("POST", "/api/{method}", self.web_api.handle),
                web.post("/_sim/response/{id}", response_url),
                *self.socket_mode.routes(),
                *control.routes(),
            ]
        )
        app.on_shutdown.append(close_sockets)  # open WebSockets would hold up the shutdown
        app.on_cleanup.append(close_driver)
        Viewer(self.state).install(app)  # the web client at `/`
        return app

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `host:port` (0 picks a free port); returns the origin."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        self._runner = runner
        self._origin = f"http://{host}:{bound_port}"
        if self._permalink_base is None:
            self.state.permalink_base = self._origin  # the viewer answers `/archives/…`
        log.info("slack_sim.started origin=%s", self._origin)
        return self._origin

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # also closes the driver's client session
            self._runner = None

    @property
    def origin(self) -> str:
        if self._origin is None:
            raise RuntimeError("SlackSim is not started")
        return self._origin

    @property
    def api_url(self) -> str:
        """The Web API base for `AsyncWebClient(base_url=…)`."""
        return f"{self.origin}/api/"

    @property
    def bot_token(self) -> str:
        return self.config.bot_token

    @property
    def app_token(self) -> str:
        """The app-level token (`xapp-…`) `apps.connections.open` accepts."""
        return self.config.app_token

    @property
    def signing_secret(self) -> str:
        return self.config.signing_secret

    @property
    def bot_url(self) -> str | None:
        return self.config.bot_url

    @bot_url.setter
    def bot_url(self, url: str | None) -> None:
        self.config.bot_url = url

    # ---- driving the bot ---------------------------------------------------------------

    async def send_command(
        self, *, command: str, text: str, user_id: str, channel_id: str
    ) -> DeliveryResult:
        return await self.driver.send_command(
            command=command, text=text, user_id=user_id, channel_id=channel_id
        )

    async def click(
        self,
        *,
        user_id: str,
        action_id: str,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        value: str | None = None,
        block_id: str | None = None,
        values: dict[str, dict[str, Any]] | None = None,
    ) -> DeliveryResult:
        return await self.driver.click(
            user_id=user_id,
            action_id=action_id,
            channel_id=channel_id,
            message_ts=message_ts,
            view_id=view_id,
            value=value,
            block_id=block_id,
            values=values,
        )

    async def submit_view(
        self, *, user_id: str, view_id: str, values: dict[str, dict[str, Any]]
    ) -> DeliveryResult:
        return await self.driver.submit_view(user_id=user_id, view_id=view_id, values=values)

    async def send_event(
        self,
        event: JsonDict,
        *,
        event_id: str | None = None,
        retry_num: int = 0,
        retry_reason: str | None = None,
    ) -> DeliveryResult:
        """Wraps `event` into an `event_callback` envelope unless it is one already."""
        return await self.driver.send_event(
            event, event_id=event_id, retry_num=retry_num, retry_reason=retry_reason
        )

    async def share_link(self, *, user_id: str, channel_id: str, url: str) -> DeliveryResult:
        return await self.driver.share_link(user_id=user_id, channel_id=channel_id, url=url)

    # ---- what happened -----------------------------------------------------------------

    def messages(self, channel_id: str) -> list[Message]:
        return self.state.messages(channel_id)

    def replies(self, channel_id: str, ts: str) -> list[Message]:
        return self.state.replies(channel_id, ts)

    def dms(self, user_id: str) -> list[Message]:
        return self.state.dms(user_id)

    def ephemerals(self, user_id: str) -> list[Ephemeral]:
        return self.state.ephemerals_for(user_id)
