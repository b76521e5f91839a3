"""Who may do what from Slack, end to end: admins, requesters, guests, Slack Connect users.

The demo workspace: Ana is its admin; Ben, Kai and Lei are members (Lei is not in
#hiring); Gina is a guest and Omar a Slack Connect user from another company,
both in #hiring. Every refusal is private, names who can, is audited, changes
nothing and reaches nothing: the OpenTrain simulator's request log stays empty.
"""

from __future__ import annotations

import json
import logging

import pytest

from bot.approver_tiers import ScopeTiers
from bot.cards import ActionId
from bot.sandbox.faults import FaultSpec
from bot.sandbox.slack.model import Ephemeral
from bot.store.kinds import APPROVERS
from tests.e2e.test_agent_api import calls_to_opentrain
from tests.e2e.test_links import approval_made_elsewhere, paste
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import Bot, rendered, start_bot
from tests.support.wait import wait_for

GUEST, OUTSIDER = "U0GUEST", "U0EXT"
HIDDEN = "W0WALT"  # Slack Connect, profile kept by the partner
GENERAL = "C0GENERAL"


async def answer_to(bot: Bot, text: str, user: str, channel: str = "C0HIRING") -> Ephemeral:
    seen = len(bot.private(user))
    await bot.command(text, user=user, channel=channel)
    return await bot.answer(after=seen, user=user)


async def refusals(bot: Bot) -> list[tuple[str, str, str]]:
    return [
        (e.actor, e.details["why"], e.details["kind"])
        for e in await bot.sandbox.services.store.read_audit()
        if e.action == "refused"
    ]


async def test_only_admins_change_approvers_and_routes(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox)
    store = bot.sandbox.services.store
    for text in (
        "approvers set <@U0BEN|ben>",
        "approvers remove <@U0ANA|ana>",
        "route hire <#C0GENERAL|general>",
    ):
        refusal = await answer_to(bot, text, "U0BEN")
        assert "Only the workspace's admins and owners can change" in refusal.text
    assert await store.list_records(APPROVERS) == {} and await store.list_routes() == {}
    assert await refusals(bot) == [
        ("slack:U0BEN", "not_admin", "change approvers"),
        ("slack:U0BEN", "not_admin", "change approvers"),
        ("slack:U0BEN", "not_admin", "change routes"),
    ]
    # Reading them is for requesters (every member by default).
    assert "No approvers are set" in rendered(await answer_to(bot, "approvers", "U0BEN"))

    # An empty list would silence every reminder: refused even for an admin.
    empty = await answer_to(bot, "approvers set <#C0HIRING|hiring>", "U0ANA")
    assert "needs at least one @mention" in rendered(empty)
    ok = await answer_to(bot, "approvers set <@U0KAI|kai>", "U0ANA")
    assert "<@U0KAI>" in rendered(ok)
    stored = await store.get_record(APPROVERS, "C0HIRING")
    assert isinstance(stored, ScopeTiers) and stored.tiers[0].members == ("U0KAI",)
    assert await bot.sent() == []


async def test_admins_named_in_settings_replace_the_workspaces(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox, admins="U0KAI")
    refusal = await answer_to(bot, "route hire <#C0GENERAL|general>", "U0ANA")
    assert "Only admins can change routes" in refusal.text and "<@U0KAI>" in refusal.text
    assert "now go to #general" in rendered(
        await answer_to(bot, "route hire <#C0GENERAL|general>", "U0KAI")
    )


async def test_guests_and_slack_connect_users_are_outsiders(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox)
    cases = [
        (GUEST, "fund ms_batch2", "Guests can't fund milestones"),
        (GUEST, "contracts", "Guests can't see contracts"),
        (GUEST, "pending", "Guests can't see pending approvals"),
        (OUTSIDER, "fund ms_batch2", "through Slack Connect"),
        (OUTSIDER, "hire prop_ada 450 Batch 1", "through Slack Connect"),
        (OUTSIDER, "approvers set <@U0EXT|omar>", "through Slack Connect"),
    ]
    for user, text, words in cases:
        refusal = await answer_to(bot, text, user)
        assert words in refusal.text, (user, text, refusal.text)
    assert not bot.sandbox.slack.state.open_views(OUTSIDER)
    assert await bot.sent() == []  # not even a read
    assert {why for _, why, _ in await refusals(bot)} == {"guest", "external"}

    # Their clicks on a card are refused too: Ana asks, Omar presses "Remind approvers".
    await answer_to(bot, "fund ms_batch2", "U0ANA")
    [card] = bot.cards()
    seen = len(bot.private(OUTSIDER))
    await bot.click(card, ActionId.REMIND_APPROVERS, user=OUTSIDER)
    refusal = await bot.answer(after=seen, user=OUTSIDER)
    assert "through Slack Connect" in refusal.text
    assert bot.sandbox.slack.dms("U0ANA") == []

    # A money button: "Request again" under a declined card, pressed by Gina.
    [approval] = bot.approvals()
    bot.sandbox.opentrain.state.decline(approval.id)
    reply = await wait_for(
        lambda: bot.sandbox.slack.replies(card.channel, card.ts), message="the outcome reply"
    )
    mark = len(bot.sandbox.opentrain.requests)
    seen = len(bot.private(GUEST))
    await bot.click(reply[0], ActionId.REQUEST_AGAIN, user=GUEST)
    assert "Guests can't request money moves" in (await bot.answer(after=seen, user=GUEST)).text
    assert calls_to_opentrain(bot.sandbox, mark) == [] and len(bot.approvals()) == 1


