"""`python -m bot prune --older-than 90d [--dry-run]`: what the retention job removes, now.

Uses the store `serve` uses (DATABASE_URL or REDIS_URL) and its `Store.prune` (what goes:
bot/store/pruning.py). Prints one JSON object on one line:
`{"dry_run": false, "before": "<ISO time>", "counts": {"approvals": 3, "effects": 12,
"audit": 40, "snooze": 0, "remind-now": 0}}` — how many went (with `--dry-run`: would go)
per part and per record kind. `--older-than` defaults to RETENTION_DAYS and counts back
from the bot's clock; less than a day is refused (a done effect is what stops the same
message from being sent twice while it may still be asked for).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import TextIO

from bot.clock import make_clock
from bot.config import Settings
from bot.durations import parse_duration
from bot.store import StoreUnavailable, open_store

SHORTEST = timedelta(days=1)


async def run_prune(settings: Settings, args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    try:
        older_than = (
            timedelta(days=settings.retention_days)
            if args.older_than is None
            else parse_duration(args.older_than)
        )
    except ValueError as exc:
        print(f"--older-than: {exc}", file=sys.stderr)
        return 2
    if older_than < SHORTEST:
        print("--older-than: at least 1d", file=sys.stderr)
        return 2
    clock = make_clock(settings.sandbox_clock_url)
    try:
        await clock.sync()
        before = clock.now() - older_than
        store = await open_store(settings)
        try:
            counts = await store.prune(before, dry_run=args.dry_run)
        finally:
            await store.close()
    except (StoreUnavailable, ValueError) as exc:
        print(f"cannot prune the store: {exc}", file=sys.stderr)
        return 1
    finally:
        await clock.aclose()
    report = {"dry_run": args.dry_run, "before": before.isoformat(), "counts": counts}
    print(json.dumps(report), file=out)
    return 0
