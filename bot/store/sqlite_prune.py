"""The SQLite store's `prune` passes (bot/store/pruning.py says what goes). Each batch is one
short `BEGIN IMMEDIATE` transaction; the pages between them are read by key, never by
offset, so a page costs the same however far the pass has gone."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from bot.store.pruning import APPROVALS, EFFECTS, PRUNE_BATCH, PruneOverParts, resolved_before
from bot.store.records import ParsedApprovals
from bot.store.sqlite_sql import iso

T = TypeVar("T")


def _subject(table: str) -> str:
    # Effects written before subjects existed name it `approval_id`.
    return (
        f"coalesce(json_extract({table}.record, '$.subject'),"
        f" json_extract({table}.record, '$.approval_id'))"
    )


# Not pending and adopted before the cutoff; whether resolved before it is read here too.
ENDED_PAGE = (
    "SELECT approval_id, version, adopted_at, json_extract(record, '$.resolved_at')"
    " FROM approvals WHERE status != 'pending' AND adopted_at < ?"
    " AND (adopted_at, approval_id) > (?, ?) ORDER BY adopted_at, approval_id LIMIT ?"
)
DELETE_ENDED = "DELETE FROM approvals WHERE approval_id = ? AND version = ? AND status != 'pending'"
# An approval's done effects, by their ids, which start with "<subject>:" (bot/outbox.py:
# `effect`): the range from "<id>:" to "<id>;" (";" follows ":"). `+done`: by the ids' index.
EFFECTS_OF = (
    "FROM effects WHERE effect_id > ? AND effect_id < ? AND +done = 1"
    f" AND {_subject('effects')} = ?"
)
# Done effects due before the cutoff, with whether an approval by their subject is stored.
DONE_PAGE = (
    "SELECT effects.effect_id, effects.due_at, approvals.approval_id IS NOT NULL"  # noqa: S608
    f" FROM effects LEFT JOIN approvals ON approvals.approval_id = {_subject('effects')}"
    " WHERE effects.done = 1 AND effects.due_at < ?"
    " AND (effects.due_at, effects.effect_id) > (?, ?)"
    " ORDER BY effects.due_at, effects.effect_id LIMIT ?"
)
DELETE_DONE = (
    "DELETE FROM effects WHERE effect_id = ? AND done = 1 AND NOT EXISTS"  # noqa: S608
    f" (SELECT 1 FROM approvals WHERE approvals.approval_id = {_subject('effects')})"
)
COUNT_AUDIT = "SELECT count(*) FROM audit WHERE at < ?"
DELETE_AUDIT = (
    "DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE at < ? ORDER BY at LIMIT ?)"
)


class SqlitePrune(PruneOverParts):
    """The prune passes of `SqliteStore` (whose worker thread runs every statement)."""

    if TYPE_CHECKING:

        async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

        _parsed: ParsedApprovals  # used on the worker thread only

    async def _prune_approvals(
        self, before: datetime, *, dry_run: bool, counts: dict[str, int]
    ) -> set[str]:
        cutoff = iso(before)
        pruned: set[str] = set()
        last = ("", "")
        while True:
            page = await self._read(partial(_rows, ENDED_PAGE, (cutoff, *last, PRUNE_BATCH)))
            ended = [(row[0], row[1]) for row in page if resolved_before(row[3], before)]
            if ended:
                if dry_run:
                    gone, effects = await self._read(partial(_count_ended, ended))
                else:
                    gone, effects = await self._write(partial(_delete_ended, ended, self._parsed))
                pruned.update(gone)
                counts[APPROVALS] += len(gone)
                counts[EFFECTS] += effects
            if len(page) < PRUNE_BATCH:
                return pruned
            last = (page[-1][2], page[-1][0])

    async def _prune_effects(
        self, before: datetime, approval_ids: set[str], *, dry_run: bool
    ) -> int:
        # `approval_ids`' effects went with them (pass 1), but for any whose id does not
        # start with its subject: with no approval stored, those go by their time below.
        cutoff = iso(before)
        pruned = 0
        last = ("", "")
        while True:
            page = await self._read(partial(_rows, DONE_PAGE, (cutoff, *last, PRUNE_BATCH)))
            orphans = [effect_id for effect_id, _, kept in page if not kept]
            if orphans and dry_run:
                pruned += len(orphans)
            elif orphans:
                pruned += await self._write(partial(_delete_done, orphans))
            if len(page) < PRUNE_BATCH:
                return pruned
            last = (page[-1][1], page[-1][0])

    async def _prune_audit(self, before: datetime, *, dry_run: bool) -> int:
        cutoff = iso(before)
        if dry_run:
            return int((await self._read(partial(_rows, COUNT_AUDIT, (cutoff,))))[0][0])
        pruned = 0
        while True:
            gone = await self._write(partial(_delete_audit, cutoff))
            pruned += gone
            if gone < PRUNE_BATCH:
                return pruned


def _rows(sql: str, params: tuple[object, ...], c: sqlite3.Connection) -> list[Any]:
    return c.execute(sql, params).fetchall()


def _delete_ended(
    ended: list[tuple[str, int]], parsed: ParsedApprovals, c: sqlite3.Connection
) -> tuple[list[str], int]:
    """Removes each approval still at the version read, with its done effects."""
    gone: list[str] = []
    effects = 0
    for approval_id, version in ended:
        if c.execute(DELETE_ENDED, (approval_id, version)).rowcount == 1:
            gone.append(approval_id)
            effects += c.execute(f"DELETE {EFFECTS_OF}", _id_range(approval_id)).rowcount
    parsed.forget(gone)
    return gone, effects


def _count_ended(ended: list[tuple[str, int]], c: sqlite3.Connection) -> tuple[list[str], int]:
    effects = 0
    for approval_id, _ in ended:
        count = c.execute(f"SELECT count(*) {EFFECTS_OF}", _id_range(approval_id)).fetchone()
        effects += int(count[0])
    return [approval_id for approval_id, _ in ended], effects


def _delete_done(effect_ids: list[str], c: sqlite3.Connection) -> int:
    return sum(c.execute(DELETE_DONE, (effect_id,)).rowcount for effect_id in effect_ids)


def _delete_audit(cutoff: str, c: sqlite3.Connection) -> int:
    return c.execute(DELETE_AUDIT, (cutoff, PRUNE_BATCH)).rowcount


def _id_range(approval_id: str) -> tuple[str, str, str]:
    return f"{approval_id}:", f"{approval_id};", approval_id
