"""Approval links pasted in Slack: `link_shared` unfurls and message events as fallback, one
card per approval and one thread answer per paste; foreign hosts, unknown ids and the bot's
own messages are handled without a card."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bot.sandbox.opentrain.seed import FULL_TOKEN
from bot.sandbox.runner import Sandbox
from tests.e2e.test_agent_api import calls_to_opentrain, card_in, cards_for
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

HIRING = "C0HIRING"
GENERAL = "C0GENERAL"


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    sandbox = await make_sandbox()
    # Slack matches unfurl domains by host name; the simulator's origin carries a port.
    sandbox.slack.config.unfurl_domains = ("127.0.0.1",)
    return sandbox


async def approval_made_elsewhere(sandbox: Sandbox, path: str) -> dict[str, Any]:
    """An agent's own OpenTrain call (not through the bot): the pending approval it got."""
    async with httpx.AsyncClient(
        base_url=sandbox.opentrain.api_base, headers={"Authorization": f"Bearer {FULL_TOKEN}"}
    ) as opentrain:
        response = await opentrain.post(path)
    assert response.status_code == 202, response.text
    approval: dict[str, Any] = response.json()["approval"]
    return approval


async def paste(sandbox: Sandbox, user: str, channel: str, text: str) -> Any:
    message, results = await sandbox.slack.driver.post_user_message(
        user_id=user, channel_id=channel, text=text
    )
    assert all(result.status == 200 for result in results)
    return message


def replies(sandbox: Sandbox, message: Any) -> list[Any]:
    return sandbox.slack.replies(message.channel, message.ts)


