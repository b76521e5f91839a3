"""DM reminders to approvers before an approval expires.

Every tick looks at the pending approvals whose reminders may be due (the store's
reminder watch: bot/store/pending_index.py), works out for each approver which
reminder is due (`bot.reminder_times`, in their Slack time zone) and queues it
as a `REMINDER_DM` outbox effect whose id names the approval, the approver and
the reminder. Enqueuing is idempotent on that id, so each reminder is sent at
most once across ticks, restarts and replicas; the notifier skips reminders of
approvals that have resolved meanwhile. Approvers who cannot get a DM
(deactivated, bots) are skipped, and that is audited once per reminder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from slack_sdk.errors import SlackApiError

from bot.approver_lists import Approvers, Lookups
from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.config import Settings
from bot.logs import log_kv
from bot.outbox import Effect, EffectKind, effect
from bot.people import People, Person
from bot.reminder_times import Reminder, Snooze, due, plan
from bot.store import Store
from bot.store.kinds import REMIND_PRESSES, SNOOZES, Press, SnoozeRecord
from bot.store.pending_index import Watch
from bot.tracked_approvals import TrackedApproval, TrackedStatus

log = logging.getLogger(__name__)

SNOOZE_FOR = timedelta(hours=4)
REMIND_NOW_EVERY = timedelta(hours=1)
# Once-keys outlive any approval (72 h) so a skip is audited once, not every tick.
SKIP_AUDIT_TTL = timedelta(days=7)
# A second replica pressing at the same moment loses this key and reports the throttle.
REMIND_NOW_CLAIM_TTL = timedelta(hours=1)
# A tick reads the approvals whose reminder watch has come this many at a time.
WATCH_BATCH = 500
# A reminder postponed by an error is looked at again on the next tick.
NEXT_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class RemindNow:
    """What pressing "Remind approvers" did."""

    status: Literal["sent", "throttled", "not_pending"]
    reminded: tuple[str, ...] = ()
    throttled_until: datetime | None = None


@dataclass(frozen=True)
class Snoozed:
    """What pressing "Snooze" did: the approver's next reminder now, in their time zone."""

    pending: bool
    next_reminder: Reminder | None = None
    tz: tzinfo | None = None


