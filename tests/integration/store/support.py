"""What the store contract modules share: records to store, and one backend's instances."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.opentrain.models import ApprovalType
from bot.outbox import Effect, EffectKind
from bot.store import Store
from bot.tracked_approvals import Requester, TrackedApproval, TrackedStatus

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
TINY = timedelta(milliseconds=50)


def tracked(
    approval_id: str = "apr_1",
    *,
    status: TrackedStatus = TrackedStatus.PENDING,
    adopted_at: datetime = T0,
    next_check_at: datetime = T0 + timedelta(hours=1),
    proposal_id: str | None = None,
    **changes: Any,
) -> TrackedApproval:
    return TrackedApproval(
        approval_id=approval_id,
        type=ApprovalType.PROPOSAL_HIRE,
        status=status,
        approval_url=f"https://app.opentrain.ai/approvals/{approval_id}",
        expires_at=T0 + timedelta(days=3),
        requester=Requester(kind="slack", id="U123"),
        proposal_id=proposal_id,
        next_check_at=next_check_at,
        adopted_at=adopted_at,
        **changes,
    )


async def is_none(value: Awaitable[object]) -> bool:
    return await value is None


def outbox_item(effect_id: str, due_at: datetime = T0, subject: str = "apr_1") -> Effect:
    return Effect(id=effect_id, subject=subject, kind=EffectKind.UPDATE_CARD, due_at=due_at)


class Backend:
    """Opens store instances on one backend; each instance stands for one bot process."""

    def __init__(self, kind: str, opener: Callable[[], Awaitable[Store]]) -> None:
        self.kind = kind
        self._opener = opener
        self._opened: list[Store] = []

    async def open(self) -> Store:
        store = await self._opener()
        self._opened.append(store)
        return store

    async def close_all(self) -> None:
        for store in self._opened:
            await store.close()
