"""The store's clean-up, run by the `retention` job (bot/app.py): every record kind's
`Retention` (bot/store/kinds.py) each tick, and `Store.prune` (bot/store/pruning.py) once
an hour across every replica.

Approvals, their effects and the audit log are kept for RETENTION_DAYS after they ended
(the audit trail is the record, and a done effect is what makes queuing the same effect
id again a no-op); once-keys and leases expire by themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.logs import log_kv
from bot.store.base import Store
from bot.store.kinds import KINDS, Kind
from bot.tracked_approvals import TrackedStatus

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)
PRUNE_KEY = "retention:prune"  # a once-key: one replica prunes per PRUNE_EVERY


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


async def prune_when_due(store: Store, now: datetime, keep: timedelta) -> dict[str, int] | None:
    """Prune what ended more than `keep` before `now`, at most once per PRUNE_EVERY whichever
    replica asks (a once-key, so a restart does not prune again); None when not due."""
    if not await store.claim_key(PRUNE_KEY, PRUNE_EVERY):
        return None
    before = now - keep
    counts = await store.prune(before)
    log.info("store pruned %s", log_kv(before=before.isoformat(), **counts))
    return counts
