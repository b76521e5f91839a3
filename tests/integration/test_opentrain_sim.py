"""The OpenTrain simulator over real HTTP: gates, error shapes, reads, the approval page
and the control API. (Co-sign flows, the feed, webhooks, messages and faults have
their own `test_opentrain_sim_*.py` files.)"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Mapping
from decimal import Decimal

import httpx
import pytest

from bot.sandbox.opentrain.model import Person
from bot.sandbox.opentrain.vocabulary import (
    ALL_SCOPES,
    PRE_CLAIM_SCOPES,
    PaymentType,
    ProposalStatus,
)
from tests.support.opentrain_sim import OpenTrainSimHandle, assert_error

PRECLAIM = "ot_pat_sim_preclaim"
READONLY = "ot_pat_sim_readonly"
HIRE = {"milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 450}}


# --- gates, in order -----------------------------------------------------------------------------


async def test_missing_or_unknown_token_is_401_with_envelope_and_request_id(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    async with httpx.AsyncClient(base_url=opentrain_sim.api_base) as anonymous:
        first = assert_error(await anonymous.get("/auth/me"), 401, "UNAUTHORIZED")
        second = assert_error(
            await anonymous.get("/auth/me", headers={"Authorization": "Bearer ot_pat_sim_nope"}),
            401,
            "UNAUTHORIZED",
        )
        basic = await anonymous.get("/auth/me", headers={"Authorization": "Basic abc"})
    assert first["requestId"] != second["requestId"]
    assert_error(basic, 401, "UNAUTHORIZED")


async def test_each_gate_reports_before_the_next(opentrain_sim: OpenTrainSimHandle) -> None:
    """token → scope → feature → claim → existence → validation → conflict (§16.4)."""
    await opentrain_sim.patch_account(claimed=False, features={"public_api_hiring": False})
    readonly = opentrain_sim.api(READONLY)
    # Minted to reach the claim gate: the account's own tokens hold pre-claim scopes only.
    full = opentrain_sim.api(await opentrain_sim.token(list(ALL_SCOPES)))
    # Fails scope, feature, claim and existence: the scope is reported.
    assert_error(
        await readonly.post("/proposals/prop_missing/hire", content=b"{"),
        403,
        "FORBIDDEN",
        requiredScopes=["proposals:write"],
    )
    # Full token: feature, claim, existence and body all fail → the feature.
    assert_error(
        await full.post("/proposals/prop_missing/hire", content=b"{"),
        403,
        "FORBIDDEN",
        featureKey="public_api_hiring",
    )
    await opentrain_sim.patch_account(features={"public_api_hiring": True})
    claim = assert_error(
        await full.post("/proposals/prop_missing/hire", content=b"{"),
        403,
        "FORBIDDEN",
        reason="account_claim_required",
        claimUrl=f"{opentrain_sim.origin}/claim",
    )
    assert claim["details"]["action"]
    await opentrain_sim.patch_account(claimed=True)
    assert_error(
        await full.post("/proposals/prop_missing/hire", content=b"{"),
        404,
        "NOT_FOUND",
        resource="proposals",
        proposalId="prop_missing",
    )
    # Exists, but the body is bad: validation before the already-hired conflict.
    assert_error(
        await full.post("/proposals/prop_linus/hire", content=b"{"),
        400,
        "BAD_REQUEST",
        field="body",
    )
    assert_error(
        await full.post("/proposals/prop_linus/hire", json=HIRE),
        409,
        "CONFLICT",
        reason="already_accepted",
    )


async def test_claim_gate_covers_every_claimed_write(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.patch_account(claimed=False)
    api = opentrain_sim.api(await opentrain_sim.token(list(ALL_SCOPES)))
    writes = [
        ("/proposals/prop_ada/hire", HIRE),
        ("/contracts/ctr_linus/milestones", {"description": "x", "amountUsd": 10}),
        ("/milestones/ms_batch2/fund", None),
        ("/milestones/ms_batch1/approve", None),
        ("/contracts/ctr_margaret/end", None),
        ("/messages", {"conversationId": "conv_linus", "content": "hi"}),
    ]
    for path, body in writes:
        assert_error(
            await api.post(path, json=body), 403, "FORBIDDEN", reason="account_claim_required"
        )
    # Reads never need the claim.
    assert (await api.get("/contracts")).status_code == 200
    assert (await api.get("/approvals/apr_missing")).status_code == 404


async def test_an_unclaimed_accounts_own_tokens_hold_the_pre_claim_scopes_only(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    """As documented (§2.2): hire and money writes fail on the scope before the claim."""
    await opentrain_sim.patch_account(claimed=False)
    api = opentrain_sim.api()  # the seeded token, minted with every scope
    me = (await api.get("/auth/me")).json()
    assert sorted(me["token"]["scopes"]) == sorted(PRE_CLAIM_SCOPES)
    assert me["actor"]["email"] is None
    assert_error(
        await api.post("/proposals/prop_ada/hire", json=HIRE),
        403,
        "FORBIDDEN",
        requiredScopes=["proposals:write"],
    )
    assert_error(
        await api.post("/milestones/ms_batch2/fund"),
        403,
        "FORBIDDEN",
        requiredScopes=["payments:write"],
    )
    await opentrain_sim.patch_account(claimed=True)
    assert (await api.post("/milestones/ms_batch2/fund")).status_code == 202


@pytest.mark.parametrize(
    ("signal", "email_while_unclaimed", "claimed_field"),
    [("email", False, None), ("field", True, False), ("scopes", True, None)],
)
async def test_auth_me_shows_an_unclaimed_account_as_configured(
    opentrain_sim: OpenTrainSimHandle,
    signal: str,
    email_while_unclaimed: bool,
    claimed_field: bool | None,
) -> None:
    await opentrain_sim.configure(authMeClaimSignal=signal)
    await opentrain_sim.patch_account(claimed=False)
    me = (await opentrain_sim.api().get("/auth/me")).json()
    assert (me["actor"]["email"] is not None) is email_while_unclaimed
    assert me["account"].get("claimed") is claimed_field
    assert sorted(me["token"]["scopes"]) == sorted(PRE_CLAIM_SCOPES)


async def test_write_scope_implies_read_and_feed_needs_a_read_scope(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    writer = await opentrain_sim.token(["payments:write"])
    team_only = await opentrain_sim.token(["team:read"])
    api = opentrain_sim.api(writer)
    assert (await api.get("/contracts")).status_code == 200
    assert_error(
        await api.get("/jobs/job_dashcam/proposals"),
        403,
        "FORBIDDEN",
        requiredScopes=["proposals:read"],
    )
    api = opentrain_sim.api(team_only)
    assert_error(
        await api.get("/updates"),
        403,
        "FORBIDDEN",
        requiredScopes=["proposals:read", "messages:read", "payments:read"],
    )
    assert (await api.get("/auth/me")).status_code == 200  # any valid token


async def test_feature_flags_gate_their_endpoints(opentrain_sim: OpenTrainSimHandle) -> None:
    await opentrain_sim.patch_account(
        features={
            "public_api_job_drafting": False,
            "public_api_credits": False,
            "public_api_payments_write": False,
            "public_api_webhooks": False,
            "public_api_messaging_writes": False,
        }
    )
    api = opentrain_sim.api()
    assert_error(
        await api.get("/job-drafts/capabilities"),
        403,
        "FORBIDDEN",
        featureKey="public_api_job_drafting",
        mode="ALL",
    )
    for path in ("/credits", "/credits/ledger"):
        assert_error(await api.get(path), 403, "FORBIDDEN", featureKey="public_api_credits")
    assert_error(
        await api.post("/milestones/ms_batch2/fund"),
        403,
        "FORBIDDEN",
        featureKey="public_api_payments_write",
    )
    assert_error(await api.get("/webhooks"), 403, "FORBIDDEN", featureKey="public_api_webhooks")
    assert_error(
        await api.post("/messages", json={"conversationId": "conv_linus", "content": "hi"}),
        403,
        "FORBIDDEN",
        featureKey="public_api_messaging_writes",
    )


# --- 404 and 403 ownership shapes ----------------------------------------------------------------


async def test_not_found_shapes_name_the_resource_and_id(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    cases = [
        (await api.get("/approvals/apr_x"), {"resource": "approvals", "approvalId": "apr_x"}),
        (await api.get("/contracts/ctr_x"), {"resource": "contracts", "contractId": "ctr_x"}),
        (await api.post("/contracts/ctr_x/end"), {"resource": "contracts", "contractId": "ctr_x"}),
        (
            await api.post("/milestones/ms_x/fund"),
            {"resource": "milestones", "milestoneId": "ms_x"},
        ),
        (await api.get("/proposals/prop_x"), {"resource": "proposals", "proposalId": "prop_x"}),
        (await api.get("/jobs/job_x/proposals"), {"resource": "jobs", "jobId": "job_x"}),
        (await api.get("/webhooks/wh_x"), {"resource": "webhooks", "webhookId": "wh_x"}),
        (await api.get("/contracts?jobId=job_x"), {"resource": "jobs", "jobId": "job_x"}),
    ]
    for response, details in cases:
        assert_error(response, 404, "NOT_FOUND", **details)
    assert_error(await api.get("/no/such/endpoint"), 404, "NOT_FOUND")


async def test_another_accounts_resources(opentrain_sim: OpenTrainSimHandle) -> None:
    """Jobs and proposals answer 403 (§8.1, §8.2); contracts and milestones 404."""
    state = opentrain_sim.state
    other = state.add_account(
        account_id="acct_other", owner=Person("usr_other", "Otto", "Other", "otto@example.com")
    )
    job = state.add_job(
        other, job_id="job_other", title="Other", payment_type=PaymentType.FIXED_PRICE
    )
    proposal = state.add_proposal(job, Person("usr_x", "Xena", "Warrior"), proposal_id="prop_other")
    contract = state.add_contract(proposal, contract_id="ctr_other", rate_usd=Decimal(100))
    milestone = state.add_milestone(contract, name="M", description="d", amount_usd=Decimal(5))
    api = opentrain_sim.api()
    assert_error(await api.get("/jobs/job_other/proposals"), 403, "FORBIDDEN")
    assert_error(await api.get("/contracts?jobId=job_other"), 403, "FORBIDDEN")
    assert_error(await api.get("/proposals/prop_other"), 403, "FORBIDDEN")
    assert_error(await api.post("/proposals/prop_other/hire", json=HIRE), 403, "FORBIDDEN")
    assert_error(await api.get("/contracts/ctr_other"), 404, "NOT_FOUND")
    assert_error(await api.post(f"/milestones/{milestone.id}/fund"), 404, "NOT_FOUND")
    listed = (await api.get("/contracts")).json()["contracts"]
    assert "ctr_other" not in {c["id"] for c in listed}


# --- validation (400) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b"NaN", "body"),
        (b'{"milestone": 5}', "milestone"),
        (b"{}", "milestone"),
        (b'{"milestone": {"name": "x", "amount": 0}}', "milestone.amount"),
        (b'{"milestone": {"name": "x", "amount": -5}}', "milestone.amount"),
        (b'{"milestone": {"name": "x", "amount": 10.005}}', "milestone.amount"),
        (b'{"milestone": {"name": "x", "amount": "450"}}', "milestone.amount"),
        (b'{"milestone": {"name": "x", "amount": true}}', "milestone.amount"),
        (b'{"milestone": {"name": "x"}}', "milestone.amount"),
        (b'{"milestone": {"name": " ", "description": "", "amount": 5}}', "milestone.name"),
        (b'{"milestone": {"name": 7, "amount": 5}}', "milestone.name"),
        (b'{"milestone": {"name": "x", "amount": 5, "dueDate": "2026-7-1"}}', "milestone.dueDate"),
        (
            b'{"milestone": {"name": "x", "amount": 5, "dueDate": "2026-02-30"}}',
            "milestone.dueDate",
        ),
        (
            b'{"milestone": {"name": "x", "amount": 5}, "confirmNotFitOverride": "yes"}',
            "confirmNotFitOverride",
        ),
    ],
)
async def test_hire_body_validation(
    opentrain_sim: OpenTrainSimHandle, body: bytes, field: str
) -> None:
    api = opentrain_sim.api()
    response = await api.post("/proposals/prop_ada/hire", content=body)
    assert_error(response, 400, "BAD_REQUEST", field=field)


async def test_hire_accepts_cents_and_ignores_unknown_milestone_keys(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    body = {"milestone": {"description": "only a description", "amount": 10.05, "colour": "red"}}
    api = opentrain_sim.api()
    response = await api.post("/proposals/prop_ada/hire", json=body)
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("contract_id", "body", "field"),
    [
        ("ctr_linus", {"name": "x"}, "description"),
        ("ctr_linus", {"description": "x"}, "amountUsd"),
        ("ctr_linus", {"description": "x", "amountUsd": 0}, "amountUsd"),
        ("ctr_linus", {"description": "x", "amountUsd": 1.001}, "amountUsd"),
        ("ctr_linus", {"description": "x", "amountUsd": 5, "dueDate": "July"}, "dueDate"),
        ("ctr_margaret", {"description": "x"}, "volume"),
        ("ctr_margaret", {"description": "x", "volume": -1}, "volume"),
        ("ctr_margaret", {"description": "x", "volume": 4, "amountUsd": 99}, "amountUsd"),
    ],
)
async def test_milestone_create_validation(
    opentrain_sim: OpenTrainSimHandle, contract_id: str, body: dict[str, object], field: str
) -> None:
    api = opentrain_sim.api()
    response = await api.post(f"/contracts/{contract_id}/milestones", json=body)
    assert_error(response, 400, "BAD_REQUEST", field=field)


async def test_query_validation(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    for limit in ("0", "101", "ten"):
        assert_error(
            await api.get(f"/credits/ledger?limit={limit}"), 400, "BAD_REQUEST", field="limit"
        )
    assert_error(await api.get("/credits/ledger?cursor=led_x"), 400, "BAD_REQUEST", field="cursor")
    assert_error(await api.get("/contracts?status=open"), 400, "BAD_REQUEST", field="status")
    assert_error(
        await api.get("/jobs/job_dashcam/proposals?status=great"),
        400,
        "BAD_REQUEST",
        field="status",
    )


# --- reads ---------------------------------------------------------------------------------------


async def test_auth_me_and_capabilities(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api(PRECLAIM)
    me = (await api.get("/auth/me")).json()
    capabilities = (await api.get("/job-drafts/capabilities")).json()
    assert me["actor"]["userType"] == "EMPLOYER"
    assert me["actor"]["email"] == "owner@example.com"
    assert me["token"]["scopes"] == [
        "jobs:read",
        "jobs:write",
        "proposals:read",
        "messages:read",
        "payments:read",
        "team:read",
    ]
    assert me["account"] == {
        "kind": "employer_organization",
        "organizationId": me["token"]["ownerOrganizationId"],
        "ownerUserId": me["actor"]["userId"],
        "memberRole": "OWNER",
    }
    assert capabilities["featureKey"] == "public_api_job_drafting"
    assert capabilities["enabled"] is True
    assert capabilities["capabilities"]["hiring"] is True
    assert capabilities["capabilities"]["paymentsWrite"] is True


async def test_credits_ledger_and_pending_payments(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api(READONLY)
    credits = (await api.get("/credits")).json()["credits"]
    first = (await api.get("/credits/ledger?limit=1")).json()
    second = (await api.get(f"/credits/ledger?limit=1&cursor={first['nextCursor']}")).json()
    pending = (await api.get("/payments/pending")).json()
    assert credits["availableCents"] == 500_000
    assert credits["reservedCents"] == 45_000
    assert credits["currency"] == "usd"
    assert [e["type"] for e in credits["recentEntries"]] == ["HOLD", "TOP_UP"]  # newest first
    assert first["entries"][0]["type"] == "HOLD"
    assert first["entries"][0]["amountCents"] == -45_000
    assert first["entries"][0]["milestoneId"] == "ms_batch1"
    assert second["entries"][0]["type"] == "TOP_UP"
    assert second["nextCursor"] is None
    assert pending == {"payments": []}  # the demo's card charges settled long ago


async def test_proposals_list_filter_and_detail(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api(PRECLAIM)
    listed = (await api.get("/jobs/job_dashcam/proposals")).json()
    not_fit = (await api.get("/jobs/job_dashcam/proposals?status=not-a-fit")).json()
    spaced = (await api.get("/jobs/job_dashcam/proposals", params={"status": "Not a fit"})).json()
    page = (await api.get("/jobs/job_dashcam/proposals?limit=2")).json()
    rest = (await api.get(f"/jobs/job_dashcam/proposals?cursor={page['nextCursor']}")).json()
    detail = (await api.get("/proposals/prop_linus")).json()["proposal"]
    ids = [p["id"] for p in listed["proposals"]]
    assert ids == ["prop_ada", "prop_grace", "prop_alan", "prop_linus"]  # newest first
    assert "aiInterview" not in listed["proposals"][0]  # compact entries
    assert [p["id"] for p in not_fit["proposals"]] == ["prop_alan"]
    assert spaced == not_fit
    assert [p["id"] for p in page["proposals"] + rest["proposals"]] == ids
    assert rest["nextCursor"] is None
    assert detail["status"] == {"raw": "HIRED", "label": "Hired"}
    assert detail["contract"]["id"] == "ctr_linus"
    assert detail["candidate"]["displayName"] == "Linus T."
    assert detail["candidate"]["lastNameInitial"] == "T"
    assert detail["bid"]["amountUsd"] == 900


async def test_an_interview_transcript_or_a_404_naming_the_proposal(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    api = opentrain_sim.api(PRECLAIM)
    transcript = (await api.get("/proposals/prop_ada/interview")).json()["interview"]
    missing = await api.get("/proposals/prop_alan/interview")
    detail = (await api.get("/proposals/prop_ada")).json()["proposal"]
    assert transcript["proposalId"] == "prop_ada" and transcript["score"] == 92
    assert [m["role"] for m in transcript["messages"]][:2] == ["interviewer", "candidate"]
    assert all(m["sentAt"] and m["id"] and m["content"] for m in transcript["messages"])
    assert detail["aiInterview"]["transcriptAvailable"] is True
    assert_error(missing, 404, "NOT_FOUND", resource="proposals", proposalId="prop_alan")


async def test_contracts_list_and_detail(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api(READONLY)
    everything = (await api.get("/contracts")).json()["contracts"]
    active = (await api.get("/contracts?status=active")).json()["contracts"]
    by_job = (await api.get("/contracts?jobId=job_lidar&status=ended")).json()["contracts"]
    linus = (await api.get("/contracts/ctr_linus")).json()["contract"]
    assert [c["id"] for c in everything] == ["ctr_linus", "ctr_margaret", "ctr_barbara"]
    assert {c["id"] for c in active} == {"ctr_linus", "ctr_margaret"}
    assert [c["id"] for c in by_job] == ["ctr_barbara"]
    assert "jobDmConversationId" not in everything[0] and "budget" not in everything[0]
    assert linus["jobDmConversationId"] == "conv_linus"
    assert linus["freelancer"]["displayName"] == "Linus T."
    assert linus["hasActiveMilestone"] is True
    # The cancelled milestone is left out of the timeline.
    assert [(m["id"], m["status"]) for m in linus["milestones"]] == [
        ("ms_pilot", "PAID"),
        ("ms_batch1", "ACTIVE_FUNDED"),
        ("ms_batch2", "NOT_FUNDED"),
    ]
    batch1 = linus["milestones"][1]
    assert batch1["amountUsd"] == 450 and isinstance(batch1["amountUsd"], int)
    assert batch1["invoiceId"]
    assert linus["budget"]["state"] == "OK"
    assert linus["budget"]["fundedAmountUsd"] == 550
    assert linus["budget"]["activeMilestone"]["id"] == "ms_batch1"


async def test_timestamps_are_utc_with_milliseconds(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    contract = (await api.get("/contracts/ctr_barbara")).json()["contract"]
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    for key in ("createdAt", "updatedAt", "startDate", "endDate"):
        assert stamp.fullmatch(contract[key]), (key, contract[key])


async def test_freelancer_last_names_never_leave_the_api(opentrain_sim: OpenTrainSimHandle) -> None:
    paths = [
        "/jobs/job_dashcam/proposals",
        "/jobs/job_lidar/proposals",
        "/proposals/prop_ada",
        "/proposals/prop_linus",
        "/contracts",
        "/contracts/ctr_linus",
        "/contracts/ctr_margaret",
        "/messages",
        "/messages?conversationId=conv_linus",
    ]
    api = opentrain_sim.api()
    bodies = [(await api.get(path)).text for path in paths]
    for surname in ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Liskov"):
        assert not any(surname in body for body in bodies), surname


# --- the approval page ---------------------------------------------------------------------------


async def _hire(opentrain_sim: OpenTrainSimHandle, body: Mapping[str, object]) -> str:
    api = opentrain_sim.api()
    response = await api.post("/proposals/prop_ada/hire", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["approval"]["id"])


async def test_approval_page_shows_the_hire_and_its_cost(opentrain_sim: OpenTrainSimHandle) -> None:
    approval_id = await _hire(
        opentrain_sim, {"milestone": {"name": "<script>alert(1)</script>", "amount": 450}}
    )
    page = await opentrain_sim.control.get(f"/approvals/{approval_id}")
    html = page.text
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'id="status"' in html and 'data-status="pending"' in html
    assert 'id="confirm"' in html and 'id="decline"' in html
    assert "Hire a freelancer" in html and "Ada L." in html and "Dashcam bounding boxes" in html
    for money in ("$450.00", "$45.00", "$9.95", "$504.95"):
        assert money in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert 'id="advance-1h"' in html and 'id="now"' in html
    assert "http://" not in html.replace(opentrain_sim.origin, "")  # no external assets


async def test_confirm_form_applies_the_humans_terms(opentrain_sim: OpenTrainSimHandle) -> None:
    approval_id = await _hire(opentrain_sim, HIRE)
    form = {
        "name": "Adjusted batch",
        "description": "5k boxes",
        "amount": "300",
        "dueDate": "2026-08-01",
        "paymentSource": "credits",
    }
    confirmed = await opentrain_sim.control.post(f"/approvals/{approval_id}/confirm", data=form)
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == f"/approvals/{approval_id}"
    page = (await opentrain_sim.control.get(f"/approvals/{approval_id}")).text
    assert 'data-status="confirmed"' in page and 'id="confirm"' not in page
    api = opentrain_sim.api()
    approval = (await api.get(f"/approvals/{approval_id}")).json()["approval"]
    contract = (await api.get(f"/contracts/{approval['result']['contractId']}")).json()
    milestone = contract["contract"]["milestones"][0]
    assert (milestone["name"], milestone["amountUsd"]) == ("Adjusted batch", 300)
    assert milestone["dueDate"] == "2026-08-01T00:00:00.000Z"
    again = await opentrain_sim.control.post(f"/approvals/{approval_id}/confirm", data=form)
    assert again.status_code == 409
    assert 'id="error"' in again.text and "confirmed" in again.text


async def test_decline_form_and_bad_amount_message(opentrain_sim: OpenTrainSimHandle) -> None:
    approval_id = await _hire(opentrain_sim, HIRE)
    bad = await opentrain_sim.control.post(
        f"/approvals/{approval_id}/confirm", data={"amount": "lots"}
    )
    assert bad.status_code == 400 and 'id="error"' in bad.text
    declined = await opentrain_sim.control.post(f"/approvals/{approval_id}/decline")
    assert declined.status_code == 303
    assert opentrain_sim.state.approvals[approval_id].status == "declined"
    assert opentrain_sim.state.proposals["prop_ada"].status is ProposalStatus.UNREVIEWED


async def test_clock_buttons_and_placeholder_pages(opentrain_sim: OpenTrainSimHandle) -> None:
    moved = await opentrain_sim.control.post(
        "/_sim/clock/advance", data={"seconds": "3600", "next": "/claim"}
    )
    assert moved.status_code == 303 and moved.headers["Location"] == "/claim"
    assert opentrain_sim.state.clock.offset_seconds == 3600
    escape = await opentrain_sim.control.post(
        "/_sim/clock/advance", data={"seconds": "60", "next": "//evil.example"}
    )
    assert escape.headers["Location"] == "/"
    for path in ("/claim", "/settings/billing", "/"):
        page = await opentrain_sim.control.get(path)
        assert page.status_code == 200 and "<h1>" in page.text
    missing = await opentrain_sim.control.get("/approvals/apr_missing")
    assert missing.status_code == 404


# --- control API ---------------------------------------------------------------------------------


async def test_state_snapshot_lists_everything(opentrain_sim: OpenTrainSimHandle) -> None:
    snapshot = (await opentrain_sim.control.get("/_sim/state")).json()
    assert snapshot["seeded"]["fullToken"] == "ot_pat_sim_full"
    assert {t["token"] for t in snapshot["tokens"]} == {
        "ot_pat_sim_full",
        "ot_pat_sim_preclaim",
        "ot_pat_sim_readonly",
    }
    assert snapshot["offsetSeconds"] == 0
    assert {c["id"] for c in snapshot["contracts"]} == {"ctr_linus", "ctr_margaret", "ctr_barbara"}
    assert "ms_rain" in {m["id"] for m in snapshot["milestones"]}
    assert snapshot["accounts"][0]["availableCents"] == 500_000
    for key in ("jobs", "proposals", "approvals", "events", "webhooks", "conversations", "ledger"):
        assert isinstance(snapshot[key], list)


async def test_clock_endpoint_and_advance(opentrain_sim: OpenTrainSimHandle) -> None:
    before = (await opentrain_sim.control.get("/_sim/clock")).json()
    after = await opentrain_sim.advance(7200)
    assert before["offsetSeconds"] == 0
    assert after["offsetSeconds"] == 7200
    assert after["now"] > before["now"]
    for bad in ({"seconds": 0}, {"seconds": -5}, {"seconds": "soon"}, {"seconds": 1e30}, {}):
        response = await opentrain_sim.control.post("/_sim/clock/advance", json=bad)
        assert response.status_code == 400
        assert response.json()["ok"] is False
    for text in ("abc", "Infinity", "NaN", "-1", "1e30"):
        form = await opentrain_sim.control.post("/_sim/clock/advance", data={"seconds": text})
        assert form.status_code == 400, text
    assert opentrain_sim.state.clock.offset_seconds == 7200


async def test_request_log_records_api_calls(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    await api.get("/contracts", params={"status": "active"})
    await api.post("/proposals/prop_ada/hire", json=HIRE)
    await opentrain_sim.control.get("/_sim/state")  # control calls are not API calls
    log = await opentrain_sim.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/contracts", 200),
        ("POST", "/proposals/prop_ada/hire", 202),
    ]
    assert log[0]["query"] == {"status": "active"}
    assert log[1]["body"] and '"Batch 1"' in log[1]["body"]
    assert re.fullmatch(r".+T.+\.\d{3}Z", log[0]["time"])
    assert [r["index"] for r in await opentrain_sim.requests(since=1)] == [1]


async def test_seed_resets_everything(opentrain_sim: OpenTrainSimHandle) -> None:
    approval_id = await _hire(opentrain_sim, HIRE)
    await opentrain_sim.advance(3600)
    await opentrain_sim.fault(path="/credits", status=500)
    reset = await opentrain_sim.control.post("/_sim/seed", json={"scenario": "demo"})
    assert reset.status_code == 200
    assert approval_id not in opentrain_sim.state.approvals
    assert opentrain_sim.state.clock.offset_seconds == 0
    assert await opentrain_sim.requests() == []
    api = opentrain_sim.api()
    assert (await api.get("/credits")).status_code == 200  # faults cleared too
    empty = await opentrain_sim.control.post("/_sim/seed", json={"scenario": "empty"})
    assert empty.json()["seeded"] == {"accountId": "acct_demo", "fullToken": "ot_pat_sim_full"}
    api = opentrain_sim.api()
    assert (await api.get("/contracts")).json() == {"contracts": []}
    api = opentrain_sim.api(READONLY)
    assert (await api.get("/contracts")).status_code == 401
    unknown = await opentrain_sim.control.post("/_sim/seed", json={"scenario": "huge"})
    assert unknown.status_code == 400


async def test_control_tokens_account_and_proposals(opentrain_sim: OpenTrainSimHandle) -> None:
    token = await opentrain_sim.token(["proposals:read"], label="narrow")
    assert token.startswith("ot_pat_sim_")
    added = await opentrain_sim.control.post(
        "/_sim/proposals",
        json={"firstName": "Katherine", "lastName": "Johnson", "bidAmountUsd": 380},
    )
    proposal = added.json()["proposal"]
    api = opentrain_sim.api(token)
    me = (await api.get("/auth/me")).json()
    listed = (await api.get("/jobs/job_dashcam/proposals")).json()["proposals"]
    assert (await api.get("/contracts")).status_code == 403
    assert me["token"]["label"] == "narrow" and me["token"]["scopes"] == ["proposals:read"]
    assert listed[0]["id"] == proposal["id"]
    assert proposal["candidate"]["displayName"] == "Katherine J."
    account = await opentrain_sim.patch_account(paymentMethodOnFile=True, availableCents=1234)
    assert account["paymentMethodOnFile"] is True and account["availableCents"] == 1234
    bad = await opentrain_sim.control.patch("/_sim/account", json={"features": {"nope": True}})
    assert bad.status_code == 400
    bad_scope = await opentrain_sim.control.post("/_sim/tokens", json={"scopes": ["root"]})
    assert bad_scope.status_code == 400


async def test_command_line_serves_and_stops_on_ctrl_c() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.sandbox.opentrain",
        "--port",
        "0",
        "--seed",
        "demo",
        "--superseded-status",
        "cancelled",
        "--no-event-on-lazy-expiry",
        "--rate-limit-per-minute",
        "600",
        "--webhook-reorder",
        "--auth-me-claim-signal",
        "field",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = await asyncio.wait_for(process.stdout.readline(), timeout=15)
            assert line, "the simulator exited early"
            lines.append(line.decode().strip())
        text = "\n".join(lines)
        origin = re.search(r"OpenTrain simulator\s+(\S+)", text)
        assert origin is not None
        assert f"{origin[1]}/api/public/v1" in text
        assert "ot_pat_sim_full" in text and "curl" in text
        async with httpx.AsyncClient() as http:
            me = await http.get(
                f"{origin[1]}/api/public/v1/auth/me",
                headers={"Authorization": "Bearer ot_pat_sim_full"},
            )
            config = (await http.get(f"{origin[1]}/_sim/config")).json()["config"]
        assert me.status_code == 200 and me.json()["account"]["claimed"] is True
        assert config == {
            "supersededStatus": "cancelled",
            "emitEventOnLazyExpiry": False,
            "rateLimitPerMinute": 600,
            "rateLimitWindowSeconds": 60.0,
            "webhookDuplicates": False,
            "webhookReorder": True,
            "authMeClaimSignal": "field",
        }
    finally:
        process.send_signal(2)  # SIGINT, as Ctrl-C sends
        code = await asyncio.wait_for(process.wait(), timeout=15)
    assert code == 0
