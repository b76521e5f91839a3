"""The settings views (`bot/cards/admin.py`): who approves where, and where cards go."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot import cards
from bot.approver_tiers import ScopeTiers, Tier
from tests.unit.cards_helpers import blocks, mrkdwn, texts


def base(*members: str) -> ScopeTiers:
    return ScopeTiers.of([Tier(members=members)])


def test_approvers_this_channel_first_then_global_then_others() -> None:
    approvers = {
        "C0ZED": base("U0ZED"),
        "global": base("S0FINANCE"),
        "C0HERE": base("U0BOSS", "W0ENTERPRISE", "S0LEADS"),
        "C0ALPHA": ScopeTiers(),
    }
    message = cards.approvers_view(approvers, channel_id="C0HERE", escalate_after=None)
    assert blocks(message)[1] == {
        "type": "section",
        "text": mrkdwn(
            "*This channel* (<#C0HERE>): <@U0BOSS>, <@W0ENTERPRISE>, <!subteam^S0LEADS>\n"
            "*Global*: <!subteam^S0FINANCE>\n"
            "<#C0ALPHA>: none set\n"
            "<#C0ZED>: <@U0ZED>"
        ),
    }
    assert "/opentrain approvers [set|add|remove] [#channel|global] [over" in texts(message)
    assert "Escalation is off unless a tier sets it" in texts(message)
    assert message.text == "Approvers are set for 3 scopes."


def test_approvers_by_tier_with_escalation_and_admins() -> None:
    tiers = ScopeTiers.of(
        [
            Tier(members=("U0LEAD",)),
            Tier(over=Decimal(1000), members=("S0FINANCE",), escalate_after=timedelta(hours=12)),
            Tier(over=Decimal(10000), members=("U0CFO",), never_escalate=True, admins=("U0CFO",)),
        ]
    )
    message = cards.approvers_view(
        {"global": tiers}, channel_id="C0HERE", escalate_after=timedelta(hours=24)
    )
    assert blocks(message)[1]["text"]["text"] == (
        "*This channel* (<#C0HERE>): none set\n"
        "*Global*:\n"
        "• <@U0LEAD>\n"
        "• $1,000.00 and more: <!subteam^S0FINANCE> — escalates after 12 h\n"
        "• $10,000.00 and more: <@U0CFO> — never escalates — agents' requests over a limit "
        "decided by <@U0CFO>"
    )
    assert "Nobody acting for 24 h escalates to the next tier (ESCALATE_AFTER)" in texts(message)


def test_approvers_when_this_channel_has_none() -> None:
    message = cards.approvers_view(
        {"global": base("U0BOSS")}, channel_id="C0HERE", escalate_after=None
    )
    assert blocks(message)[1]["text"]["text"].startswith(
        "*This channel* (<#C0HERE>): none set\n*Global*: <@U0BOSS>"
    )


def test_approvers_when_none_are_set_anywhere() -> None:
    nothing: list[dict[str, ScopeTiers]] = [{}, {"C0HERE": ScopeTiers(), "global": ScopeTiers()}]
    for approvers in nothing:
        message = cards.approvers_view(approvers, channel_id="C0HERE", escalate_after=None)
        assert blocks(message)[1]["text"]["text"].startswith(
            "⚠️ *No approvers are set*, so nobody is reminded before an approval expires. "
            "Change them with `/opentrain approvers [set|add|remove] [#channel|global] "
            "[over &lt;amount&gt;] @user @group…`"
        )


def test_routes_sorted_with_words_for_types() -> None:
    routes = {
        "type:milestone_fund": "C0FIN",
        "job:job_9": "C0NINE",
        "type:proposal_hire": "C0HIRE",
        "job:job_1": "C0ONE",
        "weird": "C0W",
    }
    message = cards.routes_view(routes)
    assert blocks(message)[0]["text"]["text"] == "Where cards go (5)"
    assert blocks(message)[1]["text"]["text"] == (
        "• Job `job_1` → <#C0ONE>\n"
        "• Job `job_9` → <#C0NINE>\n"
        "• Funding requests (`milestone_fund`) → <#C0FIN>\n"
        "• Hire requests (`proposal_hire`) → <#C0HIRE>\n"
        "• `weird` → <#C0W>"
    )
    assert "DEFAULT_CHANNEL" in texts(message)
    assert message.text == "5 routes set."


def test_no_routes_mentions_default_channel() -> None:
    message = cards.routes_view({})
    assert "DEFAULT_CHANNEL" in texts(message)
    assert "`/opentrain route &lt;jobId|hire|fund|payout|end&gt; #channel`" in texts(message)
