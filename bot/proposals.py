"""A job's proposals, best first: what `/opentrain proposals` shows so nobody has to know an id.

OpenTrain lists a job's proposals newest first, a page at a time; the bot reads up to
`MAX_PAGES` pages and ranks them by interview score, then match score (both as OpenTrain
sends them: their scale differs between its doc pages, but not within one account), and
reads the ten shown whole, for their interview's summary.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from bot.opentrain import OpenTrainClient, Proposal

PAGE_SIZE = 25
MAX_PAGES = 4
DETAILED = 10  # as many as the list shows (bot/cards/proposals.py MAX_SHOWN)
# Without a status asked for, the proposals someone could still hire from.
CLOSED = frozenset({"HIRED", "DECLINED", "NOT_A_FIT"})


@dataclass(frozen=True)
class Listing:
    proposals: list[Proposal]  # best first
    more: bool  # OpenTrain has more than the pages read


async def job_proposals(client: OpenTrainClient, job_id: str, status: str | None) -> Listing:
    found: list[Proposal] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_proposals(job_id, status=status, cursor=cursor, limit=PAGE_SIZE)
        found += page.proposals
        cursor = page.next_cursor
        if not cursor:
            break
    if status is None:
        found = [p for p in found if _status(p) not in CLOSED]
    ranked = rank(found)
    # The list gives compact proposals; the ones shown are read whole for their interview's
    # summary (a failed read keeps the compact one: the list still works).
    detailed = await asyncio.gather(
        *(client.get_proposal(p.id) for p in ranked[:DETAILED]), return_exceptions=True
    )
    shown = [d if isinstance(d, Proposal) else p for p, d in zip(ranked, detailed, strict=False)]
    return Listing(shown + ranked[DETAILED:], more=bool(cursor))


def rank(proposals: list[Proposal]) -> list[Proposal]:
    """Best first: interview score, then match score; a missing score counts lowest."""

    def score(proposal: Proposal) -> tuple[Decimal, Decimal]:
        metrics = proposal.metrics
        interview = metrics.interview_score if metrics else None
        match = metrics.match_score if metrics else None
        low = Decimal("-1")
        return (interview if interview is not None else low, match if match is not None else low)

    return sorted(proposals, key=score, reverse=True)


def _status(proposal: Proposal) -> str:
    return (proposal.status.raw if proposal.status else "").upper()
