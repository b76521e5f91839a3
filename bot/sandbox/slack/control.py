"""`/_sim/*`: inspect the workspace, act as its users, reconfigure and inject faults.

Bodies are JSON. The driver endpoints answer `{status, body, elapsed_ms,
timed_out, …}` describing the bot's answer; a request Slack's client could
not have made answers 400 with `{"ok": false, "error": …}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from bot.sandbox.faults import FaultSet, handle_faults_control
from bot.sandbox.slack.config import SimConfig
from bot.sandbox.slack.driver import Driver
from bot.sandbox.slack.errors import SimUsageError
from bot.sandbox.slack.model import Channel
from bot.sandbox.slack.people import User
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.transport import DeliveryResult
from bot.sandbox.slack.web_api import WebApi

LONG_POLL_MAX_S = 60.0


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommandBody(_Body):
    command: str
    text: str = ""
    user_id: str
    channel_id: str


class ActionBody(_Body):
    user_id: str
    action_id: str
    channel_id: str | None = None
    message_ts: str | None = None
    view_id: str | None = None
    value: str | None = None
    block_id: str | None = None
    values: dict[str, dict[str, Any]] | None = None  # a view's inputs, as they are


class ViewSubmissionBody(_Body):
    user_id: str
    view_id: str
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)


class UserMessageBody(_Body):
    user_id: str
    channel_id: str
    text: str
    thread_ts: str | None = None


class LinkSharedBody(_Body):
    user_id: str
    channel_id: str
    url: str


class ComposerBody(_Body):
    user_id: str
    channel_id: str
    text: str


class AppHomeBody(_Body):
    user_id: str


class ConfigBody(_Body):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    bot_url: str | None = None
    signing_secret: str | None = None
    rate_limits: bool | None = None
    rate_limit_scale: float | None = Field(default=None, gt=0)
    scopes: list[str] | str | None = None
    unfurl_domains: list[str] | None = None
    ack_timeout_ms: float | None = Field(default=None, gt=0)


class ChannelBody(_Body):
    id: str | None = None
    name: str | None = None
    kind: Literal["public", "private"] = "public"  # only when creating
    archived: bool | None = None
    members: list[str] | None = None  # replaces the member list
    add_members: list[str] = Field(default_factory=list)
    remove_members: list[str] = Field(default_factory=list)


class UserBody(_Body):
    id: str
    name: str | None = None
    real_name: str | None = None
    display_name: str | None = None
    tz: str | None = None
    deleted: bool | None = None
    is_bot: bool | None = None
    is_admin: bool | None = None
    is_owner: bool | None = None
    is_primary_owner: bool | None = None
    is_restricted: bool | None = None
    is_ultra_restricted: bool | None = None
    team_id: str | None = None  # only when creating: a Slack Connect user's home team


@web.middleware
async def control_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Refusals and malformed control requests become 400 `{"ok": false, "error": …}`."""
    try:
        return await handler(request)
    except SimUsageError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=400)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        body = {"ok": False, "error": "invalid_body", "details": errors}
        return web.json_response(body, status=400)


