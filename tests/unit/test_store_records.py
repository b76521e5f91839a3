"""The parsed-record cache and the compact record format both stores write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.opentrain import ApprovalType
from bot.store.base import approval_record
from bot.store.records import ParsedApprovals
from bot.tracked_approvals import Requester, TrackedApproval

T0 = datetime(2026, 6, 12, 10, 0, tzinfo=UTC)


def tracked(approval_id: str = "apr_1", **changes: object) -> TrackedApproval:
    base = TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.MILESTONE_FUND,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=T0 + timedelta(hours=72),
        requester=Requester(kind="slack", id="U0ANA"),
        next_check_at=T0,
        adopted_at=T0,
    )
    return base.model_copy(update=changes)


def test_a_compact_record_reads_back_as_the_same_approval() -> None:
    approval = tracked(card_ts="1.2", channel_id="C1")
    record = approval_record(approval)
    assert "superseded_by" not in record  # defaults are left out
    assert TrackedApproval.model_validate_json(record) == approval


def test_the_same_version_is_parsed_once_and_shared() -> None:
    cache = ParsedApprovals()
    record = approval_record(tracked())
    first = cache.parse("apr_1", record, 3, None)
    assert first.version == 3
    assert cache.parse("apr_1", "not json at all", 3, None) is first
    assert cache.known("apr_1", 3, None) is first


def test_a_new_version_is_parsed_again() -> None:
    cache = ParsedApprovals()
    cache.parse("apr_1", approval_record(tracked()), 1, None)
    assert cache.known("apr_1", 2, None) is None
    newer = cache.parse("apr_1", approval_record(tracked(card_ts="9.9")), 2, None)
    assert newer.card_ts == "9.9" and newer.version == 2


def test_the_due_time_from_the_index_is_applied_on_top() -> None:
    cache = ParsedApprovals()
    cache.parse("apr_1", approval_record(tracked()), 1, None)
    later = T0 + timedelta(hours=1)
    assert cache.parse("apr_1", "", 1, later).next_check_at == later


def test_the_least_recently_read_are_evicted_beyond_the_size() -> None:
    cache = ParsedApprovals(size=2)
    for approval_id in ("a", "b"):
        cache.parse(approval_id, approval_record(tracked(approval_id)), 1, None)
    cache.known("a", 1, None)  # "a" is now the most recently read
    cache.parse("c", approval_record(tracked("c")), 1, None)
    assert cache.known("b", 1, None) is None
    assert cache.known("a", 1, None) is not None
    assert cache.known("c", 1, None) is not None
