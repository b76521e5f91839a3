"""Applies every record kind's `Retention` (bot/store/kinds.py): the one clean-up of records.

Approvals, their effects and the audit log are kept (the audit trail is the record,
and a done effect is what makes queuing the same effect id again a no-op);
once-keys and leases expire by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.store.base import Store
from bot.store.kinds import KINDS, Kind
from bot.tracked_approvals import TrackedStatus


async def forget_stale(store: Store, now: datetime, kinds: Iterable[Kind[Any]] = KINDS) -> int:
    """Delete the records that stopped mattering; returns how many were deleted.

    A record that ends with its approval goes once that approval is no longer
    pending (or is unknown); one with a `max_age` once it is that old.
    """
    ended: dict[str, bool] = {}
    forgotten = 0
    for kind in kinds:
        retention = kind.retention
        if not retention.ends_with_approval and retention.max_age is None:
            continue
        for key, record in (await store.list_records(kind)).items():
            stale = retention.too_old(record, now)
            if retention.ends_with_approval and not stale:
                approval_id = key.partition(":")[0]
                if approval_id not in ended:
                    approval = await store.get_approval(approval_id)
                    ended[approval_id] = (
                        approval is None or approval.status is not TrackedStatus.PENDING
                    )
                stale = ended[approval_id]
            if stale and await store.delete_record(kind, key):
                forgotten += 1
    return forgotten
