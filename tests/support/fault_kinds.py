"""The OpenTrain faults the fault suite injects, and what each one means for a client.

Each kind is a `POST /_sim/faults` body (camelCase `FaultSpec` fields, without
`path` and `count`) plus two facts the assertions need: whether a call that may
be repeated safely retries it, and whether the simulator did the work although
the client never saw the answer (timeouts and late answers: the handler ran).

Timeouts assume the client gives up after `CLIENT_TIMEOUT` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLIENT_TIMEOUT = 0.3
# Long enough past CLIENT_TIMEOUT that a loaded CI machine still sees the timeout.
TOO_SLOW_MS = 700
# Short waits keep the suite fast; the client's honouring of long ones is proven in
# tests/integration/test_client_transport.py.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class OpenTrainFault:
    name: str
    spec: dict[str, Any]
    retried: bool  # a safely repeatable call (read, co-sign request) tries again
    server_acted: bool  # OpenTrain did the work; only the answer was lost
    reads_retried: bool = True  # False: only co-sign requests try again (a 500)

    def at(self, path: str, *, count: int | None = 1, method: str | None = None) -> dict[str, Any]:
        """The fault body for requests to `path` (a glob), `count` times (None: until cleared)."""
        body: dict[str, Any] = {"path": path, **self.spec}
        if count is not None:
            body["count"] = count
        if method is not None:
            body["method"] = method
        return body


PROXY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"

# A co-sign request asks again (OpenTrain may have acted first); a read does not.
HTTP_500 = OpenTrainFault(
    "http-500", {"status": 500}, retried=True, server_acted=False, reads_retried=False
)
HTTP_503 = OpenTrainFault("http-503", {"status": 503}, retried=True, server_acted=False)
RATE_LIMITED_HEADER = OpenTrainFault(
    "429-retry-after",
    {"status": 429, "retryAfter": RETRY_AFTER_SECONDS},
    retried=True,
    server_acted=False,
)
RATE_LIMITED_BODY = OpenTrainFault(
    "429-retry-after-seconds",
    {"status": 429, "retryAfter": RETRY_AFTER_SECONDS, "retryAfterBody": True},
    retried=True,
    server_acted=False,
)
TIMEOUT = OpenTrainFault("timeout", {"latencyMs": TOO_SLOW_MS}, retried=True, server_acted=True)
RESET = OpenTrainFault("connection-reset", {"drop": True}, retried=True, server_acted=False)
LATE = OpenTrainFault("late-answer", {"lateMs": TOO_SLOW_MS}, retried=True, server_acted=True)

# OpenTrain did the work, then the answer was lost: a gateway's 502, or a dropped connection.
ACTED_THEN_502 = OpenTrainFault(
    "acted-then-502", {"status": 502, "afterActing": True}, retried=True, server_acted=True
)
ACTED_THEN_DROP = OpenTrainFault(
    "acted-then-drop", {"drop": True, "afterActing": True}, retried=True, server_acted=True
)
# A proxy's HTML error page instead of OpenTrain's envelope.
HTML_502 = OpenTrainFault(
    "html-502", {"status": 502, "rawBody": PROXY_PAGE}, retried=True, server_acted=False
)

ALL = (
    HTTP_500,
    HTTP_503,
    RATE_LIMITED_HEADER,
    RATE_LIMITED_BODY,
    TIMEOUT,
    RESET,
    LATE,
    ACTED_THEN_502,
    ACTED_THEN_DROP,
    HTML_502,
)
