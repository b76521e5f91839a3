"""What `Store.prune` removes, and the order it goes in, shared by both backends.

A backend provides three passes (bot/store/sqlite_prune.py, bot/store/redis_prune.py);
`PruneOverParts.prune` runs them, and removes the records that end with an approval
(`Retention(ends_with_approval=True)`) itself, over the records part's text operations:

1. approvals that ended before the cutoff: not pending, adopted before it, and resolved
   before it (`resolved_at`; none: adopted) — an approval tracked long after OpenTrain
   resolved it is kept for the whole period from its adoption — each with its done effects;
2. the records of those approvals, per kind;
3. done effects of any other subject (`policy:…`, `paste:…`, `digest:…`, an approval no
   longer stored) whose due time — when it was done — is before the cutoff;
4. audit entries written before it.

Pending approvals and effects not done are never removed. Every pass works in batches of
PRUNE_BATCH, each its own short write (a SQLite transaction, a Redis script), so a big
store is never locked for long and the bot keeps working meanwhile.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.store.kinds import KINDS

PRUNE_BATCH = 500
APPROVALS = "approvals"
EFFECTS = "effects"
AUDIT = "audit"
# Their keys are "<approval id>" or "<approval id>:…" (bot/store/kinds.py).
WITH_APPROVAL = tuple(kind for kind in KINDS if kind.retention.ends_with_approval)


def no_counts() -> dict[str, int]:
    """Every count `prune` answers, at zero, in the order they are printed."""
    return {APPROVALS: 0, EFFECTS: 0, AUDIT: 0, **{kind.name: 0 for kind in WITH_APPROVAL}}


def resolved_before(resolved_at: object, before: datetime) -> bool:
    """Whether an ended approval's `resolved_at` (ISO text) is before `before`; one without
    counts from its adoption, which the caller has checked already."""
    if resolved_at is None:
        return True
    return isinstance(resolved_at, str) and done_before(resolved_at, before)


def done_before(at: str, before: datetime) -> bool:
    """Whether a stored time (ISO text: a done effect's due time, when it was done) is before
    `before`."""
    try:
        return datetime.fromisoformat(at) < before
    except ValueError:
        return False  # unreadable: kept, never guessed


class PruneOverParts:
    """The `prune` of `Store`, over three passes each backend provides."""

    if TYPE_CHECKING:

        async def _text_list(self, prefix: str) -> dict[str, str]: ...

        async def _text_delete(self, key: str) -> bool: ...

    async def _prune_approvals(
        self, before: datetime, *, dry_run: bool, counts: dict[str, int]
    ) -> set[str]:
        """Pass 1: remove ended approvals (and, where the backend can, their done effects),
        adding to `counts`; answers the ids removed (dry run: that would be)."""
        raise NotImplementedError

    async def _prune_effects(
        self, before: datetime, approval_ids: set[str], *, dry_run: bool
    ) -> int:
        """Pass 3: done effects of `approval_ids` not removed yet, and done effects of other
        subjects (none stored as an approval) due before `before`."""
        raise NotImplementedError

    async def _prune_audit(self, before: datetime, *, dry_run: bool) -> int:
        raise NotImplementedError

    async def prune(self, before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        if before.tzinfo is None:
            raise ValueError("the store only takes timezone-aware datetimes")
        counts = no_counts()
        approval_ids = await self._prune_approvals(before, dry_run=dry_run, counts=counts)
        if approval_ids:
            for kind in WITH_APPROVAL:
                counts[kind.name] = await self._prune_records(kind.prefix, approval_ids, dry_run)
        counts[EFFECTS] += await self._prune_effects(before, approval_ids, dry_run=dry_run)
        counts[AUDIT] = await self._prune_audit(before, dry_run=dry_run)
        return counts

    async def _prune_records(self, prefix: str, approval_ids: set[str], dry_run: bool) -> int:
        stored = await self._text_list(prefix)
        gone = [key for key in stored if key[len(prefix) :].partition(":")[0] in approval_ids]
        if dry_run:
            return len(gone)
        return sum([await self._text_delete(key) for key in gone])