class ControlApi:
    def __init__(
        self,
        *,
        state: SlackState,
        config: SimConfig,
        driver: Driver,
        web_api: WebApi,
        faults: FaultSet,
    ) -> None:
        self._state = state
        self._config = config
        self._driver = driver
        self._web_api = web_api
        self._faults = faults

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sim/state", self.get_state),
            web.get("/_sim/events", self.get_events),
            web.post("/_sim/command", self.command),
            web.post("/_sim/action", self.action),
            web.post("/_sim/view_submission", self.view_submission),
            web.post("/_sim/event", self.event),
            web.post("/_sim/messages", self.user_message),
            web.post("/_sim/link_shared", self.link_shared),
            web.post("/_sim/composer", self.composer),
            web.post("/_sim/app_home_opened", self.app_home_opened),
            web.post("/_sim/url_verification", self.url_verification),
            web.post("/_sim/faults", self.faults),
            web.delete("/_sim/faults", self.faults),
            web.post("/_sim/config", self.configure),
            web.post("/_sim/channels", self.channels),
            web.post("/_sim/users", self.users),
        ]

    async def get_state(self, request: web.Request) -> web.Response:
        snapshot = self._state.snapshot()
        snapshot["config"] = self._config_view()
        snapshot["faults"] = self._faults.describe()
        return web.json_response(snapshot)

    async def get_events(self, request: web.Request) -> web.Response:
        try:
            after = int(request.query.get("after", "0"))
            timeout = min(float(request.query.get("timeout", "25")), LONG_POLL_MAX_S)
        except ValueError:
            raise SimUsageError("after must be an integer and timeout a number") from None
        await self._state.feed.wait_after(after, timeout)
        return web.json_response(self._state.feed.since(after))

    async def command(self, request: web.Request) -> web.Response:
        body = CommandBody.model_validate(await _json(request))
        return _delivery(await self._driver.send_command(**body.model_dump()))

    async def action(self, request: web.Request) -> web.Response:
        body = ActionBody.model_validate(await _json(request))
        return _delivery(await self._driver.click(**body.model_dump()))

    async def view_submission(self, request: web.Request) -> web.Response:
        body = ViewSubmissionBody.model_validate(await _json(request))
        return _delivery(await self._driver.submit_view(**body.model_dump()))

    async def event(self, request: web.Request) -> web.Response:
        """The body is an `event` or a whole envelope; `?retry_num=&retry_reason=&event_id=`
        replay a delivery the way Slack retries it."""
        query = request.query
        try:
            retry_num = int(query.get("retry_num", "0"))
        except ValueError:
            raise SimUsageError("retry_num must be an integer") from None
        event = await _json(request)
        if not isinstance(event, dict):
            raise SimUsageError("the body must be an event object or an envelope")
        result = await self._driver.send_event(
            event,
            event_id=query.get("event_id"),
            retry_num=retry_num,
            retry_reason=query.get("retry_reason"),
        )
        return _delivery(result)

    async def user_message(self, request: web.Request) -> web.Response:
        body = UserMessageBody.model_validate(await _json(request))
        message, results = await self._driver.post_user_message(**body.model_dump())
        return web.json_response(
            {"ts": message.ts, "deliveries": [result.to_dict() for result in results]}
        )

    async def link_shared(self, request: web.Request) -> web.Response:
        body = LinkSharedBody.model_validate(await _json(request))
        return _delivery(await self._driver.share_link(**body.model_dump()))

    async def composer(self, request: web.Request) -> web.Response:
        """A person types (does not send) `text`: the composer's `link_shared`, if any."""
        body = ComposerBody.model_validate(await _json(request))
        result = await self._driver.type_in_composer(**body.model_dump())
        if result is None:
            return web.json_response({"ok": True, "delivery": None})
        return _delivery(result)

    async def app_home_opened(self, request: web.Request) -> web.Response:
        body = AppHomeBody.model_validate(await _json(request))
        return _delivery(await self._driver.open_home(body.user_id))

    async def url_verification(self, request: web.Request) -> web.Response:
        return _delivery(await self._driver.verify_url())

    async def faults(self, request: web.Request) -> web.Response:
        return await handle_faults_control(request, self._faults)

    async def configure(self, request: web.Request) -> web.Response:
        body = ConfigBody.model_validate(await _json(request))
        config = self._config
        given = body.model_fields_set
        if "bot_url" in given:
            config.bot_url = body.bot_url
        if body.signing_secret is not None:
            config.signing_secret = body.signing_secret
        if body.rate_limits is not None:
            config.rate_limits = body.rate_limits
        if body.rate_limit_scale is not None:
            config.rate_limit_scale = body.rate_limit_scale
        if body.scopes is not None:
            scopes = body.scopes.split(",") if isinstance(body.scopes, str) else body.scopes
            config.scopes = frozenset(scope.strip() for scope in scopes if scope.strip())
        if body.unfurl_domains is not None:
            config.unfurl_domains = tuple(body.unfurl_domains)
        if body.ack_timeout_ms is not None:
            config.ack_timeout_ms = body.ack_timeout_ms
        if {"rate_limits", "rate_limit_scale"} & given:
            self._web_api.reset_rate_limits()
        return web.json_response({"ok": True, "config": self._config_view()})

    async def channels(self, request: web.Request) -> web.Response:
        body = ChannelBody.model_validate(await _json(request))
        state = self._state
        channel = state.channels.get(body.id) if body.id else None
        if channel is None:
            if not body.name:
                raise SimUsageError("a new channel needs a name")
            if state.channel_named(body.name) is not None:
                raise SimUsageError(f"#{body.name} already exists")
            channel = Channel(
                id=body.id or state.new_id("C" if body.kind == "public" else "G"),
                name=body.name,
                kind=body.kind,
                members=set(),
                created=int(state.clock()),
            )
            state.add_channel(channel)
        elif body.name:
            channel.name = body.name
        for user_id in [*(body.members or []), *body.add_members]:
            if user_id not in state.users:
                raise SimUsageError(f"no user {user_id}")
        if body.members is not None:
            channel.members = set(body.members)
        channel.members |= set(body.add_members)
        channel.members -= set(body.remove_members)
        if body.archived is not None:
            channel.is_archived = body.archived
        state.feed.bump("channel", channel=channel.id)
        return web.json_response(
            {
                "ok": True,
                "channel": channel.to_slack(
                    state.bot_user_id, team_id=state.team_id, include_num_members=True
                ),
            }
        )

    async def users(self, request: web.Request) -> web.Response:
        body = UserBody.model_validate(await _json(request))
        state = self._state
        if body.tz is not None:
            try:
                ZoneInfo(body.tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise SimUsageError(f"unknown time zone {body.tz!r}") from None
        user = state.users.get(body.id)
        if user is None:
            name = body.name or body.id.lower()
            user = User(id=body.id, name=name, real_name=name, display_name=name)
            user.team_id = None if body.team_id == state.team_id else body.team_id
            # New members land in the workspace's #general, as in Slack; guests and people
            # of another organisation join only the channels they are added to.
            guest = body.is_restricted or body.is_ultra_restricted
            if not guest and body.team_id in (None, state.team_id):
                for channel in state.channels.values():
                    if channel.is_general:
                        channel.members.add(user.id)
        elif body.team_id not in (None, user.home_team(state.team_id)):
            raise SimUsageError("a user's team is set when the user is created")
        updates = body.model_dump(exclude={"id", "team_id"}, exclude_none=True)
        for field_name, value in updates.items():
            setattr(user, field_name, value)
        state.add_user(user)
        return web.json_response({"ok": True, "user": user.to_slack(state.team_id, state.now())})

    def _config_view(self) -> dict[str, Any]:
        """The configuration, minus the secrets."""
        config = self._config
        return {
            "botUrl": config.bot_url,
            "rateLimits": config.rate_limits,
            "rateLimitScale": config.rate_limit_scale,
            "scopes": sorted(config.scopes),
            "unfurlDomains": list(config.unfurl_domains),
            "ackTimeoutMs": config.ack_timeout_ms,
        }


async def _json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise SimUsageError("the body must be JSON") from None


def _delivery(result: DeliveryResult) -> web.Response:
    return web.json_response(result.to_dict())
