"""The trainer's side of a milestone on the OpenTrain simulator: submitted work
(`POST /_sim/milestones/{id}/submit`) awaits the employer's approval, fires
`milestone.status_changed` then `payment.pending`, and shows in `/payments/pending`
until a payout is confirmed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from bot.sandbox.opentrain.vocabulary import MilestoneStatus
from tests.support.opentrain_sim import OpenTrainSimHandle


async def _submit(sim: OpenTrainSimHandle, milestone_id: str) -> httpx.Response:
    return await sim.control.post(f"/_sim/milestones/{milestone_id}/submit")


async def _events_after(sim: OpenTrainSimHandle, cursor: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (
        await sim.api().get("/updates", params={"cursor": str(cursor)})
    ).json()["events"]
    return events


def _last_event_id(sim: OpenTrainSimHandle) -> int:
    return sim.state.events[-1].id if sim.state.events else 0


async def _milestone(sim: OpenTrainSimHandle, contract_id: str, milestone_id: str) -> Any:
    contract = (await sim.api().get(f"/contracts/{contract_id}")).json()["contract"]
    return next(m for m in contract["milestones"] if m["id"] == milestone_id)


async def _pending_payments(sim: OpenTrainSimHandle) -> list[dict[str, Any]]:
    payments: list[dict[str, Any]] = (await sim.api().get("/payments/pending")).json()["payments"]
    return payments


async def test_submitted_work_awaits_approval_and_fires_two_events_in_order(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    before = await _milestone(opentrain_sim, "ctr_linus", "ms_batch1")
    assert (before["pendingApproval"], before["needsReview"]) == (False, False)
    cursor = _last_event_id(opentrain_sim)

    response = await _submit(opentrain_sim, "ms_batch1")
    assert response.status_code == 200, response.text
    submitted = response.json()["milestone"]
    assert submitted["status"] == "ACTIVE_FUNDED"  # the API value of "pending approval" is open
    assert (submitted["pendingApproval"], submitted["needsReview"]) == (True, True)
    assert submitted["invoiceId"] == before["invoiceId"] is not None
    assert await _milestone(opentrain_sim, "ctr_linus", "ms_batch1") == submitted

    changed, pending = await _events_after(opentrain_sim, cursor)
    assert (changed["type"], changed["resourceId"], changed["jobId"]) == (
        "milestone.status_changed",
        "ms_batch1",
        "job_dashcam",
    )
    assert changed["data"] == {
        "milestoneId": "ms_batch1",
        "contractId": "ctr_linus",
        "status": "ACTIVE_FUNDED",
    }
    assert (pending["type"], pending["resourceId"], pending["jobId"]) == (
        "payment.pending",
        submitted["invoiceId"],
        "job_dashcam",
    )
    assert pending["data"] == {
        "invoiceId": submitted["invoiceId"],
        "milestoneId": "ms_batch1",
        "contractId": "ctr_linus",
    }
    [payment] = await _pending_payments(opentrain_sim)
    assert (payment["id"], payment["status"], payment["viewerRole"]) == (
        submitted["invoiceId"],
        "PENDING_PAYOUT",
        "EMPLOYER",
    )
    assert payment["milestone"] == {"id": "ms_batch1", "name": "Batch 1"}


async def test_a_second_submit_is_a_conflict_and_fires_nothing(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    assert (await _submit(opentrain_sim, "ms_batch1")).status_code == 200
    cursor = _last_event_id(opentrain_sim)
    again = await _submit(opentrain_sim, "ms_batch1")
    assert again.status_code == 409
    assert again.json()["reason"] == "already_submitted"
    assert await _events_after(opentrain_sim, cursor) == []
    assert len(await _pending_payments(opentrain_sim)) == 1


async def test_only_funded_work_of_an_active_contract_can_be_submitted(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    cursor = _last_event_id(opentrain_sim)
    unknown = await _submit(opentrain_sim, "ms_nope")
    assert unknown.status_code == 404
    assert unknown.json()["details"] == {"resource": "milestones", "milestoneId": "ms_nope"}
    refusals = {
        "ms_batch2": "milestone_not_funded",  # NOT_FUNDED
        "ms_pilot": "milestone_not_funded",  # paid already
        "ms_rain": "milestone_cancelled",
        "ms_leftover": "contract_ended",  # Barbara's contract
    }
    for milestone_id, reason in refusals.items():
        refused = await _submit(opentrain_sim, milestone_id)
        assert (refused.status_code, refused.json()["reason"]) == (409, reason), milestone_id
    assert await _events_after(opentrain_sim, cursor) == []
    batch2 = await _milestone(opentrain_sim, "ctr_linus", "ms_batch2")
    assert batch2["pendingApproval"] is False and batch2["invoiceId"] is None


async def test_escrow_without_an_invoice_gets_one(opentrain_sim: OpenTrainSimHandle) -> None:
    state = opentrain_sim.state
    week = state.add_milestone(
        state.contracts["ctr_margaret"],
        name="Week 1",
        description="10 h",
        amount_usd=Decimal(250),
        volume=Decimal(10),
        status=MilestoneStatus.ACTIVE_FUNDED,
    )
    cursor = _last_event_id(opentrain_sim)
    submitted = (await _submit(opentrain_sim, week.id)).json()["milestone"]
    assert submitted["invoiceId"] is not None
    _, pending = await _events_after(opentrain_sim, cursor)
    assert pending["data"]["invoiceId"] == submitted["invoiceId"] == pending["resourceId"]
    assert pending["jobId"] == "job_lidar"
    [payment] = await _pending_payments(opentrain_sim)
    assert payment["id"] == submitted["invoiceId"] and payment["amountUsd"] == 250


async def test_a_confirmed_payout_clears_the_submission(opentrain_sim: OpenTrainSimHandle) -> None:
    await _submit(opentrain_sim, "ms_batch1")
    api = opentrain_sim.api()
    declined = (await api.post("/milestones/ms_batch1/approve")).json()["approval"]
    await opentrain_sim.decline(declined["id"])
    still = await _milestone(opentrain_sim, "ctr_linus", "ms_batch1")
    assert still["pendingApproval"] is True  # a declined payout leaves the work waiting

    approval = (await api.post("/milestones/ms_batch1/approve")).json()["approval"]
    await opentrain_sim.confirm(approval["id"])
    paid = await _milestone(opentrain_sim, "ctr_linus", "ms_batch1")
    assert paid["status"] == "PAID"
    assert (paid["pendingApproval"], paid["needsReview"]) == (False, False)
    assert await _pending_payments(opentrain_sim) == []


async def test_refunded_escrow_no_longer_awaits_approval(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await _submit(opentrain_sim, "ms_batch1")
    approval = (await opentrain_sim.api().post("/contracts/ctr_linus/end")).json()["approval"]
    await opentrain_sim.confirm(approval["id"])
    batch1 = opentrain_sim.state.milestones["ms_batch1"]
    assert batch1.status is MilestoneStatus.REFUNDED
    assert (batch1.pending_approval, batch1.needs_review) == (False, False)
    assert await _pending_payments(opentrain_sim) == []
