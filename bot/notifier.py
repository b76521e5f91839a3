"""The only writer of bot-owned Slack messages: drains the store's outbox of effects.

Each effect (post a card, update it, one thread reply, a DM) is claimed from the
store with a lease, so one process works it at a time, and completed with the
Slack `ts` it produced. Every message we post carries metadata naming its
effect id; an effect retried after a crash first looks for that metadata in the
channel (or thread) and records what it finds instead of posting twice. Listeners
queue their messages here too (`queue_message`, `queue_unfurl`, the DM behind an
`ephemeral`).

Failures: 429 pauses that method (and channel) for `Retry-After` and tries
again; 5xx, timeouts and connection errors retry with backoff, a bounded number
of times; `not_in_channel` joins the channel again (bot/channels.py) and retries once;
a channel we cannot post in (`channel_not_found`, `is_archived`, a private channel we
were removed from, a deleted card, …) is audited and the requester gets the message
as a DM instead — never an endless loop.

CALLBACK effects (an agent's `callbackUrl`) are not Slack's: they go to bot/callbacks.py,
which decides their retries itself, in lanes of their own per host.

What each effect does in Slack is bot/deliveries.py; this module decides what
happens when that fails. Posts go through the gateway's client without automatic
retries (bot/slack_gateway.py): the SDK's retry of a `chat.postMessage` that failed
with a 5xx or a dropped connection would post again without looking, and Slack may
have posted the first one.

A delivery never outlives its claim: it runs under a deadline inside the claim and
stops before posting when too little of it is left, leaving the effect to the next claim.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot import cards
from bot.clock import Clock
from bot.deliveries import (
    CLAIM_LEASE,
    POST_MARGIN,
    RECIPIENT_UNREACHABLE,
    ClaimLapsing,
    Deliveries,
    NoCard,
    NotYet,
    audit_effect,
    unreachable,
)
from bot.earlier_posts import Unsure
from bot.lanes import Lanes
from bot.logs import log_kv
from bot.outbox import Effect, EffectKind, effect
from bot.pacing import rate_limit_wait
from bot.slack_gateway import SlackGateway
from bot.store import Store

log = logging.getLogger(__name__)

# A claimed batch is this process's for CLAIM_LEASE (bot/deliveries.py); a lane starts
# no new effect once less than LEASE_MARGIN (bot/lanes.py) is left, and a delivery stops
# before posting once less than POST_MARGIN is left, so each delivery ends before another
# process may claim it. After a crash, what the dead process held waits out the lease.
DRAIN_BATCH = 50
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 300
NOT_YET_DELAY = timedelta(seconds=2)
# A 429 is waited out in the lane this many times, if Slack asks for at most
# INLINE_RETRY_AFTER seconds; otherwise the effect is postponed (not a failure).
RATE_LIMITED_INLINE = 3
INLINE_RETRY_AFTER = 30
# Errors that will not fix themselves by retrying this effect.
CHANNEL_GONE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "message_not_found",
        "cant_update_message",
        "thread_not_found",  # the card was deleted before its reply went out
    }
)
UNDELIVERABLE = frozenset(
    {
        *RECIPIENT_UNREACHABLE,
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "invalid_metadata_format",
    }
)


# Within a channel the card comes first and tells the truth before its thread does.
KIND_ORDER = [
    EffectKind.POST_CARD,
    EffectKind.POST_MESSAGE,
    EffectKind.UPDATE_MESSAGE,
    EffectKind.UNFURL,
    EffectKind.UPDATE_CARD,
    EffectKind.OUTCOME_REPLY,
    EffectKind.REQUESTER_DM,
    EffectKind.REMINDER_DM,
    EffectKind.RETIRE_DMS,
    EffectKind.REFRESH_HOME,
    EffectKind.CALLBACK,
]


class Notifier:
    def __init__(
        self,
        *,
        store: Store,
        gateway: SlackGateway,
        deliveries: Deliveries,
        clock: Clock,
        owner: str,
        callbacks: Callable[[Effect], Awaitable[None]],
        on_effects: Callable[[], None] = lambda: None,
        on_delivered: Callable[[Effect], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._deliveries = deliveries
        self._clock = clock
        self._owner = owner
        self._callbacks = callbacks  # CALLBACK effects are not Slack's: bot/callbacks.py
        self._on_effects = on_effects  # effects were queued: drain soon
        self._on_delivered = on_delivered  # the metrics' outcome latency (bot/metrics.py)
        self._landed: dict[str, asyncio.Event] = {}  # only effects someone waits for

    @property
    def slack_failing(self) -> bool:
        """Whether this process's last Slack call failed (network error or 5xx).

        Cleared by the next call Slack answers; no call is made to find out.
        """
        return self._gateway.health.failing

    # --- draining -------------------------------------------------------------
    async def drain(self) -> int:
        """Deliver every due effect, in lanes per channel or DM; returns how many were claimed.

        While the outbox holds more than a batch, lanes are topped up with new claims
        as they work (once at most half of DRAIN_BATCH is left in hand), not batch
        after batch: a lane waiting for its channel's posting pace or a Home tab never
        leaves the others idle, so a burst keeps Slack's whole rate budget in use.
        """
        claimed_at: dict[str, float] = {}  # effect id → when its claim returned (monotonic)
        lanes = Lanes(lambda item: self._work(item, claimed_at[item.id]), self._clock)
        more = True  # the last claim was full: the outbox may hold more
        try:
            while True:
                if lanes.idle or (more and lanes.in_hand <= DRAIN_BATCH // 2):
                    room = DRAIN_BATCH - lanes.in_hand
                    batch = await self._store.claim_effects(
                        self._clock.now(), self._owner, limit=room, lease=CLAIM_LEASE
                    )
                    more = len(batch) == room
                    returned = time.monotonic()
                    claimed_at.update((item.id, returned) for item in batch)
                    for item in sorted(batch, key=lambda e: (e.due_at, KIND_ORDER.index(e.kind))):
                        lanes.add(await self._lane_of(item), item)
                    if lanes.idle:
                        return lanes.claimed
                await lanes.progress()
        finally:
            await lanes.close()

    async def _lane_of(self, item: Effect) -> str:
        if item.kind is EffectKind.CALLBACK:  # a lane per receiving host, beside Slack's
            return f"callback:{item.payload.get('host') or item.subject}"
        channel = await self._deliveries.channel_of(item)
        return f"channel:{channel}" if channel else f"dm:{item.payload.get('user', item.subject)}"

    async def _work(self, item: Effect, claimed_at: float) -> None:
        # In real time too: a pacing wait must not carry a post past the claim.
        left = (item.due_at - self._clock.now() - POST_MARGIN).total_seconds()
        try:
            async with asyncio.timeout(max(left, 0)):
                if item.kind is EffectKind.CALLBACK:
                    await self._callbacks(item)  # its own retries and failures
                else:
                    await self._work_once(item, claimed_at)
        except (TimeoutError, ClaimLapsing):
            # Its claim ends soon: the next claim (here or elsewhere) looks before posting.
            log.warning("slack effect left at its claim's end %s", log_kv(effect=item.id))
        except Exception as exc:  # a bug or a store outage must not stall the other lanes
            log.exception("slack effect failed unexpectedly %s", log_kv(effect=item.id))
            try:
                await self._retry_with_backoff(item, f"unexpected: {type(exc).__name__}")
            except Exception:
                log.exception("could not reschedule %s", log_kv(effect=item.id))

    async def _work_once(self, item: Effect, claimed_at: float) -> None:
        rate_limited = 0
        rejoined = False
        while True:
            try:
                result = await self._deliveries.deliver(item, claimed_at)
            except NotYet:
                await self._store.retry_effect(
                    item.id,
                    self._clock.now() + NOT_YET_DELAY,
                    "waiting for the card",
                    count_attempt=False,
                )
                return
            except NoCard as exc:
                await self._channel_unavailable(item, exc.error)
                return
            except Unsure as exc:
                await self._unsure(item, exc)
                return
            except SlackApiError as exc:
                if exc.response.get("error") == "not_in_channel" and not rejoined:
                    rejoined = True  # removed since we last looked: join again, then retry
                    try:
                        await self._deliveries.rejoin(item)
                    except NoCard as gone:
                        await self._channel_unavailable(item, gone.error)
                        return
                    continue
                retry_after = rate_limit_wait(exc)
                if retry_after is None:
                    await self._failed(item, exc)
                    return
                rate_limited += 1
                resume = self._clock.now() + timedelta(seconds=retry_after)
                if (
                    rate_limited > RATE_LIMITED_INLINE
                    or retry_after > INLINE_RETRY_AFTER
                    or resume > item.due_at - POST_MARGIN
                ):
                    await self._store.retry_effect(
                        item.id, self._later(retry_after), "ratelimited", count_attempt=False
                    )
                    return
                continue  # the pacer holds this method until Retry-After has passed
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                await self._retry_with_backoff(item, f"network: {type(exc).__name__}")
                return
            await self._store.complete_effect(item.id, result)
            log.info("slack effect delivered %s", log_kv(effect=item.id, kind=item.kind.value))
            self._signal_landed(item.id)
            if self._on_delivered is not None:
                await self._on_delivered(item)
            return

    async def wait_landed(self, effect_id: str, within: float) -> Effect | None:
        """Wait (bounded) until an effect is done here or elsewhere; returns it as stored."""
        event = self._landed.setdefault(effect_id, asyncio.Event())
        deadline = asyncio.get_running_loop().time() + within
        try:
            while True:
                stored = await self._store.get_effect(effect_id)
                remaining = deadline - asyncio.get_running_loop().time()
                if stored is None or stored.done or remaining <= 0:
                    return stored
                # Done in another process sets no event here: look again now and then.
                try:
                    await asyncio.wait_for(event.wait(), timeout=min(remaining, 0.25))
                except TimeoutError:
                    continue
        finally:
            self._landed.pop(effect_id, None)

    def _signal_landed(self, effect_id: str) -> None:
        event = self._landed.get(effect_id)
        if event is not None:
            event.set()

    # --- what listeners and services say in Slack ------------------------------------
    async def ephemeral(
        self, channel_id: str | None, user_id: str, message: cards.SlackMessage
    ) -> None:
        """Tell one user something privately in a channel; by DM if the channel will not take it.

        An ephemeral is only ever seen once (repeating one is harmless); the DM that
        stands in for it goes through the outbox like every other message.
        """
        if channel_id:
            try:
                await self._gateway.calls.chat_postEphemeral(
                    channel=channel_id, user=user_id, **message.as_kwargs()
                )
                return
            except SlackApiError as exc:
                error = exc.response.get("error")
                log.info("ephemeral failed, using DM %s", log_kv(user=user_id, error=error))
        await self.queue_message(f"ephemeral:{uuid.uuid4().hex}", message, user=user_id)

    async def queue_message(
        self,
        subject: str,
        message: cards.SlackMessage,
        *,
        channel: str | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
        thread_of: str | None = None,
        key: str = "",
    ) -> str:
        """Post `message` once, through the outbox: in `channel` (under `thread_ts`, or under
        the message the effect `thread_of` posts, once it has), or as a DM to `user`. The
        same subject and key make the same effect (queued once).
        Returns the effect id (`wait_landed` tells where it landed)."""
        if (channel is None) == (user is None):
            raise ValueError("a message goes to a channel or to a user")
        payload: dict[str, Any] = {"message": message.as_kwargs()}
        payload |= {"channel": channel} if channel else {"user": user}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        if thread_of:
            payload["thread_of"] = thread_of
        return await self._queue(
            effect(subject, EffectKind.POST_MESSAGE, self._clock.now(), key=key, payload=payload)
        )

    async def queue_unfurl(
        self, subject: str, channel: str, ts: str, unfurls: dict[str, dict[str, Any]]
    ) -> str:
        """Attach previews (`{url: {"blocks": …}}`) to a message that shared those URLs."""
        payload = {"channel": channel, "ts": ts, "unfurls": unfurls}
        return await self._queue(
            effect(subject, EffectKind.UNFURL, self._clock.now(), payload=payload)
        )

    async def _queue(self, item: Effect) -> str:
        await self._store.enqueue_effects([item])
        self._on_effects()
        return item.id

    async def publish_home(self, user_id: str, view: View) -> None:
        """Replace `user_id`'s App Home tab with `view` (safe to repeat: not through the outbox).

        A user the workspace does not know (Slack Connect) has no Home tab here: logged."""
        try:
            await self._deliveries.publish_home(user_id, view)
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if not unreachable(EffectKind.REFRESH_HOME, error):
                raise
            log.info("home tab not published %s", log_kv(user=user_id, error=error))

    # --- failures ---------------------------------------------------------------
    async def _failed(self, item: Effect, exc: SlackApiError) -> None:
        error = str(exc.response.get("error", "unknown_error"))
        if error in CHANNEL_GONE:
            await self._channel_unavailable(item, error)
            return
        if unreachable(item.kind, error):
            await self._not_for_them(item, error)
            return
        if error in UNDELIVERABLE:
            await self._give_up(item, error)
            return
        await self._retry_with_backoff(item, error)

    async def _not_for_them(self, item: Effect, error: str) -> None:
        """A receipt, reminder or Home tab the person cannot get: audited, logged at INFO."""
        log.info("slack message not deliverable %s", log_kv(effect=item.id, error=error))
        await audit_effect(
            self._store,
            self._clock,
            item,
            "effect_undeliverable",
            error=error,
            kind=item.kind.value,
        )
        await self._store.complete_effect(item.id, {"error": error})
        self._signal_landed(item.id)

    async def _retry_with_backoff(self, item: Effect, error: str) -> None:
        if item.attempts + 1 >= MAX_ATTEMPTS:
            await self._give_up(item, error)
            return
        delay = min(2 ** (item.attempts + 1), MAX_BACKOFF_SECONDS)
        log.warning("slack effect retry %s", log_kv(effect=item.id, error=error, in_s=delay))
        await self._store.retry_effect(item.id, self._later(delay), error)

    async def _give_up(self, item: Effect, error: str) -> None:
        log.error("slack effect abandoned %s", log_kv(effect=item.id, error=error))
        await audit_effect(
            self._store, self._clock, item, "effect_failed", error=error, kind=item.kind.value
        )
        await self._store.complete_effect(item.id, {"error": error})
        self._signal_landed(item.id)

    async def _channel_unavailable(self, item: Effect, error: str) -> None:
        """The card's channel cannot take messages: DM the requester instead, and audit.

        The DM is queued before this effect is closed, so a crash in between
        leaves the effect to be retried (and the DM queued once: its id is fixed).
        """
        approval = await self._store.get_approval(item.approval_id)
        direct = item.kind in (EffectKind.REQUESTER_DM, EffectKind.REMINDER_DM)
        if approval is not None and approval.requester.kind == "slack" and not direct:
            fallback = effect(
                approval.approval_id,
                EffectKind.REQUESTER_DM,
                self._clock.now(),
                key=f"channel-unavailable:{approval.status.value}",
                payload={
                    "reason": "channel_unavailable",
                    "error": error,
                    "user": approval.requester.id,
                },
            )
            await self._store.enqueue_effects([fallback])
        await self._give_up(item, error)

    async def _unsure(self, item: Effect, exc: Unsure) -> None:
        """An earlier attempt may have posted, unseen in a window too busy to read: ask a human
        (the requester, by DM) rather than post twice."""
        await audit_effect(
            self._store,
            self._clock,
            item,
            "delivery_unsure",
            kind=item.kind.value,
            scanned=exc.scanned,
        )
        await self._channel_unavailable(item, "delivery_unsure")

    # --- helpers ----------------------------------------------------------------
    def _later(self, seconds: float) -> datetime:
        return self._clock.now() + timedelta(seconds=seconds)
