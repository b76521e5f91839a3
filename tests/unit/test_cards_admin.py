"""The settings views (`bot/cards/admin.py`): who approves where, and where cards go."""

from __future__ import annotations

from bot import cards
from tests.unit.cards_helpers import blocks, mrkdwn, texts


def test_approvers_this_channel_first_then_global_then_others() -> None:
    approvers = {
        "C0ZED": ["U0ZED"],
        "global": ["S0FINANCE"],
        "C0HERE": ["U0BOSS", "W0ENTERPRISE", "S0LEADS"],
        "C0ALPHA": [],
    }
    message = cards.approvers_view(approvers, channel_id="C0HERE")
    assert blocks(message)[1] == {
        "type": "section",
        "text": mrkdwn(
            "*This channel* (<#C0HERE>): <@U0BOSS>, <@W0ENTERPRISE>, <!subteam^S0LEADS>\n"
            "*Global*: <!subteam^S0FINANCE>\n"
            "<#C0ALPHA>: none set\n"
            "<#C0ZED>: <@U0ZED>"
        ),
    }
    assert "/opentrain approvers [set|add|remove] [#channel|global]" in texts(message)
    assert message.text == "Approvers are set for 3 scopes."


def test_approvers_when_this_channel_has_none() -> None:
    message = cards.approvers_view({"global": ["U0BOSS"]}, channel_id="C0HERE")
    assert blocks(message)[1]["text"]["text"].startswith(
        "*This channel* (<#C0HERE>): none set\n*Global*: <@U0BOSS>"
    )


def test_approvers_when_none_are_set_anywhere() -> None:
    nothing: list[dict[str, list[str]]] = [{}, {"C0HERE": [], "global": []}]
    for approvers in nothing:
        message = cards.approvers_view(approvers, channel_id="C0HERE")
        assert blocks(message)[1]["text"]["text"] == (
            "⚠️ *No approvers are set*, so nobody is reminded before an approval expires. "
            "Change them with `/opentrain approvers [set|add|remove] [#channel|global] "
            "@user @group…`."
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