async def test_a_slack_connect_user_slack_will_not_describe_is_an_outsider_not_deactivated(
    make_sandbox: SandboxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """`W0WALT`: `users.info` and `conversations.open` answer `user_not_found`; the payloads
    name the partner team. Refused as Slack Connect, in words, and nothing logged as ERROR."""
    bot = await start_bot(make_sandbox)
    with caplog.at_level(logging.INFO):
        refusal = await answer_to(bot, "fund ms_batch2", HIDDEN)
        assert "through Slack Connect" in refusal.text and "Deactivated" not in refusal.text
        approval = await approval_made_elsewhere(bot.sandbox, "/milestones/ms_batch2/fund")
        mark = len(bot.sandbox.opentrain.requests)
        seen = len(bot.private(HIDDEN))
        await paste(bot.sandbox, HIDDEN, "C0HIRING", approval["approvalUrl"])
        pasted = await bot.answer(after=seen, user=HIDDEN)
        assert "through Slack Connect" in pasted.text
    assert calls_to_opentrain(bot.sandbox, mark) == [] and bot.cards() == []
    assert {why for _, why, _ in await refusals(bot)} == {"external"}
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_slack_connect_users_slack_will_not_describe_may_act_when_allowed(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox, allow_external_users=True)
    answer = await answer_to(bot, "fund ms_batch2", HIDDEN)
    assert "Approval card posted" in answer.text, answer.text
    [approval] = bot.approvals()
    await bot.card_for(approval.id)


async def test_guests_may_act_when_allowed(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, allow_guests=True)
    assert "Approval card posted" in (await answer_to(bot, "fund ms_batch2", GUEST)).text
    # Slack Connect users stay outside: that is a setting of its own.
    assert "through Slack Connect" in (await answer_to(bot, "contracts", OUTSIDER)).text


async def test_a_non_admin_sees_pending_approvals_of_their_own_channels_only(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox)
    await answer_to(bot, "fund ms_batch2", "U0ANA")  # card in #hiring
    await answer_to(bot, "fund ms_lidar1", "U0ANA", channel=GENERAL)  # card in #general
    hiring, _ = bot.approvals()
    lei = rendered(await answer_to(bot, "pending", "U0LEI", channel=GENERAL))  # not in #hiring
    assert "Sequence A" in lei and "Batch 2" not in lei
    ana = rendered(await answer_to(bot, "pending", "U0ANA"))  # admins see everything
    assert "Sequence A" in ana and "Batch 2" in ana
    # Nor can Lei read the audit trail of a card in a channel she is not in.
    hidden = rendered(await answer_to(bot, f"audit {hiring.id}", "U0LEI", channel=GENERAL))
    assert "Nothing is recorded" in hidden


async def test_the_requester_never_counts_as_an_approver(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, slack_rate_limit_scale=100)
    await answer_to(bot, "approvers set <@U0BEN|ben>", "U0ANA")
    await answer_to(bot, "fund ms_batch2", "U0BEN")
    [card] = await wait_for(bot.cards, message="the card")
    assert "<@U0BEN> asked and is the only approver" in json.dumps(card.blocks)

    seen = len(bot.private("U0BEN"))
    await bot.click(card, ActionId.REMIND_APPROVERS, user="U0BEN")
    assert "Reminded 1 approver" in (await bot.answer(after=seen, user="U0BEN")).text
    # The admins are reminded instead of Ben, who asked.
    await wait_for(lambda: bot.sandbox.slack.dms("U0ANA"), message="Ana's reminder")
    assert bot.sandbox.slack.dms("U0BEN") == []


async def test_a_pasted_link_from_an_outsider_is_not_adopted(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox)
    bot.sandbox.slack.config.unfurl_domains = ("127.0.0.1",)  # Slack matches the host name
    approval = await approval_made_elsewhere(bot.sandbox, "/milestones/ms_batch2/fund")
    mark = len(bot.sandbox.opentrain.requests)
    await paste(bot.sandbox, GUEST, "C0HIRING", f"please approve {approval['approvalUrl']}")
    refusal = await wait_for(lambda: bot.private(GUEST), message="Gina's refusal")
    assert "Guests can't have the bot track approvals" in refusal[0].text
    assert len(bot.private(GUEST)) == 1  # one answer, though two events came
    assert calls_to_opentrain(bot.sandbox, mark) == []
    assert await bot.sandbox.services.store.get_approval(approval["id"]) is None
    assert bot.cards() == []


async def test_the_spend_policy_is_shown_to_admins_only(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, agent_tokens="planner:planner-token-0123456789abcdef")
    policy = rendered(await answer_to(bot, "policy", "U0ANA"))
    assert (
        "planner" in policy and "$1,000.00 per request" in policy and "built-in default" in policy
    )
    refusal = await answer_to(bot, "policy", "U0BEN")
    assert "Only the workspace's admins and owners can see the agents' spend policy" in refusal.text


async def test_when_slack_cannot_say_who_someone_is_the_answer_is_no(
    make_sandbox: SandboxFactory,
) -> None:
    bot = await start_bot(make_sandbox)
    bot.sandbox.slack.faults.add(FaultSpec(path="users.info", status=500))
    refusal = await answer_to(bot, "fund ms_batch2", "U0KAI")
    assert "could not check with Slack who you are" in refusal.text
    assert await bot.sent() == [] and bot.cards() == []
    bot.sandbox.slack.faults.clear()
    assert "Approval card posted" in (await answer_to(bot, "fund ms_batch2", "U0KAI")).text
