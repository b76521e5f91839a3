"""Approval records parsed once: reading thousands of them again costs next to nothing.

Some readers go through every pending approval again and again (each Home tab
refresh, each reminder tick): turning a stored JSON record into a
`TrackedApproval` takes tens of microseconds, finding the one parsed before
takes about one. A record's version moves on every write of it, so an approval
id and a version name exactly one JSON record; the due time lives beside the
JSON (the due index) and is applied on top. Records are frozen models, so every
caller may share the same object.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from bot.tracked_approvals import TrackedApproval

# Beyond this many approvals the least recently read are parsed again when next read.
PARSED_APPROVALS = 20_000


class ParsedApprovals:
    """The most recently read approvals, by id. Not thread-safe: one thread uses it."""

    def __init__(self, size: int = PARSED_APPROVALS) -> None:
        self._size = size
        self._approvals: OrderedDict[str, TrackedApproval] = OrderedDict()

    def parse(
        self, approval_id: str, record: str, version: int, next_check_at: datetime | None
    ) -> TrackedApproval:
        """The approval stored as `record` at `version`, due at `next_check_at` if pending."""
        known = self.known(approval_id, version, next_check_at)
        if known is not None:
            return known
        approval = TrackedApproval.model_validate_json(record).model_copy(
            update={"version": version}
        )
        return self._keep(approval_id, approval, next_check_at)

    def known(
        self, approval_id: str, version: int, next_check_at: datetime | None
    ) -> TrackedApproval | None:
        """The approval at `version` if it was parsed before (no record needed), else None."""
        approval = self._approvals.get(approval_id)
        if approval is None or approval.version != version:
            return None
        return self._keep(approval_id, approval, next_check_at)

    def forget(self, approval_ids: list[str]) -> None:
        """Drop pruned approvals: one adopted again under its id starts again at version 0."""
        for approval_id in approval_ids:
            self._approvals.pop(approval_id, None)

    def _keep(
        self, approval_id: str, approval: TrackedApproval, next_check_at: datetime | None
    ) -> TrackedApproval:
        if next_check_at is not None and approval.next_check_at != next_check_at:
            approval = approval.model_copy(update={"next_check_at": next_check_at})
        self._approvals[approval_id] = approval
        self._approvals.move_to_end(approval_id)
        if len(self._approvals) > self._size:
            self._approvals.popitem(last=False)
        return approval
