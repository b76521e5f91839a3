"""`python -m bot audit --since 7d --format jsonl`: export the audit log.

JSONL (the default) is one `AuditEntry` per line, oldest first, for tools;
`--format text` lines it up for people. `--since` counts back from the bot's
clock (the simulator's in the sandbox, so exported windows match the entries).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from bot.audit_log import AuditEntry
from bot.clock import make_clock
from bot.config import Settings
from bot.durations import parse_duration
from bot.store import StoreUnavailable, open_store


async def run_audit(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        window = parse_duration(args.since)
    except ValueError as exc:
        print(f"--since: {exc}", file=sys.stderr)
        return 2
    clock = make_clock(settings.sandbox_clock_url)
    await clock.sync()
    since = clock.now() - window
    try:
        store = await open_store(settings)
        try:
            entries = await store.read_audit(approval_id=args.approval, since=since)
        finally:
            await store.close()
    except (StoreUnavailable, ValueError) as exc:
        print(f"cannot read the audit log: {exc}", file=sys.stderr)
        return 1
    for entry in entries:
        print(entry.model_dump_json() if args.format == "jsonl" else text_line(entry), file=out)
    return 0


def text_line(entry: AuditEntry) -> str:
    details = json.dumps(entry.details, ensure_ascii=False, sort_keys=True)
    return (
        f"{entry.at.isoformat()}  {entry.action:<18} {entry.actor:<24} "
        f"{entry.approval_id or '-':<20} {details}"
    )
