"""Where a card goes: explicit channel → route for the job → route for the approval type → default.

Routes are stored (`/opentrain route …` manages them) under keys `job:<jobId>`
and `type:<approval type>`. A route is only accepted for a channel the bot can
post in (bot/channels.py, which joins a public one), because a card that cannot land
helps nobody.
"""

from __future__ import annotations

from datetime import datetime

from bot.audit_log import AuditEntry
from bot.opentrain import ApprovalType
from bot.store import Store

ROUTE_TYPES = {
    "hire": ApprovalType.PROPOSAL_HIRE,
    "fund": ApprovalType.MILESTONE_FUND,
    "payout": ApprovalType.MILESTONE_APPROVE,
    "end": ApprovalType.CONTRACT_END,
}


def route_key(target: str) -> str:
    """`job_123` → `job:job_123`; `hire`/`proposal_hire` → `type:proposal_hire`."""
    if target in ROUTE_TYPES:
        return f"type:{ROUTE_TYPES[target].value}"
    if target in {t.value for t in ApprovalType if t is not ApprovalType.UNKNOWN}:
        return f"type:{target}"
    return f"job:{target}"


def describe_key(key: str) -> str:
    """`job:job_1` → "job job_1"; `type:milestone_fund` → "fund requests"."""
    kind, _, value = key.partition(":")
    if kind == "type":
        words = {t.value: word for word, t in ROUTE_TYPES.items()}
        return f"{words.get(value, value)} requests"
    return f"job {value}"


class Router:
    def __init__(self, store: Store, default_channel: str | None) -> None:
        self._store = store
        self._default = default_channel

    async def resolve(
        self, *, explicit: str | None, job_id: str | None, approval_type: ApprovalType
    ) -> str | None:
        if explicit:
            return explicit
        if job_id:
            channel = await self._store.get_route(f"job:{job_id}")
            if channel:
                return channel
        channel = await self._store.get_route(f"type:{approval_type.value}")
        return channel or self._default

    async def set_route(self, key: str, channel_id: str, *, actor: str, at: datetime) -> None:
        await self._store.set_route(key, channel_id)
        await self._audit("route_set", actor, at, key=key, channel=channel_id)

    async def remove_route(self, key: str, *, actor: str, at: datetime) -> bool:
        removed = await self._store.delete_route(key)
        if removed:
            await self._audit("route_removed", actor, at, key=key)
        return removed

    async def routes(self) -> dict[str, str]:
        return await self._store.list_routes()

    async def _audit(self, action: str, actor: str, at: datetime, **details: object) -> None:
        await self._store.append_audit(
            AuditEntry(at=at, action=action, actor=actor, details=dict(details))
        )
