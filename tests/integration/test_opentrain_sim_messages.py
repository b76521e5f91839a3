"""Post-hire messaging on the OpenTrain simulator (`GET/POST /messages`, §14)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.sandbox.opentrain.model import Person
from bot.sandbox.opentrain.seed import freelancer
from tests.support.opentrain_sim import OpenTrainSimHandle, assert_error


async def _list(sim: OpenTrainSimHandle, **params: str) -> dict[str, Any]:
    response = await sim.api().get("/messages", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_list_mode_newest_activity_first_with_filters(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    everything = await _list(opentrain_sim)
    ids = [c["id"] for c in everything["conversations"]]
    assert ids == ["conv_linus", "conv_ada", "conv_grace", "conv_margaret", "conv_barbara"]
    assert everything["nextCursor"] is None
    linus = everything["conversations"][0]
    assert (linus["type"], linus["bucket"], linus["jobId"]) == (
        "DIRECT_MESSAGE",
        "job",
        "job_dashcam",
    )
    assert linus["lastMessage"]["isFromViewer"] is False
    assert (linus["unreadCount"], linus["needsReplyCount"]) == (1, 1)
    jobs = await _list(opentrain_sim, filter="job")
    assert {c["bucket"] for c in jobs["conversations"]} == {"job"}
    proposals = await _list(opentrain_sim, filter="proposal")
    assert [c["id"] for c in proposals["conversations"]] == ["conv_ada", "conv_grace"]
    unread = await _list(opentrain_sim, unreadOnly="true")
    assert [c["id"] for c in unread["conversations"]] == ["conv_linus", "conv_ada"]
    first = await _list(opentrain_sim, limit="2")
    rest = await _list(opentrain_sim, cursor=first["nextCursor"])
    assert [c["id"] for c in first["conversations"] + rest["conversations"]] == ids


async def test_message_mode_pages_both_ways(opentrain_sim: OpenTrainSimHandle) -> None:
    for n in range(3):
        response = await opentrain_sim.control.post(
            "/_sim/messages", json={"conversationId": "conv_linus", "content": f"update {n}"}
        )
        assert response.status_code == 200
    newest = await _list(opentrain_sim, conversationId="conv_linus", limit="2")
    assert [m["content"] for m in newest["messages"]] == ["update 2", "update 1"]
    older = await _list(
        opentrain_sim, conversationId="conv_linus", limit="10", cursor=newest["nextCursor"]
    )
    assert older["messages"][0]["content"] == "update 0"
    assert older["nextCursor"] is None
    tail = await _list(opentrain_sim, conversationId="conv_linus", direction="newer", limit="2")
    assert tail["messages"][0]["content"] == "Welcome aboard! Batch 1 is funded."
    entry = tail["messages"][0]
    assert entry["isFromViewer"] is True and entry["hasUnreadFlag"] is False
    assert entry["conversationId"] == "conv_linus" and entry["jobId"] == "job_dashcam"
    assert {"messageType", "system", "attachmentCount", "hasAudio", "editedAt"} <= set(entry)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("direction=sideways", "direction"),
        ("filter=team", "filter"),
        ("unreadOnly=maybe", "unreadOnly"),
        ("cursor=conv_missing", "cursor"),
    ],
)
async def test_read_validation_reports_issues(
    opentrain_sim: OpenTrainSimHandle, query: str, path: str
) -> None:
    response = await opentrain_sim.api().get(f"/messages?{query}")
    body = assert_error(response, 400, "BAD_REQUEST")
    assert [issue["path"] for issue in body["details"]["issues"]] == [[path]]


async def test_reading_needs_an_existing_conversation_you_are_in(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    state = opentrain_sim.state
    other = state.add_account(account_id="acct_other", owner=Person("usr_o", "Otto", "Other"))
    job = state.add_job(
        other, job_id="job_o", title="O", payment_type=state.jobs["job_lidar"].payment_type
    )
    state.add_conversation(
        job,
        "conv_other",
        bucket="job",
        proposal_id=None,
        other=Person("usr_z", "Zed", "Z"),
        updated_at=state.now(),
    )
    api = opentrain_sim.api()
    assert_error(
        await api.get("/messages?conversationId=conv_missing"),
        404,
        "NOT_FOUND",
        resource="conversations",
        conversationId="conv_missing",
    )
    assert_error(await api.get("/messages?conversationId=conv_other"), 403, "FORBIDDEN")
    assert_error(
        await api.post("/messages", json={"conversationId": "conv_other", "content": "hi"}),
        403,
        "FORBIDDEN",
    )
    assert "conv_other" not in {c["id"] for c in (await _list(opentrain_sim))["conversations"]}


async def test_send_message(opentrain_sim: OpenTrainSimHandle) -> None:
    response = await opentrain_sim.api().post(
        "/messages", json={"conversationId": "conv_linus", "content": "Looks great, thanks!"}
    )
    assert response.status_code == 201
    body = response.json()
    assert body["ok"] is True
    assert body["message"]["content"] == "Looks great, thanks!"
    assert body["message"]["isFromViewer"] is True
    summary = (await _list(opentrain_sim))["conversations"][0]
    assert summary["lastMessage"]["id"] == body["message"]["id"]
    assert (summary["unreadCount"], summary["needsReplyCount"]) == (0, 0)
    # Our own message is not "received": no event.
    assert (await opentrain_sim.api().get("/updates")).json()["events"] == []


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"content": "hi"}, "conversationId"),
        ({"conversationId": "conv_linus"}, "content"),
        ({"conversationId": "conv_linus", "content": "   "}, "content"),
        ({"conversationId": "conv_linus", "content": "x" * 10_001}, "content"),
    ],
)
async def test_send_validation(
    opentrain_sim: OpenTrainSimHandle, body: dict[str, Any], path: str
) -> None:
    response = await opentrain_sim.api().post("/messages", json=body)
    details = assert_error(response, 400, "BAD_REQUEST")["details"]
    assert details["issues"][0]["path"] == [path]


async def test_send_conflicts_and_policy(opentrain_sim: OpenTrainSimHandle) -> None:
    api = opentrain_sim.api()
    assert_error(
        await api.post("/messages", json={"conversationId": "conv_barbara", "content": "hi"}),
        409,
        "CONFLICT",
        reason="read_only_conversation",
    )
    assert_error(
        await api.post("/messages", json={"conversationId": "conv_grace", "content": "hi"}),
        409,
        "CONFLICT",
        reason="message_blocked",
    )
    assert_error(
        await api.post(
            "/messages", json={"conversationId": "conv_linus", "content": "mail me: a@b.example"}
        ),
        403,
        "FORBIDDEN",
        reason="message_policy_blocked",
        policy="contact_details",
    )
    assert_error(
        await opentrain_sim.api("ot_pat_sim_preclaim").post(
            "/messages", json={"conversationId": "conv_linus", "content": "hi"}
        ),
        403,
        "FORBIDDEN",
        requiredScopes=["messages:write"],
    )


async def test_freelancer_reply_fires_message_received(opentrain_sim: OpenTrainSimHandle) -> None:
    reply = await opentrain_sim.control.post(
        "/_sim/messages", json={"conversationId": "conv_linus", "content": "Batch 2 started"}
    )
    message_id = reply.json()["message"]["id"]
    [event] = (await opentrain_sim.api().get("/updates")).json()["events"]
    assert event["type"] == "message.received"
    assert event["data"] == {"conversationId": "conv_linus", "messageId": message_id}
    summary = (await _list(opentrain_sim))["conversations"][0]
    assert (summary["id"], summary["unreadCount"], summary["needsReplyCount"]) == (
        "conv_linus",
        2,
        2,
    )


# --- proposal threads are employer-first (§8.3, §14.2) ------------------------------------------


async def _candidate_says(sim: OpenTrainSimHandle, conversation_id: str) -> httpx.Response:
    return await sim.control.post(
        "/_sim/messages", json={"conversationId": conversation_id, "content": "Hello!"}
    )


async def test_the_candidate_cannot_write_first_in_a_proposal_thread(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    state = opentrain_sim.state
    katherine = state.add_proposal(state.jobs["job_dashcam"], freelancer("Katherine", "Johnson"))
    thread = state.add_conversation(
        state.jobs["job_dashcam"],
        "conv_katherine",
        bucket="proposal",
        proposal_id=katherine.id,
        other=katherine.freelancer,
        updated_at=state.now(),
    )
    first = await _candidate_says(opentrain_sim, "conv_katherine")
    assert first.status_code == 409
    assert first.json()["reason"] == "employer_first_message_required"
    assert thread.messages == []
    assert (await opentrain_sim.api().get("/updates")).json()["events"] == []

    sent = await opentrain_sim.api().post(
        "/messages", json={"conversationId": "conv_katherine", "content": "Hi Katherine!"}
    )
    assert sent.status_code == 201 and sent.json()["ok"] is True
    assert sent.json()["message"]["isFromViewer"] is True
    reply = await _candidate_says(opentrain_sim, "conv_katherine")
    assert reply.status_code == 200, reply.text
    [event] = (await opentrain_sim.api().get("/updates")).json()["events"]
    assert event["type"] == "message.received"
    assert [m.sender_user_id for m in thread.messages] == ["usr_owner", katherine.freelancer.id]


async def test_seeded_proposal_threads_start_with_the_employer(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    state = opentrain_sim.state
    threads = [c for c in state.conversations.values() if c.bucket == "proposal"]
    assert threads and all(c.messages[0].sender_user_id == "usr_owner" for c in threads)
    assert (await _candidate_says(opentrain_sim, "conv_ada")).status_code == 200
    # Post-hire DMs have no such rule.
    state.conversations["conv_margaret"].messages.clear()
    assert (await _candidate_says(opentrain_sim, "conv_margaret")).status_code == 200


async def test_sending_is_rate_limited_with_the_wait_in_the_body(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    await opentrain_sim.configure(rateLimitPerMinute=1)
    api = opentrain_sim.api()
    body = {"conversationId": "conv_linus", "content": "First"}
    assert (await api.post("/messages", json=body)).status_code == 201
    limited = await api.post("/messages", json={**body, "content": "Second"})
    details = assert_error(limited, 429, "RATE_LIMITED")["details"]
    wait = details["retryAfterSeconds"]
    assert isinstance(wait, int) and 1 <= wait <= 60
    assert limited.headers["Retry-After"] == str(wait)
    contents = [m.content for m in opentrain_sim.state.conversations["conv_linus"].messages]
    assert contents[-1] == "First" and "Second" not in contents


async def test_an_ended_contracts_read_only_conversation_takes_nothing_from_the_trainer(
    opentrain_sim: OpenTrainSimHandle,
) -> None:
    thread = opentrain_sim.state.conversations["conv_barbara"]
    before = list(thread.messages)
    refused = await _candidate_says(opentrain_sim, "conv_barbara")
    assert refused.status_code == 409
    assert refused.json()["reason"] == "read_only_conversation"
    assert thread.messages == before
