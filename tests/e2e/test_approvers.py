"""`/opentrain approvers …`: set, add, remove and show (stored, audited), and the card's line."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bot.sandbox.runner import Sandbox
from bot.store.kinds import APPROVERS
from bot.tracked_approvals import Requester
from tests.e2e.test_reminders import CHANNEL, UNPACED, hire
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

OTHER_CHANNEL = "C0GENERAL"


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(**UNPACED)


async def approvers(sandbox: Sandbox, text: str, channel: str = CHANNEL) -> str:
    """Run `/opentrain approvers <text>` as Ana; returns the private answer's blocks as JSON."""
    before = len(sandbox.slack.ephemerals("U0ANA"))
    result = await sandbox.slack.send_command(
        command="/opentrain", text=f"approvers {text}".strip(), user_id="U0ANA", channel_id=channel
    )
    assert result.status == 200
    answers = await wait_for(
        lambda: sandbox.slack.ephemerals("U0ANA")[before:], message=f"answer to {text!r}"
    )
    return json.dumps(answers[0].blocks)


async def members(sandbox: Sandbox, scope: str, over: int = 0) -> tuple[str, ...] | None:
    """The members of the tier from `over` dollars of `scope`, as stored."""
    tier = (await sandbox.services.approvers.scope(scope)).at(Decimal(over))
    return tier.members if tier else None


async def test_set_add_remove_and_show(sandbox: Sandbox) -> None:
    shown = await approvers(sandbox, "")
    assert "No approvers are set" in shown

    shown = await approvers(
        sandbox, "set <#C0HIRING|hiring> <@U0ANA|ana> <!subteam^S0FINANCE|@finance-team>"
    )
    assert "<@U0ANA>" in shown and "<!subteam^S0FINANCE>" in shown
    shown = await approvers(sandbox, "add <@U0KAI|kai>")  # the current channel by default
    shown = await approvers(sandbox, "remove <@U0ANA|ana>")
    assert "<@U0ANA>" not in shown and "<@U0KAI>" in shown
    await approvers(sandbox, "set global <@U0LEI|lei>")

    store = sandbox.services.store
    assert await members(sandbox, "C0HIRING") == ("S0FINANCE", "U0KAI")
    assert await members(sandbox, "global") == ("U0LEI",)

    # From another channel: its own list (none, so global applies) first, then the others.
    shown = await approvers(sandbox, "show", channel=OTHER_CHANNEL)
    assert shown.index("<@U0LEI>") < shown.index("<!subteam^S0FINANCE>")

    changes = [e for e in await store.read_audit() if e.action == "approvers_changed"]
    assert [(e.actor, e.details["scope"], e.details["change"]) for e in changes] == [
        ("slack:U0ANA", "C0HIRING", "set"),
        ("slack:U0ANA", "C0HIRING", "add"),
        ("slack:U0ANA", "C0HIRING", "remove"),
        ("slack:U0ANA", "global", "set"),
    ]
    assert changes[2].details["before"] == ["U0ANA", "S0FINANCE", "U0KAI"]


async def test_bad_usage_is_explained(sandbox: Sandbox) -> None:
    shown = await approvers(sandbox, "add")
    assert "needs at least one @mention" in shown
    shown = await approvers(sandbox, "set <#C0HIRING|hiring> ana")
    assert "is not a @user or @group mention" in shown
    assert await sandbox.services.store.list_records(APPROVERS) == {}


async def test_the_card_shows_who_is_expected_to_confirm(sandbox: Sandbox) -> None:
    # No approvers anywhere: the card warns.
    first = await hire(sandbox, "prop_ada")
    card = sandbox.slack.state.find_message(CHANNEL, str(first.card_ts))
    assert card is not None and "No approvers are set for this channel" in json.dumps(card.blocks)

    await approvers(sandbox, "set <!subteam^S0FINANCE|@finance-team> <@U0KAI|kai>")
    await approvers(sandbox, "set global <@U0LEI|lei>")
    second = await hire(sandbox, "prop_grace", "520")
    card = sandbox.slack.state.find_message(CHANNEL, str(second.card_ts))
    assert card is not None
    assert "*Approvers:* <!subteam^S0FINANCE>, <@U0KAI>" in json.dumps(card.blocks)

    # A channel without its own list shows the global approvers.
    elsewhere = await sandbox.services.cosign.fund(
        "ms_batch2", requester=Requester(kind="slack", id="U0ANA"), channel_id=OTHER_CHANNEL
    )
    assert elsewhere.card.ts is not None
    card = sandbox.slack.state.find_message(OTHER_CHANNEL, elsewhere.card.ts)
    assert card is not None and "*Approvers:* <@U0LEI>" in json.dumps(card.blocks)
