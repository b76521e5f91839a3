"""`python -m bot prune --older-than 90d [--dry-run]` as an operator runs it: a separate
process on the bot's SQLite file, configured like `serve`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.audit_log import AuditEntry
from bot.outbox import EffectKind, effect
from bot.store import SqliteStore
from bot.store.kinds import SNOOZES, SnoozeRecord
from bot.tracked_approvals import TrackedStatus
from tests.integration.store.support import tracked

REPO = Path(__file__).resolve().parents[2]
DAY = timedelta(days=1)


async def prune(database: Path, *args: str, **env: str) -> tuple[int, str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "OT_", "OPENTRAIN_", "REDIS_", "DATABASE_", "RETENTION_"))
    }
    environment |= {
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "prune",
        *args,
        cwd=REPO,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def fill(database: Path) -> None:
    """Through the store's own API, on the real clock (the command counts back from now)."""
    now = datetime.now(UTC)
    store = await SqliteStore.open(database)
    try:
        old = tracked(
            "apr_old",
            status=TrackedStatus.CONFIRMED,
            adopted_at=now - 200 * DAY,
            resolved_at=now - 190 * DAY,
        )
        await store.add_approval(old, [effect("apr_old", EffectKind.POST_CARD, now - 200 * DAY)])
        await store.complete_effect("apr_old:post_card", {"ts": "1.1", "channel": "C1"})
        recent = tracked(
            "apr_recent",
            status=TrackedStatus.DECLINED,
            adopted_at=now - 30 * DAY,
            resolved_at=now - 29 * DAY,
        )
        await store.add_approval(
            recent, [effect("apr_recent", EffectKind.POST_CARD, now - 30 * DAY)]
        )
        await store.complete_effect("apr_recent:post_card", None)
        await store.add_approval(tracked("apr_waiting", adopted_at=now - 200 * DAY))
        policy = effect("policy:req_1", EffectKind.POST_MESSAGE, now - 100 * DAY, key="card")
        await store.enqueue_effects([policy])
        await store.complete_effect(policy.id, None)
        await store.put_record(
            SNOOZES, "apr_old:U1", SnoozeRecord(at=now - 200 * DAY, until=now - 199 * DAY)
        )
        for at, approval_id in [(now - 195 * DAY, "apr_old"), (now - 10 * DAY, "apr_recent")]:
            await store.append_audit(
                AuditEntry(at=at, action="outcome", actor="bot", approval_id=approval_id)
            )
    finally:
        await store.close()


async def remaining(database: Path) -> dict[str, Any]:
    store = await SqliteStore.open(database)
    try:
        return {
            "approvals": sorted(a.approval_id for a in await store.list_approvals()),
            "effects": await store.count_effects(),
            "audit": [e.approval_id for e in await store.read_audit()],
            "snoozes": list(await store.list_records(SNOOZES)),
        }
    finally:
        await store.close()


EVERYTHING = {
    "approvals": ["apr_old", "apr_recent", "apr_waiting"],
    "effects": 3,
    "audit": ["apr_old", "apr_recent"],
    "snoozes": ["apr_old:U1"],
}
OLDER_THAN_90_DAYS = {"approvals": 1, "effects": 2, "audit": 1, "snooze": 1, "remind-now": 0}


async def test_prune_prints_what_it_removes_and_a_dry_run_removes_nothing(tmp_path: Path) -> None:
    database = tmp_path / "cosign.db"
    await fill(database)

    code, out, err = await prune(database, "--older-than", "90d", "--dry-run")
    assert code == 0, err
    report = json.loads(out)
    assert report["dry_run"] is True
    assert report["counts"] == OLDER_THAN_90_DAYS
    cutoff = datetime.fromisoformat(report["before"])
    assert abs(cutoff - (datetime.now(UTC) - 90 * DAY)) < timedelta(minutes=5)
    assert await remaining(database) == EVERYTHING

    code, out, err = await prune(database, "--older-than", "90d")
    assert code == 0, err
    report = json.loads(out)
    assert report["dry_run"] is False
    assert report["counts"] == OLDER_THAN_90_DAYS
    assert await remaining(database) == {
        "approvals": ["apr_recent", "apr_waiting"],
        "effects": 1,
        "audit": ["apr_recent"],
        "snoozes": [],
    }

    code, out, _ = await prune(database, "--older-than", "90d")
    assert code == 0
    assert set(json.loads(out)["counts"].values()) == {0}


async def test_prune_keeps_retention_days_by_default_and_refuses_less_than_a_day(
    tmp_path: Path,
) -> None:
    database = tmp_path / "cosign.db"
    await fill(database)

    # RETENTION_DAYS=150: the approval that ended 190 days ago goes, the rest are younger.
    code, out, err = await prune(database, "--dry-run", RETENTION_DAYS="150")
    assert code == 0, err
    counts = json.loads(out)["counts"]
    assert counts == {"approvals": 1, "effects": 1, "audit": 1, "snooze": 1, "remind-now": 0}

    code, out, err = await prune(database, "--older-than", "12h")
    assert code == 2 and out == ""
    assert "--older-than: at least 1d" in err
    code, _, err = await prune(database, "--older-than", "soon")
    assert code == 2 and "not a duration" in err
    assert await remaining(database) == EVERYTHING
