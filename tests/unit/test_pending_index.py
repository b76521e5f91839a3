"""The pending index's pure parts: what an approval is indexed under."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.opentrain.models import ApprovalType
from bot.store.pending_index import ADMINS, Concern, channel_key, recipients_of, requester_of
from bot.store.sqlite_index import concerning_query
from bot.tracked_approvals import Escalation, Requester, TrackedApproval

T0 = datetime(2031, 1, 1, tzinfo=UTC)


def approval(requester: Requester, *escalations: tuple[str, ...]) -> TrackedApproval:
    return TrackedApproval(
        approval_id="apr_1",
        type=ApprovalType.MILESTONE_FUND,
        approval_url="https://app.opentrain.ai/approvals/apr_1",
        expires_at=T0 + timedelta(days=3),
        requester=requester,
        escalations=tuple(
            Escalation(level=level, to=to, waited=timedelta(hours=level), at=T0)
            for level, to in enumerate(escalations, start=1)
        ),
        next_check_at=T0,
        adopted_at=T0,
    )


def test_escalation_recipients_are_each_level_told_and_admins_past_the_top() -> None:
    slack = Requester(kind="slack", id="U1")
    assert recipients_of(approval(slack)) == []
    told = approval(slack, ("S_FIN", "U_CFO"), (), ("U_CFO",))
    assert recipients_of(told) == ["S_FIN", "U_CFO", ADMINS]


def test_only_slack_users_are_requesters_and_no_channel_is_the_empty_key() -> None:
    assert requester_of(approval(Requester(kind="slack", id="U1"))) == "U1"
    assert requester_of(approval(Requester(kind="agent", id="ci-bot"))) is None
    assert (channel_key(None), channel_key("C1")) == ("", "C1")


def test_a_concern_with_no_part_reads_nothing_and_parts_are_parameters() -> None:
    assert concerning_query(Concern()) == ("", [])
    sql, params = concerning_query(
        Concern(channels=frozenset({None, "C1"}), requester="U1", recipients=frozenset({ADMINS}))
    )
    assert sql.count("UNION") == 2 and "C1" not in sql
    assert params == ['["", "C1"]', "U1", f'["{ADMINS}"]']