class Reminders:
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
        self._settings = settings
        self._approvers = approvers
        self._people = people
        self._on_effects = on_effects  # wakes the notifier's outbox drain
        # Effect ids this process already queued (or skipped), so a tick does not
        # write the same reminder to the store again every 30 s until the next one.
        self._settled: set[str] = set()
        self._tiers_version: str | None = None  # the tiers the reminder watches were set for

    # --- scheduled reminders --------------------------------------------------------
    async def tick(self) -> int:
        """Queue every reminder that is due; returns how many were queued.

        Looks only at the approvals whose reminder watch has come (the store's pending
        index), and sets each one's watch to the next time one of its reminders can be
        due. After the tiers changed (or when this process starts) every pending approval
        is looked at once; snoozed ones are looked at every tick.
        """
        now = self._clock.now()
        snoozes = await self._snoozes()
        version = await self._approvers.version()
        if version != self._tiers_version:
            await self._store.watch_all(Watch.REMINDERS)
            self._tiers_version = version
        settled: set[str] = set()
        seen = Lookups()
        queued = 0
        looked: set[str] = set()
        while batch := await self._store.watched(Watch.REMINDERS, now, limit=WATCH_BATCH):
            watches: dict[str, datetime | None] = {}
            for approval in batch:
                looked.add(approval.approval_id)
                sent, watches[approval.approval_id] = await self._look(
                    approval, now, snoozes, seen, settled
                )
                queued += sent
            # Every time set is after `now`, so the loop ends.
            await self._store.set_watches(Watch.REMINDERS, watches)
        # A snooze's end is a reminder time the watch may not have known when it was set.
        for approval_id in sorted({key.rsplit(":", 1)[0] for key in snoozes} - looked):
            snoozed = await self._store.get_approval(approval_id)
            if snoozed is not None and snoozed.status is TrackedStatus.PENDING:
                queued += (await self._look(snoozed, now, snoozes, seen, settled))[0]
        self._settled = settled
        if queued:
            self._on_effects()
        return queued

    async def _look(
        self,
        approval: TrackedApproval,
        now: datetime,
        snoozes: dict[str, Snooze],
        seen: Lookups,
        settled: set[str],
    ) -> tuple[int, datetime | None]:
        """Queue the reminders of `approval` due at `now`; and the next time one can be due
        (None: never again, unless an escalation or the tiers change who is reminded)."""
        if now >= approval.expires_at:
            return 0, None
        queued = 0
        # Before quiet hours and snoozes move them: no approver's reminder comes earlier.
        upcoming = [approval.expires_at - offset for offset in self._settings.reminder_offsets]
        try:
            for user in await self._approvers.to_remind(approval, seen):
                person = await self._people.person(user)
                snooze = snoozes.get(f"{approval.approval_id}:{user}")
                reminders = self._plan(approval, person.tz, snooze)
                upcoming += [reminder.due_at for reminder in reminders]
                queued += await self._remind_if_due(approval, user, person, reminders, now, settled)
        except SlackApiError as exc:
            log.warning(
                "reminder postponed %s",
                log_kv(approval_id=approval.approval_id, error=exc.response.get("error")),
            )
            upcoming.append(now + NEXT_TICK)
        return queued, min((at for at in upcoming if at > now), default=None)

    async def _remind_if_due(
        self,
        approval: TrackedApproval,
        user: str,
        person: Person,
        reminders: list[Reminder],
        now: datetime,
        settled: set[str],
    ) -> int:
        reminder = due(reminders, now, approval.expires_at)
        if reminder is None:
            return 0
        item = self._effect(approval, user, reminder.slot, final=reminder.final, now=now)
        # A store error below ends the tick before `settled` replaces `_settled`.
        settled.add(item.id)
        if item.id in self._settled:
            return 0
        why_not = person.unreachable
        if why_not is not None:
            await self._skipped(approval, user, item, why_not, now)
            return 0
        return await self._queue(approval, item, reminder, actor="bot", now=now)

    # --- "Remind approvers" on the card ---------------------------------------------
    async def remind_now(self, approval_id: str, *, by_user: str) -> RemindNow:
        """DM every approver now, at most once an hour per approval (on the bot's clock)."""
        approval = await self._store.get_approval(approval_id)
        if approval is None or approval.status is not TrackedStatus.PENDING:
            return RemindNow("not_pending")
        approvers = await self._approvers.to_remind(approval)
        if not approvers:
            return RemindNow("sent")  # nobody to remind; pressing again later must work
        now = self._clock.now()
        press = await self._store.get_record(REMIND_PRESSES, approval_id)
        last = press.at if press is not None else None
        if last is not None and now < last + REMIND_NOW_EVERY:
            return RemindNow("throttled", throttled_until=last + REMIND_NOW_EVERY)
        # The key names the press it follows, so two replicas reading the same last
        # press race for one key and exactly one of them reminds.
        since = last.isoformat() if last is not None else "never"
        if not await self._store.claim_key(
            f"remind-now:{approval_id}:{since}", REMIND_NOW_CLAIM_TTL
        ):
            return RemindNow("throttled", throttled_until=now + REMIND_NOW_EVERY)
        await self._store.put_record(REMIND_PRESSES, approval_id, Press(at=now, by=by_user))
        reminded: list[str] = []
        slot = f"manual-{int(now.timestamp())}"
        for user in approvers:
            item = self._effect(approval, user, slot, final=False, now=now)
            person = await self._people.person(user)
            why_not = person.unreachable
            if why_not is not None:
                await self._skipped(approval, user, item, why_not, now)
                continue
            reminder = Reminder(slot, now, final=False)
            await self._queue(approval, item, reminder, actor=f"slack:{by_user}", now=now)
            reminded.append(user)
        if reminded:
            self._on_effects()
        return RemindNow("sent", reminded=tuple(reminded))

    # --- "Snooze 4 h" in a reminder DM ---------------------------------------------------
    async def snooze(self, approval_id: str, user_id: str) -> Snoozed:
        """Postpone `user_id`'s non-final reminders for 4 h; the last reminder still goes."""
        approval = await self._store.get_approval(approval_id)
        if approval is None or approval.status is not TrackedStatus.PENDING:
            return Snoozed(pending=False)
        now = self._clock.now()
        snooze = Snooze(at=now, until=now + SNOOZE_FOR)
        await self._store.put_record(
            SNOOZES, f"{approval_id}:{user_id}", SnoozeRecord(at=snooze.at, until=snooze.until)
        )
        await self._audit(
            "snooze", approval, f"slack:{user_id}", now, until=snooze.until.isoformat()
        )
        person = await self._people.person(user_id)
        upcoming = [r for r in self._plan(approval, person.tz, snooze) if r.due_at > now]
        return Snoozed(pending=True, next_reminder=upcoming[0] if upcoming else None, tz=person.tz)

    # --- shared steps --------------------------------------------------------------------
    def _plan(self, approval: TrackedApproval, tz: tzinfo, snooze: Snooze | None) -> list[Reminder]:
        return plan(
            approval.expires_at,
            adopted_at=approval.adopted_at,
            offsets=self._settings.reminder_offsets,
            tz=tz,
            quiet=self._settings.quiet_window,
            snooze=snooze,
        )

    def _effect(
        self, approval: TrackedApproval, user: str, slot: str, *, final: bool, now: datetime
    ) -> Effect:
        return effect(
            approval.approval_id,
            EffectKind.REMINDER_DM,
            now,
            key=f"{user}:{slot}",
            payload={"user": user, "final": final, "permalink": approval.card_permalink},
        )

    async def _queue(
        self,
        approval: TrackedApproval,
        item: Effect,
        reminder: Reminder,
        *,
        actor: str,
        now: datetime,
    ) -> int:
        """Enqueue one reminder; only the process that added it audits it."""
        if not await self._store.enqueue_effects([item]):
            return 0
        await self._audit(
            "reminder",
            approval,
            actor,
            now,
            user=item.payload["user"],
            slot=reminder.slot,
            final=reminder.final,
            due_at=reminder.due_at.isoformat(),
        )
        return 1

    async def _skipped(
        self, approval: TrackedApproval, user: str, item: Effect, why: str, now: datetime
    ) -> None:
        if await self._store.claim_key(f"reminder-skipped:{item.id}", SKIP_AUDIT_TTL):
            await self._audit("reminder_skipped", approval, "bot", now, user=user, reason=why)

    async def _snoozes(self) -> dict[str, Snooze]:
        """Every stored snooze by "<approval id>:<user id>"."""
        stored = await self._store.list_records(SNOOZES)
        return {key: Snooze(record.at, record.until) for key, record in stored.items()}

    async def _audit(
        self, action: str, approval: TrackedApproval, actor: str, now: datetime, **details: Any
    ) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=now,
                action=action,
                actor=actor,
                approval_id=approval.approval_id,
                details=details,
            )
        )
