"""Escalation: when nobody acts on an approval, the next approver tier hears of it.

Each tick (only while some escalation delay is configured: ESCALATE_AFTER or a
tier's own) looks at the pending approvals whose next step may be due (the store's
escalation watch: bot/store/pending_index.py); an approval's tier ladder gives its
escalation steps (bot/approver_tiers.py). A step that is due and not yet recorded on
the approval is recorded there by a compare-and-set write of the approval that
enqueues, in the same write:
- a DM to each person of the level told (a `REMINDER_DM` naming the escalation),
  held back by their quiet hours except within the last 2 h before expiry;
- the card re-rendered ("Escalated to @cfo after 24 h"), one line in its thread,
  and the Home tabs of everyone who sees it refreshed.
So each level is escalated once, on one replica, and a restart finds it done. Snoozes
do not hold an escalation back; the requester is never told to approve their own
request (four eyes). Every escalation is audited once, by the process that wrote it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot import cards
from bot.approver_lists import Approvers, Lookups, others
from bot.approver_tiers import Step, escalation_steps, send_at
from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.config import Settings
from bot.logs import log_kv
from bot.money import usd_text
from bot.outbox import Effect, EffectKind, effect
from bot.people import People
from bot.store import Store
from bot.store.pending_index import Watch
from bot.tracked_approvals import Escalation, TrackedApproval, TrackedStatus

log = logging.getLogger(__name__)

WRITE_TRIES = 5
# A tick reads the approvals whose escalation watch has come this many at a time.
WATCH_BATCH = 500
# An escalation postponed by an error is looked at again on the next tick.
NEXT_TICK = timedelta(microseconds=1)


class Escalations:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        settings: Settings,
        approvers: Approvers,
        people: People,
        on_effects: Callable[[], None],
    ) -> None:
        self._store = store
        self._clock = clock
        self._quiet = settings.quiet_window
        self._approvers = approvers
        self._people = people
        self._on_effects = on_effects  # wakes the notifier's outbox drain
        self._tiers_version: str | None = None  # the tiers the escalation watches were set for

    async def tick(self) -> int:
        """Escalate every level that is due; returns how many levels were escalated.

        Looks only at the approvals whose escalation watch has come (the store's pending
        index) and sets each one's to its next step; after the tiers changed (or when
        this process starts) every pending approval is looked at once.
        """
        if not await self._configured():
            return 0
        now = self._clock.now()
        version = await self._approvers.version()
        if version != self._tiers_version:
            await self._store.watch_all(Watch.ESCALATIONS)
            self._tiers_version = version
        seen = Lookups()
        escalated = 0
        while batch := await self._store.watched(Watch.ESCALATIONS, now, limit=WATCH_BATCH):
            watches: dict[str, datetime | None] = {}
            for approval in batch:
                told, watches[approval.approval_id] = await self._look(approval, now, seen)
                escalated += told
            # Every time set is after `now`, so the loop ends.
            await self._store.set_watches(Watch.ESCALATIONS, watches)
        if escalated:
            self._on_effects()
        return escalated

    async def _look(
        self, approval: TrackedApproval, now: datetime, seen: Lookups
    ) -> tuple[int, datetime | None]:
        """Escalate what is due of `approval`; and when its next step is due (None: never)."""
        if now >= approval.expires_at:
            return 0, None
        try:
            due = await self._due(approval, now, seen)
            told = await self._escalate(approval, now, seen) if due else 0
            later = await self._steps(approval, seen)
        except SlackApiError as exc:  # who is who could not be read: the next tick tries
            error = exc.response.get("error")
            log.warning(
                "escalation postponed %s", log_kv(approval_id=approval.approval_id, error=error)
            )
            return 0, now + NEXT_TICK
        if due and not told:  # not written (or another process did): look again next tick
            return 0, now + NEXT_TICK
        if told:
            # The levels told are reminded too, from the reminder just due for them on.
            await self._store.set_watches(Watch.REMINDERS, {approval.approval_id: now})
        return told, min((step.due_at for step in later if step.due_at > now), default=None)

    async def _configured(self) -> bool:
        """Whether any delay is set, so an idle bot reads no approvals for nothing."""
        if self._approvers.escalate_after is not None:
            return True
        scopes = (await self._approvers.all()).values()
        return any(tier.escalate_after for tiers in scopes for tier in tiers.tiers)

    async def _due(self, approval: TrackedApproval, now: datetime, seen: Lookups) -> list[Step]:
        """The steps of `approval` that are due and not recorded yet."""
        done = {escalation.level for escalation in approval.escalations}
        steps = await self._steps(approval, seen)
        return [step for step in steps if step.due_at <= now and step.level not in done]

    async def _steps(self, approval: TrackedApproval, seen: Lookups) -> list[Step]:
        placement = await self._approvers.placement(approval, seen)
        return escalation_steps(
            placement.tiers, placement.level, approval.adopted_at, self._approvers.escalate_after
        )

    async def _escalate(self, approval: TrackedApproval, now: datetime, seen: Lookups) -> int:
        """Record the due levels on `approval` with their effects; 0 if another process did."""
        current: TrackedApproval | None = approval
        for _ in range(WRITE_TRIES):
            if current is None or current.status is not TrackedStatus.PENDING:
                return 0
            due = await self._due(current, now, seen)
            if not due:
                return 0
            told = tuple(_record(step, now) for step in due)
            updated = current.evolve(escalations=(*current.escalations, *told))
            effects, skipped = await self._effects(updated, told, seen, now)
            if await self._store.transition(
                current.approval_id, TrackedStatus.PENDING, updated, effects
            ):
                for escalation in told:
                    unreached = skipped.get(escalation.level, [])
                    await self._audit(updated, escalation, effects, unreached, now)
                return len(told)
            current = await self._store.get_approval(approval.approval_id)
        log.warning("escalation not written %s", log_kv(approval_id=approval.approval_id))
        return 0

    async def _effects(
        self,
        approval: TrackedApproval,
        told: Sequence[Escalation],
        seen: Lookups,
        now: datetime,
    ) -> tuple[list[Effect], dict[int, list[str]]]:
        """The DMs, card update, thread line and Home refresh of `told`; and per level who
        could not be reached (deactivated, bots)."""
        effects: list[Effect] = []
        skipped: dict[int, list[str]] = {}
        for escalation in told:
            for user in await self._told(approval, escalation, seen):
                person = await self._people.person(user)
                if person.unreachable is not None:
                    skipped.setdefault(escalation.level, []).append(user)
                    continue
                due_at = approval.adopted_at + escalation.waited  # not when it was written
                at = send_at(due_at, approval.expires_at, person.tz, self._quiet)
                effects.append(_dm(approval, escalation, user, max(now, at)))
            key = f"escalation-{escalation.level}"
            id_ = approval.approval_id
            if approval.channel_id is not None:
                effects.append(effect(id_, EffectKind.UPDATE_CARD, now, key=key))
                line = cards.escalation_reply(escalation).as_kwargs()
                parent = effect(id_, EffectKind.POST_CARD, now).id
                payload = {"channel": approval.channel_id, "thread_of": parent, "message": line}
                effects.append(effect(id_, EffectKind.POST_MESSAGE, now, key=key, payload=payload))
            effects.append(effect(id_, EffectKind.REFRESH_HOME, now, key=key))
        return effects, skipped

    async def _told(
        self, approval: TrackedApproval, escalation: Escalation, seen: Lookups
    ) -> list[str]:
        """The people of the level told (the admins past the top tier), but the requester."""
        if escalation.to:
            return others(await self._approvers.expand(escalation.to, seen), approval)
        return others(await self._approvers.admins(seen), approval)

    async def _audit(
        self,
        approval: TrackedApproval,
        escalation: Escalation,
        effects: Sequence[Effect],
        skipped: Sequence[str],
        now: datetime,
    ) -> None:
        dms = [
            str(item.payload["user"])
            for item in effects
            if item.kind is EffectKind.REMINDER_DM
            and item.payload.get("escalation") == escalation.level
        ]
        await self._store.append_audit(
            AuditEntry(
                at=now,
                action="escalated",
                actor="bot",
                approval_id=approval.approval_id,
                details={
                    "level": escalation.level,
                    "to": list(escalation.to) or "admins",
                    "over": usd_text(escalation.over),
                    "waitedSeconds": int(escalation.waited.total_seconds()),
                    "dms": dms,
                    **({"unreachable": list(skipped)} if skipped else {}),
                },
            )
        )


def _record(step: Step, now: datetime) -> Escalation:
    if step.to is None:
        return Escalation(level=step.level, waited=step.waited, at=now)
    tier = step.to.tier
    return Escalation(level=step.level, to=tier.members, over=tier.over, waited=step.waited, at=now)


def _dm(approval: TrackedApproval, escalation: Escalation, user: str, due: datetime) -> Effect:
    return effect(
        approval.approval_id,
        EffectKind.REMINDER_DM,
        due,
        key=f"{user}:escalation-{escalation.level}",
        payload={
            "user": user,
            "final": False,
            "permalink": approval.card_permalink,
            "escalation": escalation.level,
        },
    )
