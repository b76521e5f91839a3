"""The OpenTrain simulator's "Play the other side" page (`/trainer`): each form makes the
event a real applicant or trainer would (the same state operations as `/_sim/*`), redirects
back saying so, shows a refusal as a message on the page, and escapes what people typed."""

from __future__ import annotations

from decimal import Decimal

import httpx

from bot.sandbox.opentrain.model import PaymentSource
from bot.sandbox.opentrain.vocabulary import EventType
from tests.support.opentrain_sim import OpenTrainSimHandle

HOSTILE = '<script>alert(1)</script> & "quoted" <b>bold</b>'


async def _post(sim: OpenTrainSimHandle, path: str, **form: str) -> httpx.Response:
    return await sim.control.post(path, data=form)


def _events_since(sim: OpenTrainSimHandle, last: int) -> list[tuple[EventType, str]]:
    return [(e.type, e.resource_id) for e in sim.state.events if e.id > last]


def _last_event(sim: OpenTrainSimHandle) -> int:
    return sim.state.events[-1].id if sim.state.events else 0


def _error(response: httpx.Response, status: int) -> str:
    """The page's refusal message (the page itself, not a 500 or a JSON body)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>Play the other side</h1>" in response.text
    return response.text.split('id="error" role="alert">', 1)[1].split("</p>", 1)[0]


async def test_the_index_links_here_and_the_page_offers_what_each_active_contract_can_do(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    index = (await opentrain_sim.control.get("/")).text
    assert 'id="play-the-other-side" href="/trainer"' in index
    page = await opentrain_sim.control.get("/trainer")
    html = page.text
    assert page.status_code == 200 and "<h1>Play the other side</h1>" in html
    assert "A new applicant applies to Dashcam bounding boxes" in html
    assert 'value="Katherine"' in html and 'value="Johnson"' in html and 'value="400"' in html
    # Active contracts only (Barbara's ended), each with its freelancer and job.
    assert "Linus T. · Dashcam bounding boxes" in html
    assert "Margaret H. · Lidar point-cloud segmentation" in html
    assert "ctr_barbara" not in html and "Barbara" not in html
    assert "Write as Linus" in html and "Write as Margaret" in html
    assert "Thanks — first 2k boxes are up for review." in html  # the conversation so far
    # Work can be submitted only on a funded milestone; hours only on the hourly contract.
    assert 'id="submit-ms_batch1"' in html and "Submit work on Batch 1" in html
    for not_funded in ("ms_batch2", "ms_pilot", "ms_rain", "ms_lidar1"):
        assert f'id="submit-{not_funded}"' not in html
    assert 'id="log-ctr_margaret"' in html and "Log hours" in html
    assert 'id="log-ctr_linus"' not in html
    assert "http://" not in html.replace(opentrain_sim.origin, "")  # no external assets


async def test_a_new_applicant_fires_proposal_received(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    last = _last_event(opentrain_sim)
    applied = await _post(
        opentrain_sim,
        "/trainer/proposals",
        firstName="Dorothy",
        lastName="Vaughan",
        bidAmountUsd="420.50",
    )
    assert applied.status_code == 303
    assert applied.headers["Location"] == "/trainer?done=applied#apply"
    [(event_type, proposal_id)] = _events_since(opentrain_sim, last)
    assert event_type is EventType.PROPOSAL_RECEIVED
    proposal = opentrain_sim.state.proposals[proposal_id]
    assert proposal.job_id == "job_dashcam"
    assert proposal.freelancer.full_name == "Dorothy Vaughan"
    assert proposal.bid_amount_usd == Decimal("420.50")
    back = (await opentrain_sim.control.get(applied.headers["Location"])).text
    assert 'id="notice"' in back and "proposal.received" in back


async def test_writing_as_the_trainer_is_a_message_in_the_contracts_conversation(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    last = _last_event(opentrain_sim)
    sent = await _post(opentrain_sim, "/trainer/contracts/ctr_linus/messages", content=HOSTILE)
    assert sent.status_code == 303
    assert sent.headers["Location"] == "/trainer?done=written#contract-ctr_linus"
    [(event_type, message_id)] = _events_since(opentrain_sim, last)
    assert event_type is EventType.MESSAGE_RECEIVED
    message = opentrain_sim.state.conversations["conv_linus"].messages[-1]
    assert message.id == message_id and message.content == HOSTILE
    assert message.sender_user_id == opentrain_sim.state.contracts["ctr_linus"].freelancer.id
    # What was typed shows in the conversation, as text.
    html = (await opentrain_sim.control.get("/trainer")).text
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &lt;b&gt;bold&lt;/b&gt;"
        in html
    )
    assert "<script>" not in html and "<b>bold</b>" not in html


async def test_submitting_work_fires_its_events_once_and_a_second_submit_is_a_message(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    last = _last_event(opentrain_sim)
    submitted = await _post(opentrain_sim, "/trainer/milestones/ms_batch1/submit")
    assert submitted.status_code == 303
    assert submitted.headers["Location"] == "/trainer?done=submitted#contract-ctr_linus"
    assert [t for t, _ in _events_since(opentrain_sim, last)] == [
        EventType.MILESTONE_STATUS_CHANGED,
        EventType.PAYMENT_PENDING,
    ]
    assert opentrain_sim.state.milestones["ms_batch1"].pending_approval
    html = (await opentrain_sim.control.get("/trainer")).text
    assert 'id="submit-ms_batch1"' not in html and "Batch 1 ($450.00): submitted" in html

    last = _last_event(opentrain_sim)
    again = await _post(opentrain_sim, "/trainer/milestones/ms_batch1/submit")
    assert "already awaits approval" in _error(again, 409)
    assert _events_since(opentrain_sim, last) == []


async def test_logged_hours_move_the_budget_and_crossing_low_fires_its_event(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    state = opentrain_sim.state
    state.fund_milestone(state.milestones["ms_lidar1"], PaymentSource.CREDITS, 30_000)
    last = _last_event(opentrain_sim)
    logged = await _post(opentrain_sim, "/trainer/contracts/ctr_margaret/usage", volume="10")
    assert logged.status_code == 303
    assert logged.headers["Location"] == "/trainer?done=logged#contract-ctr_margaret"
    [(event_type, contract_id)] = _events_since(opentrain_sim, last)
    assert (event_type, contract_id) == (EventType.CONTRACT_BUDGET_STATE_CHANGED, "ctr_margaret")
    assert state.events[-1].data["state"] == "LOW"
    html = (await opentrain_sim.control.get("/trainer")).text
    assert "Budget LOW: 10 of 12 funded hours used." in html


async def test_refusals_are_messages_on_the_page_and_change_nothing(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    state = opentrain_sim.state
    last = _last_event(opentrain_sim)
    proposals = len(state.proposals)
    refusals = [
        (
            "/trainer/proposals",
            {"firstName": "Ada", "lastName": "X", "bidAmountUsd": "lots"},
            400,
            "number",
        ),
        (
            "/trainer/proposals",
            {"firstName": " ", "lastName": "X", "bidAmountUsd": "5"},
            400,
            "first name",
        ),
        (
            "/trainer/proposals",
            {"firstName": "A", "lastName": "X", "bidAmountUsd": "-5"},
            400,
            "more than 0",
        ),
        ("/trainer/contracts/ctr_linus/messages", {"content": "  "}, 400, "Write something"),
        ("/trainer/contracts/ctr_barbara/messages", {"content": "hi"}, 409, "ended"),
        ("/trainer/contracts/ctr_nope/messages", {"content": "hi"}, 404, "No such contract"),
        ("/trainer/contracts/ctr_margaret/usage", {"volume": "0"}, 400, "more than 0"),
        ("/trainer/contracts/ctr_margaret/usage", {"volume": "NaN"}, 400, "more than 0"),
        ("/trainer/milestones/ms_batch2/submit", {}, 409, "ACTIVE_FUNDED"),
        ("/trainer/milestones/ms_nope/submit", {}, 404, "No such milestone"),
    ]
    for path, form, status, words in refusals:
        response = await _post(opentrain_sim, path, **form)
        assert words in _error(response, status), (path, form)
    assert _events_since(opentrain_sim, last) == []
    assert len(state.proposals) == proposals
    assert state.contracts["ctr_margaret"].consumed_volume == 0


async def test_only_known_notices_are_shown_and_a_scenario_without_the_demo_job_says_so(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    forged = (await opentrain_sim.control.get("/trainer", params={"done": HOSTILE})).text
    assert 'id="notice"' not in forged and "<script>" not in forged
    await opentrain_sim.control.post("/_sim/seed", json={"scenario": "empty"})
    html = (await opentrain_sim.control.get("/trainer")).text
    assert "no demo job" in html and "No active contracts." in html
    refused = await _post(
        opentrain_sim, "/trainer/proposals", firstName="A", lastName="B", bidAmountUsd="5"
    )
    assert "no demo job" in _error(refused, 409)
