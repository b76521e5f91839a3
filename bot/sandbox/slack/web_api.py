"""`/api/<method>`: Slack's Web API transport — arguments, auth, scopes, rate limits.

Like Slack, every answer is HTTP 200 with `{"ok": true, …}` or
`{"ok": false, "error": …}`, except rate limiting (HTTP 429 with
`Retry-After`) and injected faults. Every response carries `X-OAuth-Scopes`.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from bot.sandbox.faults import FaultSpec
from bot.sandbox.slack.config import SimConfig
from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.methods import METHODS
from bot.sandbox.slack.methods.context import ApiContext, Args, MethodSpec
from bot.sandbox.slack.model import JsonDict
from bot.sandbox.slack.ratelimit import RateLimiter
from bot.sandbox.slack.state import SlackState

log = logging.getLogger(__name__)

_FAULT_ERRORS = {
    400: "invalid_arguments",
    401: "not_authed",
    403: "access_denied",
    404: "unknown_method",
    408: "request_timeout",
    429: "ratelimited",
    500: "internal_error",
    502: "fatal_error",
    503: "service_unavailable",
    504: "request_timeout",
}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# A method called with the app-level token (`xapp-…`), such as `apps.connections.open`.
AppLevelMethod = Callable[[], JsonDict]
APP_LEVEL_SCOPE = "connections:write"


class WebApi:
    def __init__(
        self,
        state: SlackState,
        config: SimConfig,
        app_level: Mapping[str, AppLevelMethod] | None = None,
    ) -> None:
        self._state = state
        self._config = config
        self._app_level = dict(app_level or {})
        self._limiter = RateLimiter(scale=config.rate_limit_scale)

    def reset_rate_limits(self) -> None:
        """Start fresh windows, e.g. after the scale changed."""
        self._limiter = RateLimiter(scale=self._config.rate_limit_scale)

    @staticmethod
    def method_of(request: web.Request) -> str | None:
        """The method name a fault's `path` glob is matched against (`chat.postMessage`)."""
        return request.match_info.get("method") if request.path.startswith("/api/") else None

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self._state.api_calls[method] += 1
        spec = METHODS.get(method)
        app_level = self._app_level.get(method)
        try:
            if app_level is not None:
                _, token = await self._read(request)
                self._authenticate_app(token)
                # The scopes an app-level token carries are its own, not the bot's.
                headers = {"X-OAuth-Scopes": APP_LEVEL_SCOPE}
                return web.json_response({"ok": True, **app_level()}, headers=headers)
            if spec is None:
                raise ApiError("unknown_method")
            values, token = await self._read(request)
            self._authenticate(token)
            args = Args(values)
            ctx = ApiContext(self._state, self._config.scopes)
            if spec.scope is not None:
                ctx.require_scope(spec.scope)
            retry_after = self._admit(method, spec, args)
            if retry_after is not None:
                return self._rate_limited(retry_after)
            body: JsonDict = {"ok": True, **spec.handler(ctx, args)}
        except ApiError as exc:
            body = exc.body()
        log.debug("slack_sim.api method=%s ok=%s error=%s", method, body["ok"], body.get("error"))
        return web.json_response(body, headers=self._scope_header())

    def fault_response(self, request: web.Request, fault: FaultSpec) -> web.Response:
        """An injected failure, in Slack's shape."""
        status = fault.status or 500
        headers = self._scope_header()
        retry_after = fault.retry_after
        if status == 429:
            self._state.rate_limited += 1
            # Slack never answers 429 without telling the client when to come back.
            retry_after = 1 if retry_after is None else retry_after
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        error = fault.error or _FAULT_ERRORS.get(status, "internal_error")
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    async def _read(self, request: web.Request) -> tuple[dict[str, Any], str | None]:
        """The call's arguments and its token (a Bearer header, or a form field)."""
        values: dict[str, Any] = dict(request.query)
        token = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError("invalid_json") from None
                if not isinstance(body, dict):
                    raise ApiError("invalid_json")
                # Slack ignores a `token` inside a JSON body: JSON calls must use the header.
                values.update({k: v for k, v in body.items() if k != "token"})
            elif request.content_type in _FORM_TYPES:
                form = await request.post()
                values.update({k: v for k, v in form.items() if isinstance(v, str)})
                token = token or values.pop("token", None)
            else:
                raise ApiError("invalid_post_type")
        values.pop("token", None)
        return values, token

    def _authenticate(self, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        if not hmac.compare_digest(token.encode(), self._config.bot_token.encode()):
            raise ApiError("invalid_auth")

    def _authenticate_app(self, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        if hmac.compare_digest(token.encode(), self._config.app_token.encode()):
            return
        # Bot and user tokens (`xoxb-`, `xoxp-`) are real tokens, just not for this method.
        raise ApiError("not_allowed_token_type" if token.startswith("xox") else "invalid_auth")

    def _admit(self, method: str, spec: MethodSpec, args: Args) -> int | None:
        if not self._config.rate_limits:
            return None
        return self._limiter.admit(method, spec.tier, args.text("channel"))

    def _rate_limited(self, retry_after: int) -> web.Response:
        self._state.rate_limited += 1
        headers = {**self._scope_header(), "Retry-After": str(retry_after)}
        return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)

    def _scope_header(self) -> dict[str, str]:
        return {"X-OAuth-Scopes": ",".join(sorted(self._config.scopes))}
