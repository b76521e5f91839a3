"""How every Public API request is handled before its endpoint runs: request ids and the
error envelope, the per-token rate limit, faults, the gates in the documented order (§16.4:
token (401) → scope (403) → feature flag (403) → claimed account (403); then existence /
ownership (404) → body validation (400) → state conflicts (409) in each endpoint), and
parsing of bodies, parameters and pages."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web

from bot.sandbox.faults import FaultSpec
from bot.sandbox.opentrain.errors import ApiError, bad_request, code_for
from bot.sandbox.opentrain.model import Account, Token
from bot.sandbox.opentrain.ratelimit import RateLimiter
from bot.sandbox.opentrain.state import SimState

API_PREFIX = "/api/public/v1"
STATE = web.AppKey("opentrain_state", SimState)
REQUEST_ID = web.RequestKey("opentrain_request_id", str)
LIMITER = web.AppKey("opentrain_rate_limiter", RateLimiter)

log = logging.getLogger("bot.sandbox.opentrain")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


def api_path(request: web.Request) -> str | None:
    """The path relative to the API base — what fault globs and the request log use."""
    if request.path.startswith(API_PREFIX + "/"):
        return request.path[len(API_PREFIX) :]
    return None


# --- envelope and request ids ---------------------------------------------------------------


def error_response(
    request: web.Request, error: ApiError, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        error.envelope(request[REQUEST_ID]),
        status=error.status,
        headers={**error.headers, **(headers or {})},
    )


@web.middleware
async def envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    # unconfirmed: the request id is also sent as `X-Request-Id` on every response.
    request[REQUEST_ID] = str(uuid.uuid4())
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(request, error)
    except web.HTTPException as http:
        message = "No such endpoint" if http.status == 404 else http.reason
        response = error_response(request, ApiError(http.status, message))
    except Exception:
        log.exception("simulator error on %s %s", request.method, request.path)
        response = error_response(request, ApiError(500, "Internal error"))
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    return response


@web.middleware
async def rate_limited(request: web.Request, handler: Handler) -> web.StreamResponse:
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        request.app[LIMITER].check(bearer.strip())
    return await handler(request)


def fault_response(request: web.Request, spec: FaultSpec) -> web.StreamResponse:
    assert spec.status is not None
    details: dict[str, Any] = {}
    if spec.error:
        details["reason"] = spec.error
    headers: dict[str, str] = {}
    if spec.retry_after is not None:
        headers["Retry-After"] = str(spec.retry_after)
        if spec.retry_after_body:
            details["retryAfterSeconds"] = spec.retry_after
    error = ApiError(spec.status, f"Simulated {code_for(spec.status).lower()} response", details)
    return error_response(request, error, headers)


def ok(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


# --- gates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    token: Token
    account: Account


def authorize(
    request: web.Request,
    *,
    scopes: Sequence[str] = (),
    any_of: Sequence[str] = (),
    feature: str | None = None,
    claim_for: str | None = None,
) -> Caller:
    """Token → scopes (`any_of`: at least one) → feature flag → claimed account."""
    # derived (§16.4): the order of the gates, from the docs' "three gates" page.
    state = request.app[STATE]
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "Missing bearer token")
    token = state.token(value.strip())
    if token is None or token.account_id not in state.accounts:
        raise ApiError(401, "Invalid, expired or revoked token")
    account = state.accounts[token.account_id]
    have = token.effective_scopes(account)
    missing = [scope for scope in scopes if scope not in have]
    if missing:
        raise ApiError(403, "The token is missing a required scope", {"requiredScopes": missing})
    if any_of and not have.intersection(any_of):
        raise ApiError(403, "The token needs one of these scopes", {"requiredScopes": list(any_of)})
    if feature is not None and not account.feature_on(feature):
        details: dict[str, Any] = {"featureKey": feature}
        if feature == "public_api_job_drafting":
            details["mode"] = account.rollout_mode
        raise ApiError(403, "This feature is not enabled for the account", details)
    if claim_for is not None and not account.claimed:
        raise ApiError(
            403,
            f"Claim this account before you {claim_for}",
            {
                "reason": "account_claim_required",
                "claimUrl": state.link("/claim"),
                "action": claim_for,
            },
        )
    return Caller(token, account)


# --- parsing -----------------------------------------------------------------------------


async def json_body(request: web.Request) -> object:
    """The parsed body (None when empty); USD amounts keep their exact decimal value."""
    try:
        text = await request.text()
        if not text.strip():
            return None
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError:  # bad JSON, or bytes that are not UTF-8
        raise bad_request("body", "The body is not valid JSON") from None


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdecimal() or not low <= int(raw) <= high:
        raise bad_request(name, f"{name} must be an integer from {low} to {high}")
    return int(raw)


def page_after(
    items: list[T], key: Callable[[T], str], cursor: str | None, limit: int
) -> tuple[list[T], str | None]:
    """Keyset paging over an ordered list: the cursor is the key of the last item seen."""
    start = 0
    if cursor is not None:
        keys = [key(item) for item in items]
        if cursor not in keys:
            raise ValueError(cursor)
        start = keys.index(cursor) + 1
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, key(chunk[-1]) if more and chunk else None


def state_of(request: web.Request) -> SimState:
    return request.app[STATE]
