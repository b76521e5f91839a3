"""Co-signed actions against the OpenTrain simulator: hire, fund, payout, end — their
202s, idempotency, supersede, every 409 reason, confirm effects, declines, expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.sandbox.opentrain import OpenTrainSim
from bot.sandbox.opentrain.config import SimConfig
from tests.support.opentrain_sim import OpenTrainSimHandle, SimControlError, assert_error

HIRE = {"milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450}}
HIRE_TOTAL_CENTS = 45_000 + 4_500 + 995  # amount + 10 % + $9.95


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def _post(sim: OpenTrainSimHandle, path: str, body: Any = None) -> httpx.Response:
    return await sim.api().post(path, json=body)


async def _get(sim: OpenTrainSimHandle, path: str) -> dict[str, Any]:
    response = await sim.api().get(path)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _events(sim: OpenTrainSimHandle) -> list[dict[str, Any]]:
    return list((await _get(sim, "/updates?limit=200"))["events"])


async def _requested(sim: OpenTrainSimHandle, path: str, body: Any = None) -> dict[str, Any]:
    response = await _post(sim, path, body)
    assert response.status_code == 202, response.text
    payload = response.json()
    assert set(payload) == {"approval", "message"} and payload["message"]
    return dict(payload["approval"])


# --- hire ----------------------------------------------------------------------------------------


async def test_hire_returns_a_pending_approval(opentrain_sim: OpenTrainSimHandle) -> None:
    approval = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    assert approval["id"].startswith("apr_")
    assert approval["type"] == "proposal_hire"
    assert approval["status"] == "pending"
    assert (approval["contractId"], approval["milestoneId"]) == (None, None)
    assert (approval["jobId"], approval["proposalId"]) == ("job_dashcam", "prop_ada")
    assert approval["approvalUrl"] == f"{opentrain_sim.origin}/approvals/{approval['id']}"
    assert _parse(approval["expiresAt"]) - _parse(approval["createdAt"]) == timedelta(hours=72)
    assert (approval["resolvedAt"], approval["result"]) == (None, None)
    assert await _get(opentrain_sim, f"/approvals/{approval['id']}") == {"approval": approval}


async def test_hire_with_identical_terms_returns_the_same_approval(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    first = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    same_amount = {"milestone": {**HIRE["milestone"], "amount": 450.00}}
    second = await _requested(opentrain_sim, "/proposals/prop_ada/hire", same_amount)
    assert second == first
    assert await _events(opentrain_sim) == []


@pytest.mark.parametrize(
    "change",
    [
        {"milestone": {**HIRE["milestone"], "amount": 451}},
        {"milestone": {**HIRE["milestone"], "name": "Batch one"}},
        {"milestone": {**HIRE["milestone"], "description": "10k boxes!"}},
        {"milestone": {**HIRE["milestone"], "dueDate": "2026-07-15"}},
        {**HIRE, "confirmNotFitOverride": True},
    ],
)
async def test_hire_with_different_terms_supersedes(
    opentrain_sim: OpenTrainSimHandle, change: dict[str, Any]
) -> None:
    old = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    new = await _requested(opentrain_sim, "/proposals/prop_ada/hire", change)
    assert new["id"] != old["id"] and new["status"] == "pending"
    reread = (await _get(opentrain_sim, f"/approvals/{old['id']}"))["approval"]
    assert reread["status"] == "declined" and reread["resolvedAt"] is not None
    [event] = await _events(opentrain_sim)
    assert event["type"] == "approval.confirmed"
    assert event["data"] == {"approvalId": old["id"], "status": "declined"}
    with pytest.raises(SimControlError):
        await opentrain_sim.confirm(old["id"])


@pytest.mark.parametrize("status", ["superseded", "cancelled", "withdrawn_by_update"])
async def test_superseded_status_is_configurable(
    opentrain_sim: OpenTrainSimHandle, status: str
) -> None:
    await opentrain_sim.configure(supersededStatus=status)
    old = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    changed = {"milestone": {**HIRE["milestone"], "amount": 300}}
    await _requested(opentrain_sim, "/proposals/prop_ada/hire", changed)
    reread = (await _get(opentrain_sim, f"/approvals/{old['id']}"))["approval"]
    assert reread["status"] == status and reread["resolvedAt"] is not None
    [event] = await _events(opentrain_sim)
    assert event["data"] == {"approvalId": old["id"], "status": status}


async def test_the_configuration_is_started_with_and_reseeding_restores_it() -> None:
    sim = OpenTrainSim(config=SimConfig(superseded_status="superseded"))
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.origin) as control:
            patched = await control.patch("/_sim/config", json={"supersededStatus": "cancelled"})
            assert patched.json()["config"]["supersededStatus"] == "cancelled"
            bad = await control.patch("/_sim/config", json={"rateLimitPerMinute": 0})
            unknown = await control.patch("/_sim/config", json={"supersededStatuz": "x"})
            await control.post("/_sim/seed", json={"scenario": "demo"})
            after = (await control.get("/_sim/config")).json()["config"]
    finally:
        await sim.stop()
    assert bad.status_code == 400 and unknown.status_code == 400
    assert after == SimConfig(superseded_status="superseded").public()


async def test_hire_conflicts(opentrain_sim: OpenTrainSimHandle) -> None:
    assert_error(
        await _post(opentrain_sim, "/proposals/prop_linus/hire", HIRE),
        409,
        "CONFLICT",
        reason="already_accepted",
    )
    assert_error(
        await _post(opentrain_sim, "/proposals/prop_alan/hire", HIRE),
        409,
        "CONFLICT",
        reason="not_fit_confirmation_required",
    )
    override = {**HIRE, "confirmNotFitOverride": True}
    assert (await _post(opentrain_sim, "/proposals/prop_alan/hire", override)).status_code == 202


async def test_hire_needs_a_card_or_credits_covering_amount_and_fees(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.patch_account(availableCents=HIRE_TOTAL_CENTS - 1)
    assert_error(
        await _post(opentrain_sim, "/proposals/prop_ada/hire", HIRE),
        409,
        "CONFLICT",
        reason="payment_method_required",
        billingUrl=f"{opentrain_sim.origin}/settings/billing",
    )
    await opentrain_sim.patch_account(availableCents=HIRE_TOTAL_CENTS)
    assert (await _post(opentrain_sim, "/proposals/prop_ada/hire", HIRE)).status_code == 202
    await opentrain_sim.patch_account(availableCents=0, paymentMethodOnFile=True)
    assert (await _post(opentrain_sim, "/proposals/prop_grace/hire", HIRE)).status_code == 202


async def test_confirmed_hire_with_credits(opentrain_sim: OpenTrainSimHandle) -> None:
    body = {"milestone": {**HIRE["milestone"], "dueDate": "2026-07-15"}}
    pending = await _requested(opentrain_sim, "/proposals/prop_ada/hire", body)
    confirmed = await opentrain_sim.confirm(pending["id"])

    result = confirmed["result"]
    assert confirmed["status"] == "confirmed" and confirmed["resolvedAt"]
    assert set(result) == {"hired", "contractId", "jobId", "freelancerUserId"}
    assert result["hired"] is True and result["jobId"] == "job_dashcam"
    proposal = (await _get(opentrain_sim, "/proposals/prop_ada"))["proposal"]
    assert proposal["status"]["raw"] == "HIRED"
    assert result["freelancerUserId"] == proposal["candidate"]["id"]
    contract = (await _get(opentrain_sim, f"/contracts/{result['contractId']}"))["contract"]
    assert contract["status"] == "active" and contract["proposalId"] == "prop_ada"
    assert contract["freelancer"]["displayName"] == "Ada L."
    [milestone] = contract["milestones"]
    assert milestone["status"] == "ACTIVE_FUNDED" and milestone["invoiceId"]
    assert (milestone["name"], milestone["amountUsd"], milestone["milestoneNumber"]) == (
        "Batch 1",
        450,
        1,
    )
    assert milestone["dueDate"] == "2026-07-15T00:00:00.000Z"
    thread = await _get(
        opentrain_sim, f"/messages?conversationId={contract['jobDmConversationId']}"
    )
    assert thread["messages"] == []

    credits = (await _get(opentrain_sim, "/credits"))["credits"]
    assert credits["availableCents"] == 500_000 - HIRE_TOTAL_CENTS
    assert credits["reservedCents"] == 45_000 + HIRE_TOTAL_CENTS
    hold = credits["recentEntries"][0]
    assert (hold["type"], hold["amountCents"], hold["jobofferId"]) == (
        "HOLD",
        -HIRE_TOTAL_CENTS,
        "prop_ada",
    )
    assert hold["contractId"] == contract["id"] and hold["milestoneId"] == milestone["id"]

    events = await _events(opentrain_sim)
    assert [e["type"] for e in events] == [
        "proposal.status_changed",
        "contract.created",
        "milestone.status_changed",
        "approval.confirmed",
    ]
    assert events[0]["data"] == {"proposalId": "prop_ada", "status": "HIRED"}
    assert events[1]["data"] == {
        "contractId": contract["id"],
        "jobId": "job_dashcam",
        "proposalId": "prop_ada",
    }
    assert events[2]["data"]["status"] == "ACTIVE_FUNDED"
    assert events[3]["data"] == {"approvalId": pending["id"], "status": "confirmed"}
    listed = (await _get(opentrain_sim, "/contracts?jobId=job_dashcam"))["contracts"]
    assert listed[0]["id"] == contract["id"]


async def test_confirmed_hire_by_card_leaves_a_pending_invoice(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.patch_account(paymentMethodOnFile=True)
    pending = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    await opentrain_sim.confirm(pending["id"], payment_source="card")
    types = [e["type"] for e in await _events(opentrain_sim)]
    assert types[-2:] == ["payment.pending", "approval.confirmed"]
    [payment] = (await _get(opentrain_sim, "/payments/pending"))["payments"]
    assert payment["status"] == "PENDING_FUNDING" and payment["viewerRole"] == "EMPLOYER"
    assert payment["amountUsd"] == 504.95
    assert payment["job"] == {"id": "job_dashcam", "title": "Dashcam bounding boxes"}
    assert (await _get(opentrain_sim, "/credits"))["credits"]["availableCents"] == 500_000
    await opentrain_sim.advance(600)
    assert (await _get(opentrain_sim, "/payments/pending"))["payments"] == []


async def test_the_humans_adjusted_terms_win(opentrain_sim: OpenTrainSimHandle) -> None:
    pending = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    edits = {"name": "Smaller batch", "amount": 300, "dueDate": "2026-08-01"}
    confirmed = await opentrain_sim.confirm(pending["id"], milestone=edits)
    contract = (await _get(opentrain_sim, f"/contracts/{confirmed['result']['contractId']}"))[
        "contract"
    ]
    [milestone] = contract["milestones"]
    assert (milestone["name"], milestone["description"], milestone["amountUsd"]) == (
        "Smaller batch",
        "10k boxes",
        300,
    )
    assert milestone["dueDate"] == "2026-08-01T00:00:00.000Z"
    credits = (await _get(opentrain_sim, "/credits"))["credits"]
    assert credits["availableCents"] == 500_000 - (30_000 + 3_000 + 995)


async def test_a_failed_confirm_changes_nothing(opentrain_sim: OpenTrainSimHandle) -> None:
    pending = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    bad_amount = await opentrain_sim.control.post(
        f"/_sim/approvals/{pending['id']}/confirm", json={"milestone": {"amount": 0}}
    )
    assert bad_amount.status_code == 400
    assert bad_amount.json()["details"] == {"field": "milestone.amount"}
    no_card = await opentrain_sim.control.post(
        f"/_sim/approvals/{pending['id']}/confirm", json={"paymentSource": "card"}
    )
    assert no_card.status_code == 409
    assert no_card.json()["reason"] == "payment_method_required"
    bad_source = await opentrain_sim.control.post(
        f"/_sim/approvals/{pending['id']}/confirm", json={"paymentSource": "cash"}
    )
    assert bad_source.status_code == 400
    assert (await _get(opentrain_sim, f"/approvals/{pending['id']}"))["approval"]["status"] == (
        "pending"
    )
    assert opentrain_sim.state.proposals["prop_ada"].contract_id is None
    assert await _events(opentrain_sim) == []


async def test_decline_executes_nothing(opentrain_sim: OpenTrainSimHandle) -> None:
    pending = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    declined = await opentrain_sim.decline(pending["id"])
    assert declined["status"] == "declined" and declined["resolvedAt"]
    assert declined["result"] is None
    proposal = (await _get(opentrain_sim, "/proposals/prop_ada"))["proposal"]
    assert proposal["status"]["raw"] == "UNREVIEWED"
    [event] = await _events(opentrain_sim)
    assert event["data"] == {"approvalId": pending["id"], "status": "declined"}
    again = await opentrain_sim.control.post(f"/_sim/approvals/{pending['id']}/decline")
    assert again.status_code == 409
    assert again.json()["reason"] == "approval_not_pending"
    missing = await opentrain_sim.control.post("/_sim/approvals/apr_missing/confirm")
    assert missing.status_code == 404


# --- fund ----------------------------------------------------------------------------------------


async def test_fund_is_idempotent_and_confirm_escrows_without_a_fee(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    approval = await _requested(opentrain_sim, "/milestones/ms_batch2/fund")
    assert approval["type"] == "milestone_fund"
    assert (approval["contractId"], approval["milestoneId"]) == ("ctr_linus", "ms_batch2")
    assert approval["proposalId"] is None
    assert (await _requested(opentrain_sim, "/milestones/ms_batch2/fund"))["id"] == approval["id"]

    confirmed = await opentrain_sim.confirm(approval["id"])
    assert set(confirmed["result"]) == {"invoiceId", "paymentIntentId"}
    assert confirmed["result"]["paymentIntentId"] is None  # credits: no card payment intent
    contract = (await _get(opentrain_sim, "/contracts/ctr_linus"))["contract"]
    batch2 = next(m for m in contract["milestones"] if m["id"] == "ms_batch2")
    assert batch2["status"] == "ACTIVE_FUNDED"
    assert batch2["invoiceId"] == confirmed["result"]["invoiceId"]
    credits = (await _get(opentrain_sim, "/credits"))["credits"]
    assert credits["availableCents"] == 500_000 - 25_000
    events = await _events(opentrain_sim)
    assert [e["type"] for e in events] == ["milestone.status_changed", "approval.confirmed"]
    assert events[0]["data"] == {
        "milestoneId": "ms_batch2",
        "contractId": "ctr_linus",
        "status": "ACTIVE_FUNDED",
    }
    assert_error(
        await _post(opentrain_sim, "/milestones/ms_batch2/fund"),
        409,
        "CONFLICT",
        reason="milestone_not_fundable",
    )


async def test_fund_by_card_has_a_payment_intent(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.patch_account(paymentMethodOnFile=True, availableCents=0)
    approval = await _requested(opentrain_sim, "/milestones/ms_batch2/fund")
    confirmed = await opentrain_sim.confirm(approval["id"])
    assert confirmed["result"]["paymentIntentId"].startswith("pi_")
    [payment] = (await _get(opentrain_sim, "/payments/pending"))["payments"]
    assert payment["id"] == confirmed["result"]["invoiceId"]
    assert payment["milestone"] == {"id": "ms_batch2", "name": "Batch 2"}


@pytest.mark.parametrize(
    ("milestone_id", "reason"),
    [
        ("ms_batch1", "milestone_not_fundable"),
        ("ms_pilot", "milestone_not_fundable"),
        ("ms_rain", "milestone_cancelled"),
        ("ms_leftover", "contract_ended"),
    ],
)
async def test_fund_conflicts(
    opentrain_sim: OpenTrainSimHandle, milestone_id: str, reason: str
) -> None:
    response = await _post(opentrain_sim, f"/milestones/{milestone_id}/fund")
    assert_error(response, 409, "CONFLICT", reason=reason)


async def test_fund_needs_a_card_or_credits_covering_the_amount(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.patch_account(availableCents=24_999)
    assert_error(
        await _post(opentrain_sim, "/milestones/ms_batch2/fund"),
        409,
        "CONFLICT",
        reason="payment_method_required",
        billingUrl=f"{opentrain_sim.origin}/settings/billing",
    )
    await opentrain_sim.patch_account(availableCents=25_000)
    assert (await _post(opentrain_sim, "/milestones/ms_batch2/fund")).status_code == 202


# --- payout --------------------------------------------------------------------------------------


async def test_payout_captures_the_credit_hold(opentrain_sim: OpenTrainSimHandle) -> None:
    approval = await _requested(opentrain_sim, "/milestones/ms_batch1/approve")
    assert approval["type"] == "milestone_approve" and approval["milestoneId"] == "ms_batch1"
    assert (await _requested(opentrain_sim, "/milestones/ms_batch1/approve"))["id"] == approval[
        "id"
    ]
    invoice_id = opentrain_sim.state.milestones["ms_batch1"].invoice_id

    confirmed = await opentrain_sim.confirm(approval["id"])
    assert confirmed["result"]["invoiceId"] == invoice_id
    assert confirmed["result"]["payoutTransactionId"].startswith("po_")
    contract = (await _get(opentrain_sim, "/contracts/ctr_linus"))["contract"]
    assert next(m for m in contract["milestones"] if m["id"] == "ms_batch1")["status"] == "PAID"
    assert contract["hasActiveMilestone"] is False
    credits = (await _get(opentrain_sim, "/credits"))["credits"]
    assert (credits["availableCents"], credits["reservedCents"]) == (500_000, 0)
    capture, hold = credits["recentEntries"][:2]
    assert (capture["type"], capture["amountCents"]) == ("CAPTURE", -45_000)
    assert capture["holdEntryId"] == hold["id"]
    assert [e["data"].get("status") for e in await _events(opentrain_sim)] == ["PAID", "confirmed"]


@pytest.mark.parametrize(
    ("milestone_id", "reason"),
    [
        ("ms_batch2", "milestone_not_funded"),
        ("ms_pilot", "milestone_not_funded"),
        ("ms_rain", "milestone_cancelled"),
        ("ms_archive", "contract_ended"),
    ],
)
async def test_payout_conflicts(
    opentrain_sim: OpenTrainSimHandle, milestone_id: str, reason: str
) -> None:
    response = await _post(opentrain_sim, f"/milestones/{milestone_id}/approve")
    assert_error(response, 409, "CONFLICT", reason=reason)


async def test_confirm_rechecks_conflicts(opentrain_sim: OpenTrainSimHandle) -> None:
    """A payout requested before the contract ended cannot execute after it."""
    payout = await _requested(opentrain_sim, "/milestones/ms_batch1/approve")
    end = await _requested(opentrain_sim, "/contracts/ctr_linus/end")
    await opentrain_sim.confirm(end["id"])
    late = await opentrain_sim.control.post(f"/_sim/approvals/{payout['id']}/confirm")
    assert late.status_code == 409 and late.json()["reason"] == "contract_ended"


# --- ending a contract ---------------------------------------------------------------------------


async def test_end_without_escrow_is_direct(opentrain_sim: OpenTrainSimHandle) -> None:
    response = await _post(opentrain_sim, "/contracts/ctr_margaret/end")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "contractId": "ctr_margaret", "status": "ended"}
    contract = (await _get(opentrain_sim, "/contracts/ctr_margaret"))["contract"]
    assert contract["status"] == "ended" and contract["endDate"]
    for contract_id in ("ctr_margaret", "ctr_barbara"):
        assert_error(
            await _post(opentrain_sim, f"/contracts/{contract_id}/end"),
            409,
            "CONFLICT",
            reason="contract_ended",
        )


async def test_end_with_escrow_is_cosigned_and_refunds(opentrain_sim: OpenTrainSimHandle) -> None:
    approval = await _requested(opentrain_sim, "/contracts/ctr_linus/end")
    assert approval["type"] == "contract_end"
    assert (approval["contractId"], approval["milestoneId"], approval["proposalId"]) == (
        "ctr_linus",
        None,
        None,
    )
    assert (await _requested(opentrain_sim, "/contracts/ctr_linus/end"))["id"] == approval["id"]
    assert (await _get(opentrain_sim, "/contracts/ctr_linus"))["contract"]["status"] == "active"

    confirmed = await opentrain_sim.confirm(approval["id"])
    assert confirmed["result"] == {"contractEnded": True}
    contract = (await _get(opentrain_sim, "/contracts/ctr_linus"))["contract"]
    assert contract["status"] == "ended" and contract["endDate"]
    assert "ms_batch1" not in {m["id"] for m in contract["milestones"]}  # refunded
    credits = (await _get(opentrain_sim, "/credits"))["credits"]
    assert (credits["availableCents"], credits["reservedCents"]) == (545_000, 0)
    assert credits["recentEntries"][0]["type"] == "HOLD_RELEASE"
    assert credits["recentEntries"][0]["amountCents"] == 45_000


# --- milestones ----------------------------------------------------------------------------------


async def test_create_milestone(opentrain_sim: OpenTrainSimHandle) -> None:
    fixed = await _post(
        opentrain_sim,
        "/contracts/ctr_linus/milestones",
        {"name": "Batch 3", "description": "Fog", "amountUsd": 120.5, "dueDate": "2026-07-15"},
    )
    hourly = await _post(
        opentrain_sim, "/contracts/ctr_margaret/milestones", {"description": "C", "volume": 4}
    )
    assert fixed.status_code == 201 and hourly.status_code == 201
    created = fixed.json()["milestone"]
    assert created["status"] == "NOT_FUNDED" and created["invoiceId"] is None
    assert created["milestoneNumber"] == 5  # after the four seeded ones, cancelled included
    assert created["amountUsd"] == 120.5
    assert created["dueDate"] == "2026-07-15T00:00:00.000Z"
    assert hourly.json()["milestone"]["amountUsd"] == 100  # 4 h × $25
    [event, _] = await _events(opentrain_sim)
    assert event["data"] == {
        "milestoneId": created["id"],
        "contractId": "ctr_linus",
        "status": "NOT_FUNDED",
    }


async def test_create_milestone_conflicts(opentrain_sim: OpenTrainSimHandle) -> None:
    assert_error(
        await _post(
            opentrain_sim, "/contracts/ctr_barbara/milestones", {"description": "x", "volume": 1}
        ),
        409,
        "CONFLICT",
        reason="contract_ended",
    )
    state = opentrain_sim.state
    proposal = state.add_proposal(
        state.jobs["job_lidar"], state.proposals["prop_ada"].freelancer, bid_amount_usd=Decimal(1)
    )
    rateless = state.add_contract(proposal, rate_usd=None)
    assert_error(
        await _post(
            opentrain_sim, f"/contracts/{rateless.id}/milestones", {"description": "x", "volume": 2}
        ),
        409,
        "CONFLICT",
        reason="contract_rate_missing",
    )


# --- expiry --------------------------------------------------------------------------------------


async def test_a_stale_approval_expires_when_read(opentrain_sim: OpenTrainSimHandle) -> None:
    approval = await _requested(opentrain_sim, "/milestones/ms_batch2/fund")
    await opentrain_sim.advance(72 * 3600 - 60)
    assert (await _get(opentrain_sim, f"/approvals/{approval['id']}"))["approval"]["status"] == (
        "pending"
    )
    await opentrain_sim.advance(61)
    assert await _events(opentrain_sim) == []  # lazy: nothing happens until a read
    expired = (await _get(opentrain_sim, f"/approvals/{approval['id']}"))["approval"]
    assert expired["status"] == "expired" and expired["resolvedAt"] is not None
    [event] = await _events(opentrain_sim)
    assert event["data"] == {"approvalId": approval["id"], "status": "expired"}
    late = await opentrain_sim.control.post(f"/_sim/approvals/{approval['id']}/confirm")
    assert late.status_code == 409 and late.json()["details"]["status"] == "expired"
    fresh = await _requested(opentrain_sim, "/milestones/ms_batch2/fund")
    assert fresh["id"] != approval["id"]


async def test_re_requesting_or_opening_the_page_also_expires(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    hire = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    payout = await _requested(opentrain_sim, "/milestones/ms_batch1/approve")
    await opentrain_sim.advance(73 * 3600)
    again = await _requested(opentrain_sim, "/proposals/prop_ada/hire", HIRE)
    assert again["id"] != hire["id"]
    page = await opentrain_sim.control.get(f"/approvals/{payout['id']}")
    assert 'data-status="expired"' in page.text and 'id="confirm"' not in page.text
    statuses = [e["data"] for e in await _events(opentrain_sim)]
    assert statuses == [
        {"approvalId": hire["id"], "status": "expired"},
        {"approvalId": payout["id"], "status": "expired"},
    ]


async def test_lazy_expiry_event_can_be_switched_off(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.configure(emitEventOnLazyExpiry=False)
    approval = await _requested(opentrain_sim, "/milestones/ms_batch2/fund")
    await opentrain_sim.advance(73 * 3600)
    reread = (await _get(opentrain_sim, f"/approvals/{approval['id']}"))["approval"]
    assert reread["status"] == "expired"
    assert await _events(opentrain_sim) == []


async def test_approvals_are_visible_to_the_account_only(opentrain_sim: OpenTrainSimHandle) -> None:
    approval = await _requested(opentrain_sim, "/milestones/ms_batch2/fund")
    api = opentrain_sim.api("ot_pat_sim_readonly")
    assert (await api.get(f"/approvals/{approval['id']}")).status_code == 200
    state = opentrain_sim.state
    other = state.add_account(account_id="acct_other", owner=state.account().owner)
    state.add_token(other, secret="ot_pat_sim_other", label="other", scopes=("payments:read",))
    api = opentrain_sim.api("ot_pat_sim_other")
    assert_error(
        await api.get(f"/approvals/{approval['id']}"),
        404,
        "NOT_FOUND",
        resource="approvals",
        approvalId=approval["id"],
    )
