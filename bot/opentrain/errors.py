"""OpenTrain's error envelope as typed exceptions (opentrain-api.md §1).

Every non-2xx answer becomes one `OpenTrainError` subclass picked by the
envelope's `code` (or, when the body is not an envelope — an HTML 502 from a
proxy, the OAuth shape — by the HTTP status), with the `details` keys the bot
branches on exposed as typed accessors. `str(error)` is one line a person can
read and quote to support; it never carries a token or request headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

MAX_MESSAGE_CHARS = 300
# Anything shaped like an OpenTrain secret is blanked, should a server ever echo one back.
_SECRET = re.compile(r"\b(?:ot_pat|ot_clm|ot_cat|ot_ptk|whsec)_\S*")


class OpenTrainError(Exception):
    """A failed OpenTrain call: HTTP status, envelope `code`, `requestId` and `details`."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after_header: float | None = None,
    ) -> None:
        self.message = _one_line(message)
        self.status = status
        self.code = code
        self.request_id = request_id
        self.details: dict[str, Any] = dict(details or {})
        self._retry_after_header = retry_after_header
        self.path: str | None = None  # the API path that failed, set by the client
        super().__init__(self.message)

    def __str__(self) -> str:
        facts = [f"code={self.code}"] if self.code else []
        if self.reason:
            facts.append(f"reason={self.reason}")
        if self.request_id:
            facts.append(f"requestId={self.request_id}")
        return f"{self.message} ({', '.join(facts)})" if facts else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"

    @property
    def reason(self) -> str | None:
        """`details.reason`, e.g. `account_claim_required`, `payment_method_required`."""
        return self._detail_str("reason")

    @property
    def claim_url(self) -> str | None:
        return self._detail_str("claimUrl")

    @property
    def billing_url(self) -> str | None:
        return self._detail_str("billingUrl")

    @property
    def feature_key(self) -> str | None:
        return self._detail_str("featureKey")

    @property
    def resource(self) -> str | None:
        """404s name what was missing: `approvals`, `webhooks`, `credit-top-ups`."""
        return self._detail_str("resource")

    @property
    def required_scopes(self) -> list[str]:
        # The exact shape is unconfirmed: accept a list or one comma/space separated string.
        value = self.details.get("requiredScopes")
        if isinstance(value, str):
            return [scope for scope in re.split(r"[\s,]+", value) if scope]
        if isinstance(value, list):
            return [str(scope) for scope in value]
        return []

    @property
    def retry_after_seconds(self) -> float | None:
        """How long OpenTrain asked us to wait: `details.retryAfterSeconds`, else `Retry-After`."""
        from_body = _seconds(self.details.get("retryAfterSeconds"))
        return from_body if from_body is not None else self._retry_after_header

    def _detail_str(self, key: str) -> str | None:
        value = self.details.get(key)
        return value if isinstance(value, str) and value else None


class BadRequest(OpenTrainError):
    pass


class Unauthorized(OpenTrainError):
    pass


class Forbidden(OpenTrainError):
    pass


class NotFound(OpenTrainError):
    pass


class Conflict(OpenTrainError):
    pass


class RateLimited(OpenTrainError):
    pass


class InternalError(OpenTrainError):
    pass


class OpenTrainUnavailable(OpenTrainError):
    """OpenTrain could not be reached or did not answer in time (no HTTP status)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=None, code="UNAVAILABLE")


_CLASS_BY_CODE: dict[str, type[OpenTrainError]] = {
    "BAD_REQUEST": BadRequest,
    "UNAUTHORIZED": Unauthorized,
    "FORBIDDEN": Forbidden,
    "NOT_FOUND": NotFound,
    "CONFLICT": Conflict,
    "RATE_LIMITED": RateLimited,
    "INTERNAL_ERROR": InternalError,
}
_CODE_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITED",
}


def code_for_status(status: int) -> str:
    """The envelope code OpenTrain uses for `status` (every 5xx is INTERNAL_ERROR)."""
    if status >= 500:
        return "INTERNAL_ERROR"
    return _CODE_BY_STATUS.get(status, f"HTTP_{status}")


def error_from_response(status: int, body: str, headers: Mapping[str, str]) -> OpenTrainError:
    """The typed error for a non-2xx answer, whatever its body looks like."""
    envelope = _envelope(body)
    message = envelope.get("error")
    code = envelope.get("code")
    request_id = envelope.get("requestId") or headers.get("x-request-id")
    details = envelope.get("details")
    code = code if isinstance(code, str) and code else code_for_status(status)
    cls = _CLASS_BY_CODE.get(code) or _CLASS_BY_CODE.get(code_for_status(status), OpenTrainError)
    return cls(
        message if isinstance(message, str) and message else _status_message(status),
        status=status,
        code=code,
        request_id=request_id if isinstance(request_id, str) else None,
        details=details if isinstance(details, dict) else None,
        retry_after_header=_retry_after(headers.get("retry-after")),
    )


def _envelope(body: str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _status_message(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    return f"OpenTrain answered HTTP {status} {phrase}"


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds; the header may also be an HTTP date."""
    if value is None:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 and seconds != float("inf") else None


def _one_line(message: str) -> str:
    text = _SECRET.sub("[redacted]", " ".join(message.split()))
    if len(text) > MAX_MESSAGE_CHARS:
        return text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text
