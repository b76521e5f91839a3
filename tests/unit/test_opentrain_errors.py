"""Non-2xx answers become typed, one-line, secret-free errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from bot.opentrain import (
    BadRequest,
    Conflict,
    Forbidden,
    InternalError,
    NotFound,
    OpenTrainError,
    OpenTrainUnavailable,
    RateLimited,
    Unauthorized,
)
from bot.opentrain.errors import error_from_response

FIXTURES = Path(__file__).parents[1] / "fixtures" / "opentrain"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def envelope(code: str, *, error: str = "Nope", **details: Any) -> str:
    return json.dumps({"error": error, "code": code, "requestId": "req-1", "details": details})


def test_documented_envelope_becomes_forbidden_with_claim_url() -> None:
    error = error_from_response(403, fixture_text("error-envelope-example.json"), {})
    assert type(error) is Forbidden
    assert error.status == 403
    assert error.code == "FORBIDDEN"
    assert error.message == "Human-readable message"
    assert error.reason == "account_claim_required"
    assert error.claim_url == "https://app.opentrain.ai/claim"
    assert error.request_id == "9d1f3a8e-4c2b-4f7e-9a61-0b2d3c4e5f60"


def test_claim_required_keeps_the_action_and_reads_as_one_line() -> None:
    error = error_from_response(403, fixture_text("error-account_claim_required.json"), {})
    assert error.details["action"] == "hire AI trainers"
    assert str(error) == (
        "A human must claim this agent account before it can hire AI trainers. "
        "(code=FORBIDDEN, reason=account_claim_required, "
        "requestId=3b7c9e21-8f4a-4d6b-b1c2-7e5f9a0d1c34)"
    )


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "BAD_REQUEST", BadRequest),
        (401, "UNAUTHORIZED", Unauthorized),
        (403, "FORBIDDEN", Forbidden),
        (404, "NOT_FOUND", NotFound),
        (409, "CONFLICT", Conflict),
        (429, "RATE_LIMITED", RateLimited),
        (500, "INTERNAL_ERROR", InternalError),
    ],
)
def test_class_follows_the_code(status: int, code: str, cls: type[OpenTrainError]) -> None:
    error = error_from_response(status, envelope(code), {})
    assert type(error) is cls
    assert error.code == code


def test_code_wins_over_status() -> None:
    assert type(error_from_response(400, envelope("CONFLICT"), {})) is Conflict


def test_unknown_code_is_kept_and_the_status_picks_the_class() -> None:
    error = error_from_response(409, envelope("PAYMENT_STATE"), {})
    assert type(error) is Conflict
    assert error.code == "PAYMENT_STATE"


def test_unknown_code_and_unusual_status_fall_back_to_the_base_class() -> None:
    error = error_from_response(418, envelope("TEAPOT"), {})
    assert type(error) is OpenTrainError
    assert error.code == "TEAPOT"


def test_html_502_from_a_proxy_is_a_short_internal_error() -> None:
    html = "<html><head><title>502</title></head><body>" + "x" * 5000 + "</body></html>"
    error = error_from_response(502, html, {"content-type": "text/html"})
    assert type(error) is InternalError
    assert error.code == "INTERNAL_ERROR"
    assert str(error) == "OpenTrain answered HTTP 502 Bad Gateway (code=INTERNAL_ERROR)"


def test_empty_body_with_unusual_status() -> None:
    error = error_from_response(422, "", {})
    assert type(error) is OpenTrainError
    assert error.code == "HTTP_422"
    assert error.message == "OpenTrain answered HTTP 422 Unprocessable Entity"


def test_oauth_shaped_body_uses_its_error_as_the_message() -> None:
    body = fixture_text("agent-auth-error-anonymous_not_enabled.json")
    error = error_from_response(403, body, {})
    assert type(error) is Forbidden
    assert error.message == "anonymous_not_enabled"
    assert error.details == {}


def test_request_id_falls_back_to_the_header() -> None:
    error = error_from_response(503, "Service Unavailable", {"x-request-id": "hdr-7"})
    assert error.request_id == "hdr-7"


def test_typed_detail_accessors() -> None:
    error = error_from_response(
        409,
        envelope(
            "CONFLICT",
            reason="payment_method_required",
            billingUrl="https://app.opentrain.ai/billing",
            featureKey="public_api_hiring",
            resource="approvals",
        ),
        {},
    )
    assert error.reason == "payment_method_required"
    assert error.billing_url == "https://app.opentrain.ai/billing"
    assert error.feature_key == "public_api_hiring"
    assert error.resource == "approvals"
    assert error.claim_url is None
    assert error.required_scopes == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["proposals:write"], ["proposals:write"]),
        ("payments:write, webhooks:manage", ["payments:write", "webhooks:manage"]),
        (None, []),
    ],
)
def test_required_scopes_accepts_a_list_or_a_string(value: Any, expected: list[str]) -> None:
    error = error_from_response(403, envelope("FORBIDDEN", requiredScopes=value), {})
    assert error.required_scopes == expected


def test_retry_after_from_the_body_wins_over_the_header() -> None:
    body = envelope("RATE_LIMITED", retryAfterSeconds=2.5)
    assert error_from_response(429, body, {"retry-after": "9"}).retry_after_seconds == 2.5
    plain = envelope("RATE_LIMITED")
    assert error_from_response(429, plain, {"retry-after": "9"}).retry_after_seconds == 9.0
    assert error_from_response(429, plain, {}).retry_after_seconds is None
    assert error_from_response(429, plain, {"retry-after": "soon"}).retry_after_seconds is None


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    header = format_datetime(when, usegmt=True)
    seconds = error_from_response(503, "", {"retry-after": header}).retry_after_seconds
    assert seconds is not None
    assert 100 < seconds <= 120


def test_message_is_one_short_line_without_secrets() -> None:
    noisy = "bad token ot_pat_abc_SECRET123\nrequest headers:\tAuthorization " + "y" * 1000
    error = error_from_response(401, envelope("UNAUTHORIZED", error=noisy), {})
    text = str(error)
    assert "\n" not in text
    assert "\t" not in text
    assert "SECRET123" not in text
    assert "[redacted]" in text
    assert len(error.message) <= 300
    assert "SECRET123" not in repr(error)


def test_unavailable_has_no_status() -> None:
    error = OpenTrainUnavailable("OpenTrain timed out (ReadTimeout, 4 attempts)")
    assert isinstance(error, OpenTrainError)
    assert error.status is None
    assert error.code == "UNAVAILABLE"
    assert str(error) == "OpenTrain timed out (ReadTimeout, 4 attempts) (code=UNAVAILABLE)"
