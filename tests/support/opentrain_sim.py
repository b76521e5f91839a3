"""The `opentrain_sim` fixture: the OpenTrain simulator on 127.0.0.1:<free port>.

Helpers go through the HTTP control API (`/_sim/*`), exactly as the sandbox and
other processes do; `state` is the in-process `SimState` for direct inspection.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

import httpx
import pytest

from bot.sandbox.opentrain import OpenTrainSim, SimState


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: building one per httpx client costs ~50 ms."""
    return ssl.create_default_context()


def assert_error(
    response: httpx.Response, status: int, code: str, **details: Any
) -> dict[str, Any]:
    """`response` is OpenTrain's error envelope with this status, code and `details` subset."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code", "requestId", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert body["requestId"] == response.headers["X-Request-Id"]
    assert uuid.UUID(body["requestId"]).version == 4
    for key, value in details.items():
        assert body["details"].get(key) == value, body["details"]
    return dict(body)


class SimControlError(AssertionError):
    """A control call the test expected to work did not."""


class OpenTrainSimHandle:
    def __init__(self, sim: OpenTrainSim, control: httpx.AsyncClient) -> None:
        self.sim = sim
        self.control = control
        self._clients: dict[str, httpx.AsyncClient] = {}

    @property
    def origin(self) -> str:
        return self.sim.origin

    @property
    def api_base(self) -> str:
        return self.sim.api_base

    @property
    def state(self) -> SimState:
        return self.sim.state

    @property
    def full_token(self) -> str:
        return self.state.seeded["fullToken"]

    def api(self, token: str | None = None) -> httpx.AsyncClient:
        """A raw httpx client on the API base, authenticated with `token` (default: full).

        Kept for the whole test and closed with the fixture; build your own for special
        settings such as short timeouts.
        """
        token = token or self.full_token
        if token not in self._clients:
            headers = {"Authorization": f"Bearer {token}"}
            self._clients[token] = httpx.AsyncClient(
                base_url=self.api_base, headers=headers, verify=_tls()
            )
        return self._clients[token]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.control.request(method, path, json=body)
        if not response.is_success:
            raise SimControlError(f"{method} {path} → {response.status_code}: {response.text}")
        return response.json()

    async def confirm(
        self,
        approval_id: str,
        *,
        milestone: dict[str, Any] | None = None,
        payment_source: str | None = None,
    ) -> dict[str, Any]:
        """Play the human pressing Confirm; returns the approval as the API shows it."""
        body: dict[str, Any] = {}
        if milestone is not None:
            body["milestone"] = milestone
        if payment_source is not None:
            body["paymentSource"] = payment_source
        result = await self._call("POST", f"/_sim/approvals/{approval_id}/confirm", body)
        return dict(result["approval"])

    async def decline(self, approval_id: str) -> dict[str, Any]:
        result = await self._call("POST", f"/_sim/approvals/{approval_id}/decline")
        return dict(result["approval"])

    async def advance(self, seconds: float) -> dict[str, Any]:
        """Move the simulator clock forward; returns `{now, offsetSeconds}`."""
        return dict(await self._call("POST", "/_sim/clock/advance", {"seconds": seconds}))

    async def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The API calls the simulator received, oldest first."""
        result = await self._call("GET", f"/_sim/requests?since={since}")
        return list(result["requests"])

    async def fault(self, **spec: Any) -> None:
        """Add a fault (FaultSpec fields in camelCase, e.g. `path="/approvals/*", status=503`)."""
        await self._call("POST", "/_sim/faults", spec)

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/_sim/faults")

    async def configure(self, **changes: Any) -> dict[str, Any]:
        """Switch unconfirmed behaviours (`PATCH /_sim/config`, camelCase keys); returns all."""
        return dict((await self._call("PATCH", "/_sim/config", changes))["config"])

    async def patch_account(self, **fields: Any) -> dict[str, Any]:
        """`claimed`, `features`, `paymentMethodOnFile`, `availableCents` (camelCase keys)."""
        return dict((await self._call("PATCH", "/_sim/account", fields))["account"])

    async def token(self, scopes: list[str], label: str = "test") -> str:
        return str(
            (await self._call("POST", "/_sim/tokens", {"scopes": scopes, "label": label}))["token"]
        )


@pytest.fixture
async def opentrain_sim() -> AsyncIterator[OpenTrainSimHandle]:
    sim = OpenTrainSim(seed="demo", webhook_time_scale=0.001)
    await sim.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=sim.origin, timeout=10.0, verify=_tls()) as control:
            handle = OpenTrainSimHandle(sim, control)
            try:
                yield handle
            finally:
                await handle.aclose()
    finally:
        await sim.stop()