async def test_a_pasted_link_gets_one_card_one_answer_and_an_unfurl(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    url = approval["approvalUrl"]
    message = await paste(sandbox, "U0BEN", HIRING, f"Could someone confirm this? {url}")

    card = await wait_for(lambda: card_in(sandbox, HIRING, approval["id"]), message="card")
    answer = await wait_for(lambda: replies(sandbox, message), message="thread answer")
    await wait_for(lambda: message.unfurls.get(url), message="unfurl")
    # Both events (message, link_shared) arrived; the paste is still answered once.
    assert len(cards_for(sandbox, approval["id"])) == 1
    assert len(answer) == 1
    assert "Approval card posted" in answer[0].text
    tracked = await sandbox.services.store.get_approval(approval["id"])
    assert tracked is not None and tracked.card_ts == card.ts and tracked.card_permalink
    assert tracked.card_permalink in json.dumps(answer[0].blocks)
    unfurled = json.dumps(message.unfurls[url]["blocks"])
    assert "Fund milestone Batch 2" in unfurled and "View the original card" in unfurled
    assert f"{sandbox.opentrain.origin}/approvals/{approval['id']}" in unfurled
    assert (tracked.requester.kind, tracked.requester.id) == ("slack", "U0BEN")
    assert tracked.channel_id == HIRING


async def test_link_shared_alone_is_enough(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch1/approve")
    result = await sandbox.slack.share_link(
        user_id="U0ANA", channel_id=GENERAL, url=approval["approvalUrl"]
    )
    assert result.status == 200
    await wait_for(lambda: card_in(sandbox, GENERAL, approval["id"]), message="card")
    await wait_for(lambda: sandbox.slack.state.unfurls, message="unfurl")
    pasted = sandbox.slack.messages(GENERAL)[0]
    assert len(await wait_for(lambda: replies(sandbox, pasted), message="answer")) == 1


async def test_message_events_are_the_fallback_without_link_shared(sandbox: Sandbox) -> None:
    sandbox.slack.config.unfurl_domains = ()  # the app registered no unfurl domain
    approval = await approval_made_elsewhere(sandbox, "/contracts/ctr_linus/end")
    message = await paste(sandbox, "U0KAI", HIRING, f"<{approval['approvalUrl']}>")
    await wait_for(lambda: card_in(sandbox, HIRING, approval["id"]), message="card")
    assert len(await wait_for(lambda: replies(sandbox, message), message="answer")) == 1
    await outbox_settled(sandbox)  # previews go through the outbox too
    assert sandbox.slack.state.unfurls == []  # nothing offered, nothing unfurled


async def test_a_redelivered_event_and_a_second_paste(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    url = approval["approvalUrl"]
    first = await paste(sandbox, "U0BEN", HIRING, url)
    await wait_for(lambda: replies(sandbox, first), message="first answer")

    # Slack retries an event it thinks we missed: same event id, X-Slack-Retry-Num.
    event = {
        "type": "link_shared",
        "channel": HIRING,
        "user": "U0BEN",
        "message_ts": first.ts,
        "unfurl_id": "U0BEN-retry",
        "source": "conversations_history",
        "links": [{"domain": "127.0.0.1", "url": url}],
    }
    await sandbox.slack.send_event(event, event_id="Ev0RETRY")
    await sandbox.slack.send_event(event, event_id="Ev0RETRY", retry_num=1)

    second = await paste(sandbox, "U0ANA", GENERAL, f"reminder: {url}")
    again = await wait_for(lambda: replies(sandbox, second), message="second answer")
    assert "Already tracked" in again[0].text
    assert len(replies(sandbox, first)) == 1
    assert len(cards_for(sandbox, approval["id"])) == 1  # the card stays where it first went


async def test_an_agents_own_slack_integration_can_post_the_link(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    channel = sandbox.slack.state.channels[HIRING]
    posted = sandbox.slack.state.post(channel, user="U0OTHERBOT", text=approval["approvalUrl"])
    await sandbox.slack.send_event(
        {
            "type": "message",
            "subtype": "bot_message",
            "channel": HIRING,
            "channel_type": "channel",
            "user": "U0OTHERBOT",
            "bot_id": "B0OTHERBOT",
            "text": f"<{approval['approvalUrl']}|Approve funding>",
            "ts": posted.ts,
        }
    )
    await wait_for(lambda: card_in(sandbox, HIRING, approval["id"]), message="card")
    tracked = await sandbox.services.store.get_approval(approval["id"])
    assert tracked is not None and tracked.requester.id == "U0OTHERBOT"


async def outbox_settled(sandbox: Sandbox) -> None:
    async def settled() -> bool:
        return await sandbox.services.store.count_effects(done=False) == 0

    await wait_for(settled, message="outbox settled")


async def test_unknown_approvals_get_one_short_note_and_no_card(sandbox: Sandbox) -> None:
    url = f"{sandbox.opentrain.origin}/approvals/apr_doesnotexist"
    message = await paste(sandbox, "U0BEN", HIRING, f"is this one real? {url}")
    note = await wait_for(lambda: replies(sandbox, message), message="note")
    assert len(note) == 1
    assert "has no approval `apr_doesnotexist`" in note[0].text
    await outbox_settled(sandbox)  # previews go through the outbox too
    assert sandbox.slack.state.unfurls == []
    assert await sandbox.services.store.get_approval("apr_doesnotexist") is None
    assert [m for m in sandbox.slack.messages(HIRING) if m.user != "U0BEN"] == []


async def test_foreign_hosts_and_other_paths_are_ignored(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    mark = len(sandbox.opentrain.requests)
    phishing = f"https://opentrain.example.com/approvals/{approval['id']}"
    not_an_approval = f"{sandbox.opentrain.origin}/contracts/ctr_linus"
    for url in (phishing, not_an_approval):
        result = await sandbox.slack.share_link(user_id="U0BEN", channel_id=HIRING, url=url)
        assert result.status == 200
    message = await paste(sandbox, "U0BEN", HIRING, f"{phishing} and {not_an_approval}")
    # A control paste afterwards: once it is answered, the ignored ones had their turn.
    control = await paste(sandbox, "U0BEN", HIRING, approval["approvalUrl"])
    await wait_for(lambda: replies(sandbox, control), message="control answer")
    # Reply and preview are separate outbox effects (from two events): wait for both.
    await wait_for(lambda: sandbox.slack.state.unfurls, message="control preview")
    assert replies(sandbox, message) == []
    assert [u.url for u in sandbox.slack.state.unfurls] == [approval["approvalUrl"]]
    read = [e["path"] for e in calls_to_opentrain(sandbox, mark) if e["method"] == "GET"]
    assert set(read) <= {f"/approvals/{approval['id']}", "/contracts/ctr_linus"}


async def test_the_bots_own_messages_are_ignored(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    state = sandbox.slack.state
    posted = state.post(
        state.channels[HIRING], user=state.bot_user_id, text=approval["approvalUrl"]
    )
    await sandbox.slack.send_event(
        {
            "type": "message",
            "channel": HIRING,
            "channel_type": "channel",
            "user": state.bot_user_id,
            "bot_id": state.bot_id,
            "text": approval["approvalUrl"],
            "ts": posted.ts,
        }
    )
    control = await paste(sandbox, "U0BEN", GENERAL, approval["approvalUrl"])
    await wait_for(lambda: replies(sandbox, control), message="control answer")
    assert replies(sandbox, posted) == []
    assert card_in(sandbox, HIRING, approval["id"]) is None


# --- Slack's composer: links previewed while a message is still being typed --------------------


async def test_a_link_still_being_typed_is_previewed_only_then_carded_once_when_sent(
    sandbox: Sandbox,
) -> None:
    """Slack sends `link_shared` from the composer (channel `COMPOSER`) before the message
    exists: nothing may be adopted, posted or DMed then; the card comes once it is sent."""
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    url = approval["approvalUrl"]
    mark = len(sandbox.opentrain.requests)
    posts = sandbox.slack.state.api_calls["chat.postMessage"]
    typing = await sandbox.slack.driver.type_in_composer(
        user_id="U0BEN", channel_id=HIRING, text=f"Could someone confirm {url}"
    )
    assert typing is not None and typing.status == 200
    [preview] = await wait_for(
        lambda: [u for u in sandbox.slack.state.unfurls if u.channel == "COMPOSER"],
        message="composer preview",
    )
    assert approval["id"] in json.dumps(preview.unfurl) and "Send the message" in json.dumps(
        preview.unfurl
    )
    await outbox_settled(sandbox)
    assert await sandbox.services.store.get_approval(approval["id"]) is None
    assert calls_to_opentrain(sandbox, mark) == []  # not even read
    assert sandbox.slack.state.api_calls["chat.postMessage"] == posts
    assert sandbox.slack.dms("U0BEN") == []

    message = await paste(sandbox, "U0BEN", HIRING, f"Could someone confirm {url}")
    await wait_for(lambda: card_in(sandbox, HIRING, approval["id"]), message="card when sent")
    await wait_for(lambda: replies(sandbox, message), message="thread answer")
    assert len(cards_for(sandbox, approval["id"])) == 1
    tracked = await sandbox.services.store.get_approval(approval["id"])
    assert tracked is not None and tracked.channel_id == HIRING


async def test_a_tracked_approval_typed_in_the_composer_previews_its_live_card(
    sandbox: Sandbox,
) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch1/approve")
    await paste(sandbox, "U0ANA", HIRING, approval["approvalUrl"])
    await wait_for(lambda: card_in(sandbox, HIRING, approval["id"]), message="card")
    await sandbox.slack.driver.type_in_composer(
        user_id="U0BEN", channel_id=GENERAL, text=approval["approvalUrl"]
    )
    [preview] = await wait_for(
        lambda: [u for u in sandbox.slack.state.unfurls if u.channel == "COMPOSER"],
        message="composer preview",
    )
    shown = json.dumps(preview.unfurl)
    assert "Release payout for Batch 1" in shown and "Send the message" not in shown
    assert len(cards_for(sandbox, approval["id"])) == 1  # nothing new posted


# --- message shapes Slack sends besides a plain post ---------------------------------------------


async def test_edits_deletes_and_joins_never_card_twice_or_answer(sandbox: Sandbox) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    url = approval["approvalUrl"]
    message = await paste(sandbox, "U0BEN", HIRING, f"Please confirm {url}")
    await wait_for(lambda: replies(sandbox, message), message="thread answer")
    driver = sandbox.slack.driver
    edited = await driver.edit_user_message(
        user_id="U0BEN", channel_id=HIRING, ts=message.ts, text=f"Please confirm today {url}"
    )
    joined = await driver.post_with_subtype(
        user_id="U0KAI", channel_id=HIRING, subtype="channel_join"
    )
    for result in (edited, joined[1]):
        assert result is not None and result.status == 200
    await outbox_settled(sandbox)
    assert len(cards_for(sandbox, approval["id"])) == 1
    assert len(replies(sandbox, message)) == 1
    deleted = await driver.delete_user_message(user_id="U0BEN", channel_id=HIRING, ts=message.ts)
    assert deleted is not None and deleted.status == 200
    await outbox_settled(sandbox)
    assert len(cards_for(sandbox, approval["id"])) == 1


@pytest.mark.parametrize(
    ("user", "subtype"),
    [("U0OTHERBOT", "bot_message"), ("U0BEN", "thread_broadcast"), ("U0BEN", "file_share")],
)
async def test_a_link_in_another_apps_post_a_broadcast_reply_or_a_file_comment_is_carded_once(
    sandbox: Sandbox, user: str, subtype: str
) -> None:
    approval = await approval_made_elsewhere(sandbox, "/milestones/ms_batch2/fund")
    thread = None
    if subtype == "thread_broadcast":
        thread = (await paste(sandbox, "U0ANA", GENERAL, "Batch 2 is ready")).ts
    message, result = await sandbox.slack.driver.post_with_subtype(
        user_id=user,
        channel_id=GENERAL,
        subtype=subtype,
        text=f"Confirm please: {approval['approvalUrl']}",
        thread_ts=thread,
    )
    assert result is not None and result.status == 200
    await wait_for(lambda: card_in(sandbox, GENERAL, approval["id"]), message="card")

    def answers() -> list[Any]:
        thread_replies = sandbox.slack.replies(GENERAL, thread or message.ts)
        return [a for a in thread_replies if "Approval card posted" in a.text]

    await wait_for(answers, message="thread answer")
    await outbox_settled(sandbox)
    assert len(cards_for(sandbox, approval["id"])) == 1
    assert len(answers()) == 1
