"""Fault injection on the OpenTrain simulator (`POST /_sim/faults`): every kind, and that
faults only ever touch the API."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.opentrain_sim import OpenTrainSimHandle, assert_error
from tests.support.wait import wait_for


async def test_status_fault_with_retry_after_header_and_body(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.fault(
        path="/approvals/*", status=429, retryAfter=7, retryAfterBody=True, error="slow_down"
    )
    api = opentrain_sim.api()
    limited = await api.get("/approvals/apr_anything")
    assert limited.headers["Retry-After"] == "7"
    assert_error(limited, 429, "RATE_LIMITED", retryAfterSeconds=7, reason="slow_down")
    assert (await api.get("/contracts")).status_code == 200  # other paths untouched


async def test_server_error_fault_without_retry_after(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.fault(path="/credits", status=503, count=2)
    api = opentrain_sim.api()
    first = await api.get("/credits")
    assert_error(first, 503, "INTERNAL_ERROR")
    assert "Retry-After" not in first.headers and first.json()["details"] == {}
    assert (await api.get("/credits")).status_code == 503
    assert (await api.get("/credits")).status_code == 200  # count used up


async def test_method_filter(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.fault(path="/milestones/*", method="POST", status=500)
    api = opentrain_sim.api()
    assert_error(await api.post("/milestones/ms_batch2/fund"), 500, "INTERNAL_ERROR")
    assert opentrain_sim.state.approvals == {}  # the fault answered instead of the handler
    assert (await api.get("/contracts/ctr_linus")).status_code == 200


async def test_time_window(opentrain_sim: OpenTrainSimHandle) -> None:
    started = time.monotonic()
    await opentrain_sim.fault(path="/auth/me", status=502, forSeconds=0.3)
    api = opentrain_sim.api()
    assert (await api.get("/auth/me")).status_code == 502

    async def healthy() -> bool:
        return (await api.get("/auth/me")).status_code == 200

    await wait_for(healthy, timeout=5, message="the fault window to close")
    assert time.monotonic() - started >= 0.3


async def test_latency(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.fault(path="/contracts", latencyMs=250, count=1)
    api = opentrain_sim.api()
    started = time.monotonic()
    response = await api.get("/contracts")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.25


async def test_drop_closes_the_connection_without_an_answer(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.fault(path="/auth/me", drop=True, count=1)
    with pytest.raises(httpx.TransportError):
        await opentrain_sim.api().get("/auth/me")
    [logged] = await opentrain_sim.requests()
    assert (logged["path"], logged["status"], logged["dropped"]) == ("/auth/me", None, True)
    assert (await opentrain_sim.api().get("/auth/me")).status_code == 200


async def test_late_answer_after_the_work_was_done(opentrain_sim: OpenTrainSimHandle) -> None:
    """The client gives up, but the server acted: a retry must find the same approval."""
    await opentrain_sim.fault(path="/milestones/*/fund", lateMs=400, count=1)
    headers = {"Authorization": f"Bearer {opentrain_sim.full_token}"}
    async with httpx.AsyncClient(
        base_url=opentrain_sim.api_base, headers=headers, timeout=0.1
    ) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post("/milestones/ms_batch2/fund")
    [created] = opentrain_sim.state.approvals.values()
    assert (created.type.value, created.milestone_id) == ("milestone_fund", "ms_batch2")
    retry = await opentrain_sim.api().post("/milestones/ms_batch2/fund")
    assert retry.status_code == 202
    assert retry.json()["approval"]["id"] == created.id


async def test_faults_are_listed_and_cleared(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.fault(path="*", status=500)
    listed = (await opentrain_sim.control.get("/_sim/state")).json()["faults"]
    assert listed == [{"path": "*", "status": 500, "remaining": None, **_defaults()}]
    # Faults never touch the control API or the human pages.
    assert (await opentrain_sim.control.get("/_sim/clock")).status_code == 200
    assert (await opentrain_sim.control.get("/claim")).status_code == 200
    assert (await opentrain_sim.api().get("/auth/me")).status_code == 500
    await opentrain_sim.clear_faults()
    assert (await opentrain_sim.api().get("/auth/me")).status_code == 200
    bad = await opentrain_sim.control.post("/_sim/faults", json={"status": 200})
    assert bad.status_code == 400
    not_json = await opentrain_sim.control.post("/_sim/faults", content=b"{")
    assert not_json.status_code == 400


def _defaults() -> dict[str, object]:
    return {
        "latencyMs": 0,
        "lateMs": 0,
        "retryAfterBody": False,
        "drop": False,
        "afterActing": False,
    }


# --- failures after OpenTrain acted ---------------------------------------------------------


async def test_after_acting_a_status_fault_answers_once_the_work_is_done(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.fault(path="/milestones/*/fund", status=502, afterActing=True, count=1)
    api = opentrain_sim.api()
    assert_error(await api.post("/milestones/ms_batch2/fund"), 502, "INTERNAL_ERROR")
    [created] = opentrain_sim.state.approvals.values()  # the handler ran before the 502
    again = await api.post("/milestones/ms_batch2/fund")
    assert again.status_code == 202 and again.json()["approval"]["id"] == created.id


async def test_after_acting_a_drop_closes_the_connection_once_the_work_is_done(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.fault(path="/milestones/*/fund", drop=True, afterActing=True, count=1)
    with pytest.raises(httpx.TransportError):
        await opentrain_sim.api().post("/milestones/ms_batch2/fund")
    [created] = opentrain_sim.state.approvals.values()
    assert created.milestone_id == "ms_batch2"
    [logged] = await opentrain_sim.requests()
    assert logged["dropped"] is True


async def test_raw_body_answers_a_proxy_error_page(opentrain_sim: OpenTrainSimHandle) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    await opentrain_sim.fault(path="/auth/me", status=502, rawBody=page, retryAfter=9, count=1)
    response = await opentrain_sim.api().get("/auth/me")
    assert (response.status_code, response.text) == (502, page)
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Retry-After"] == "9"
    missing_status = await opentrain_sim.control.post("/_sim/faults", json={"rawBody": page})
    assert missing_status.status_code == 400


# --- OpenTrain's own rate limit -----------------------------------------------------------


async def test_rate_limit_per_token_answers_429_with_both_waits(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.configure(rateLimitPerMinute=3)
    api = opentrain_sim.api()
    assert [(await api.get("/auth/me")).status_code for _ in range(3)] == [200, 200, 200]
    limited = await api.get("/contracts")
    body = assert_error(limited, 429, "RATE_LIMITED")
    wait = int(limited.headers["Retry-After"])
    assert 1 <= wait <= 60 and body["details"]["retryAfterSeconds"] == wait
    assert (await api.get("/auth/me")).status_code == 429  # refusals do not reset the window
    other = opentrain_sim.api("ot_pat_sim_readonly")
    assert (await other.get("/auth/me")).status_code == 200  # per token
    assert (await opentrain_sim.control.get("/_sim/clock")).status_code == 200  # never control


async def test_rate_limit_window_reopens(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.configure(rateLimitPerMinute=1, rateLimitWindowSeconds=1)
    api = opentrain_sim.api()
    assert (await api.get("/auth/me")).status_code == 200
    limited = await api.get("/auth/me")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"

    async def reopened() -> bool:
        return (await api.get("/auth/me")).status_code == 200

    await wait_for(reopened, timeout=10, message="the next window")
