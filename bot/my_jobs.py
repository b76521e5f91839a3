"""The account's jobs for `/opentrain jobs`, newest first, so a job's proposals are one click
away without anyone knowing its id.

OpenTrain lists the account's jobs (drafts included) newest first, a page at a time, and
filters by one status; the bot reads up to `MAX_PAGES` pages. Without a status asked for,
the finished jobs (completed, archived) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.opentrain import MyJob, OpenTrainClient

PAGE_SIZE = 25
MAX_PAGES = 4
CLOSED = frozenset({"COMPLETED", "ARCHIVED"})


@dataclass(frozen=True)
class Listing:
    jobs: list[MyJob]  # newest first, as OpenTrain sends them
    more: bool  # OpenTrain has more than the pages read


async def my_jobs(client: OpenTrainClient, status: str | None) -> Listing:
    found: list[MyJob] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_my_jobs(status=status, cursor=cursor, limit=PAGE_SIZE)
        found += page.jobs
        cursor = page.next_cursor
        if not cursor:
            break
    if status is None:
        found = [job for job in found if (job.status or "").upper() not in CLOSED]
    return Listing(found, more=bool(cursor))
