"""OpenTrain's error envelope `{error, code, requestId, details}` (opentrain-api.md §1).

Rules raise `ApiError`; the API layer renders it with a fresh request id, the
control API as `{ok: false, …}` and the approval page as a message.
"""

from __future__ import annotations

from typing import Any

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    429: "RATE_LIMITED",
}


def code_for(status: int) -> str:
    if status >= 500:
        return "INTERNAL_ERROR"
    # unconfirmed: statuses outside the documented mapping (405, 408, 422, …) use the
    # nearest enum value, BAD_REQUEST, because the `code` enum has nothing closer.
    return CODES.get(status, "BAD_REQUEST")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.headers: dict[str, str] = headers or {}  # e.g. `Retry-After` on a 429

    @property
    def code(self) -> str:
        return code_for(self.status)

    @property
    def reason(self) -> str | None:
        reason = self.details.get("reason")
        return reason if isinstance(reason, str) else None

    def envelope(self, request_id: str) -> dict[str, Any]:
        return {
            "error": self.message,
            "code": self.code,
            "requestId": request_id,
            "details": self.details,
        }


def bad_request(field: str, message: str) -> ApiError:
    return ApiError(400, message, {"field": field})


def invalid_issues(issues: list[dict[str, Any]]) -> ApiError:
    """zod-style validation failure, as the messages endpoints report it (§14)."""
    return ApiError(400, "Invalid request", {"issues": issues})


def issue(path: str, code: str, message: str) -> dict[str, Any]:
    return {"code": code, "path": [path], "message": message}


def not_found(resource: str, id_key: str, resource_id: str) -> ApiError:
    return ApiError(
        404, f"No such {resource.rstrip('s')}", {"resource": resource, id_key: resource_id}
    )


def conflict(reason: str, message: str, **extra: Any) -> ApiError:
    return ApiError(409, message, {"reason": reason, **extra})
