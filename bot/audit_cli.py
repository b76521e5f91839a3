"""`python -m bot audit --since 7d --format jsonl`: export the audit log.

JSONL (the default) is one `AuditEntry` per line, oldest first, for tools;
`--format text` lines it up for people. `--since` counts back from the bot's
clock (the simulator's in the sandbox, so exported windows match the entries).
The log is read a page at a time (`Store.iter_audit`) and each page written as it
comes, so an export of any size holds one page in memory; `--approval` reads that
approval's history at once (`Store.read_audit`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TextIO

from bot.audit_log import AuditEntry
from bot.clock import make_clock
from bot.config import Settings
from bot.durations import parse_duration
from bot.store import Store, StoreUnavailable, open_store
from bot.store.base import AUDIT_PAGE


async def run_audit(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        window = parse_duration(args.since)
    except ValueError as exc:
        print(f"--since: {exc}", file=sys.stderr)
        return 2
    clock = make_clock(settings.sandbox_clock_url)
    try:
        await clock.sync()
        since = clock.now() - window
        store = await open_store(settings)
        try:
            await _export(store, args, since, out)
        finally:
            await store.close()
    except (StoreUnavailable, ValueError) as exc:
        print(f"cannot read the audit log: {exc}", file=sys.stderr)
        return 1
    finally:
        await clock.aclose()
    return 0


async def _export(store: Store, args: argparse.Namespace, since: datetime, out: TextIO) -> None:
    line = AuditEntry.model_dump_json if args.format == "jsonl" else text_line
    if args.approval is not None:
        for entry in await store.read_audit(approval_id=args.approval, since=since):
            print(line(entry), file=out)
        return
    written = 0
    async for entry in store.iter_audit(since=since):
        print(line(entry), file=out)
        written += 1
        if written % AUDIT_PAGE == 0:
            out.flush()


def text_line(entry: AuditEntry) -> str:
    details = json.dumps(entry.details, ensure_ascii=False, sort_keys=True)
    return (
        f"{entry.at.isoformat()}  {entry.action:<18} {entry.actor:<24} "
        f"{entry.approval_id or '-':<20} {details}"
    )
