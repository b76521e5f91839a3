"""`GET /jobs/mine` on the OpenTrain simulator over real HTTP, raw and through `OpenTrainClient`:
every job the account owns (drafts included) with proposal counts, newest first."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from bot.opentrain import Forbidden, OpenTrainClient
from bot.sandbox.opentrain.model import Person
from bot.sandbox.opentrain.vocabulary import PaymentType
from tests.support.opentrain_sim import OpenTrainSimHandle, assert_error

PRECLAIM = "ot_pat_sim_preclaim"
READONLY = "ot_pat_sim_readonly"
STATUSES = ["DRAFT", "OPEN", "ONGOING", "COMPLETED", "ARCHIVED", "PENDING_APPROVAL"]


async def test_every_job_newest_first_with_proposal_counts(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    response = await opentrain_sim.api().get("/jobs/mine")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nextCursor"] is None
    assert [j["id"] for j in body["jobs"]] == ["job_audio_draft", "job_dashcam", "job_lidar"]
    draft, dashcam, lidar = body["jobs"]
    assert draft["status"] == "DRAFT" and draft["proposalCounts"] == {"total": 0, "unreviewed": 0}
    assert (draft["published"], draft["acceptingApplicants"]) == (False, False)
    assert dashcam == {
        "id": "job_dashcam",
        "title": "Dashcam bounding boxes",
        "status": "OPEN",
        "published": True,
        "acceptingApplicants": True,
        "createdAt": dashcam["createdAt"],
        "updatedAt": dashcam["updatedAt"],
        "jobUrl": f"{opentrain_sim.origin}/jobs/job_dashcam",
        # Ada is unreviewed; Grace shortlisted, Alan not a fit, Linus hired.
        "proposalCounts": {"total": 4, "unreviewed": 1},
    }
    assert dashcam["createdAt"].endswith("Z") and dashcam["updatedAt"] == dashcam["createdAt"]
    assert lidar["proposalCounts"] == {"total": 2, "unreviewed": 0}


async def test_a_status_filters_and_an_unknown_one_names_the_supported(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    api = opentrain_sim.api()
    drafts = (await api.get("/jobs/mine", params={"status": "DRAFT"})).json()["jobs"]
    opened = (await api.get("/jobs/mine", params={"status": "OPEN"})).json()["jobs"]
    archived = (await api.get("/jobs/mine", params={"status": "ARCHIVED"})).json()["jobs"]
    assert [j["id"] for j in drafts] == ["job_audio_draft"]
    assert [j["id"] for j in opened] == ["job_dashcam", "job_lidar"]
    assert archived == []
    for bad in ("LIVE", "open"):
        body = assert_error(
            await api.get("/jobs/mine", params={"status": bad}), 400, "BAD_REQUEST", field="status"
        )
        assert body["details"]["supportedStatuses"] == STATUSES


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "cursor=job_nope"])
async def test_a_bad_limit_or_cursor_is_a_400(
    opentrain_sim: OpenTrainSimHandle, query: str
) -> None:
    response = await opentrain_sim.api().get(f"/jobs/mine?{query}")
    assert_error(response, 400, "BAD_REQUEST", field=query.split("=")[0])


async def test_pages_follow_the_cursor(opentrain_sim: OpenTrainSimHandle) -> None:
    state = opentrain_sim.state
    account = state.account()
    for n in range(30):
        state.add_job(
            account,
            job_id=f"job_extra_{n:02d}",
            title=f"Extra {n}",
            payment_type=PaymentType.FIXED_PRICE,
            age=timedelta(minutes=n + 1),
        )
    api = opentrain_sim.api()
    first = (await api.get("/jobs/mine")).json()
    second = (await api.get("/jobs/mine", params={"cursor": first["nextCursor"]})).json()
    assert len(first["jobs"]) == 25 and first["nextCursor"] == first["jobs"][-1]["id"]
    assert len(second["jobs"]) == 8 and second["nextCursor"] is None
    ids = [j["id"] for j in first["jobs"] + second["jobs"]]
    assert ids[:3] == ["job_extra_00", "job_extra_01", "job_extra_02"]  # a minute old, then two
    assert ids[-3:] == ["job_audio_draft", "job_dashcam", "job_lidar"]
    assert len(set(ids)) == 33
    whole = (await api.get("/jobs/mine", params={"limit": "100"})).json()
    assert [j["id"] for j in whole["jobs"]] == ids and whole["nextCursor"] is None


async def test_only_the_accounts_own_jobs(opentrain_sim: OpenTrainSimHandle) -> None:
    state = opentrain_sim.state
    other = state.add_account(account_id="acct_other", owner=Person("usr_o", "Otto", "Other"))
    state.add_job(other, job_id="job_theirs", title="Theirs", payment_type=PaymentType.FIXED_PRICE)
    listed = (await opentrain_sim.api().get("/jobs/mine")).json()["jobs"]
    assert "job_theirs" not in {j["id"] for j in listed}


async def test_gates_401_403_and_pre_claim_works(opentrain_sim: OpenTrainSimHandle) -> None:
    async with httpx.AsyncClient(base_url=opentrain_sim.api_base) as anonymous:
        assert_error(await anonymous.get("/jobs/mine"), 401, "UNAUTHORIZED")
    assert_error(
        await opentrain_sim.api(READONLY).get("/jobs/mine?status=NOPE"),
        403,
        "FORBIDDEN",
        requiredScopes=["jobs:read"],
    )  # the scope is reported before the bad status
    # `jobs:write` implies `jobs:read`.
    writer = await opentrain_sim.token(["jobs:write"])
    assert (await opentrain_sim.api(writer).get("/jobs/mine")).status_code == 200
    await opentrain_sim.patch_account(claimed=False)
    preclaim = await opentrain_sim.api(PRECLAIM).get("/jobs/mine")
    assert preclaim.status_code == 200 and len(preclaim.json()["jobs"]) == 3


async def test_the_client_reads_pages_and_filters(opentrain_sim: OpenTrainSimHandle) -> None:
    async with OpenTrainClient(opentrain_sim.origin, opentrain_sim.full_token) as client:
        page = await client.list_my_jobs(limit=2)
        rest = await client.list_my_jobs(cursor=page.next_cursor, limit=2)
        drafts = await client.list_my_jobs(status="DRAFT")
    assert [j.id for j in page.jobs] == ["job_audio_draft", "job_dashcam"]
    assert [j.id for j in rest.jobs] == ["job_lidar"] and rest.next_cursor is None
    dashcam = page.jobs[1]
    assert dashcam.proposal_counts is not None
    assert (dashcam.proposal_counts.total, dashcam.proposal_counts.unreviewed) == (4, 1)
    assert dashcam.accepting_applicants is True and dashcam.created_at is not None
    assert dashcam.job_url == f"{opentrain_sim.origin}/jobs/job_dashcam"
    assert [(j.id, j.status) for j in drafts.jobs] == [("job_audio_draft", "DRAFT")]

    async with OpenTrainClient(opentrain_sim.origin, READONLY) as readonly:
        with pytest.raises(Forbidden) as refused:
            await readonly.list_my_jobs()
    assert refused.value.required_scopes == ["jobs:read"]
