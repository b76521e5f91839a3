"""The only writer of bot-owned Slack messages: drains the store's outbox of effects.

Each effect (post a card, update it, one thread reply, a DM) is claimed from the
store with a lease, so one process works it at a time, and completed with the
Slack `ts` it produced. Every message we post carries metadata naming its
effect id; an effect retried after a crash first looks for that metadata in the
channel (or thread) and records what it finds instead of posting twice.

Failures: 429 pauses that method (and channel) for `Retry-After` and tries
again; 5xx, timeouts and connection errors retry with backoff, a bounded number
of times; a channel we cannot post in (`channel_not_found`, `not_in_channel`,
`is_archived`, a deleted card, …) is audited and the requester gets the message
as a DM instead — never an endless loop.

Posts go through the gateway's client without automatic retries (bot/slack_gateway.py):
the SDK's retry of a `chat.postMessage` that failed with a 5xx or a dropped connection
would post again without looking, and Slack may have posted the first one. A channel
is made ready (a public one joined, bot/channels.py) before the first post in it.

A delivery never outlives its claim: it stops before posting when too little of the
claim is left, and a stale holder writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Set
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot import cards
from bot.approvals import AuditEntry, Effect, EffectKind, TrackedApproval, effect
from bot.approvers import Expected
from bot.channels import Channels
from bot.clock import Clock
from bot.earlier_posts import Unsure, Window, find_earlier_post, stamp, wall_clock
from bot.lanes import Lanes
from bot.logs import log_kv
from bot.pacing import rate_limit_wait
from bot.slack_gateway import SlackGateway
from bot.store import Store

log = logging.getLogger(__name__)

# A claimed batch is this process's for CLAIM_LEASE; a lane starts no new effect once
# less than LEASE_MARGIN (bot/lanes.py) is left, and a delivery stops before posting
# once less than POST_MARGIN is left (one post and its bookkeeping fit in that), so
# each delivery ends before another process may claim it. After a crash, what the
# dead process held waits out the lease.
CLAIM_LEASE = timedelta(minutes=5)
POST_MARGIN = timedelta(seconds=30)
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
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "account_inactive",
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
    EffectKind.REFRESH_HOME,
]

ApproversLookup = Callable[[TrackedApproval], Awaitable[Expected]]
# A fresh Home tab, as (user id, view) pairs, for everyone who sees an approval, except
# the users named (their tabs already show it).
HomeViews = Callable[[TrackedApproval, Set[str]], Awaitable[list[tuple[str, View]]]]


class NotYet(Exception):
    """The effect depends on another one that has not landed yet (e.g. no card to update)."""


class ClaimLapsing(Exception):
    """Too little of this process's claim on the effect is left to post: leave it alone."""


class NoCard(Exception):
    """There is no card to update or reply under: it had no channel, or its channel refused it."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Notifier:
    def __init__(
        self,
        *,
        store: Store,
        gateway: SlackGateway,
        channels: Channels,
        clock: Clock,
        owner: str,
        opentrain_host: str,
        approvers: ApproversLookup,
        home_views: HomeViews | None = None,
        on_effects: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._calls = gateway.calls  # safe to repeat: reads, updates, unfurls, Home tabs
        self._posts = gateway.posts  # chat.postMessage only, never retried by the SDK
        self._channels = channels
        self._clock = clock
        self._owner = owner
        self._opentrain_host = opentrain_host
        self._approvers = approvers
        self._home_views = home_views
        self._on_effects = on_effects  # effects were queued: drain soon
        self._landed: dict[str, asyncio.Event] = {}  # only effects someone waits for
        # user → when the listing behind the last Home tab published here began (monotonic)
        self._home_listed: dict[str, float] = {}

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
        channel = await self._channel_of(item)
        return f"channel:{channel}" if channel else f"dm:{item.payload.get('user', item.subject)}"

    async def _channel_of(self, item: Effect) -> str | None:
        """The channel `item` posts or edits in; None for a DM."""
        if item.kind in (EffectKind.REQUESTER_DM, EffectKind.REMINDER_DM):
            return None
        if item.kind in (EffectKind.POST_MESSAGE, EffectKind.UPDATE_MESSAGE, EffectKind.UNFURL):
            channel = item.payload.get("channel")
            return str(channel) if channel else None
        approval = await self._store.get_approval(item.approval_id)
        return approval.channel_id if approval else None

    async def _work(self, item: Effect, claimed_at: float) -> None:
        # In real time too: a pacing wait must not carry a post past the claim.
        left = (item.due_at - self._clock.now() - POST_MARGIN).total_seconds()
        try:
            async with asyncio.timeout(max(left, 0)):
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
                result = await self._deliver(item, claimed_at)
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
                        await self._rejoin(item)
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
                await self._calls.chat_postEphemeral(
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
        key: str = "",
    ) -> str:
        """Post `message` once, through the outbox: in `channel` (under `thread_ts`), or as a
        DM to `user`. The same subject and key make the same effect (queued once).
        Returns the effect id (`wait_landed` tells where it landed)."""
        if (channel is None) == (user is None):
            raise ValueError("a message goes to a channel or to a user")
        payload: dict[str, Any] = {"message": message.as_kwargs()}
        payload |= {"channel": channel} if channel else {"user": user}
        if thread_ts:
            payload["thread_ts"] = thread_ts
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
        """Replace `user_id`'s App Home tab with `view` (safe to repeat: not through the outbox)."""
        await self._calls.views_publish(user_id=user_id, view=view)

    async def _refresh_home(self, approval: TrackedApproval, claimed_at: float) -> dict[str, Any]:
        """Re-publish the Home tab of everyone who sees `approval`, unless it is up to date.

        The effect was committed with the change it announces, before its claim
        returned (`claimed_at`); a tab rendered from a listing begun after that
        already shows the change. So in a burst, one refresh per person stands for
        every refresh claimed before it, instead of listing all pending approvals
        once per outcome.
        """
        if self._home_views is None:
            return {"skipped": "no home tab"}
        up_to_date = {user for user, at in self._home_listed.items() if at > claimed_at}
        listed_at = time.monotonic()
        published: list[str] = []
        for user_id, view in await self._home_views(approval, up_to_date):
            await self.publish_home(user_id, view)
            # The last tab to land is what the user sees, even if an older listing made it.
            self._home_listed[user_id] = listed_at
            published.append(user_id)
        return {"published": published}

    # --- failures ---------------------------------------------------------------
    async def _failed(self, item: Effect, exc: SlackApiError) -> None:
        error = str(exc.response.get("error", "unknown_error"))
        if error in CHANNEL_GONE:
            await self._channel_unavailable(item, error)
            return
        if error in UNDELIVERABLE:
            await self._give_up(item, error)
            return
        await self._retry_with_backoff(item, error)

    async def _retry_with_backoff(self, item: Effect, error: str) -> None:
        if item.attempts + 1 >= MAX_ATTEMPTS:
            await self._give_up(item, error)
            return
        delay = min(2 ** (item.attempts + 1), MAX_BACKOFF_SECONDS)
        log.warning("slack effect retry %s", log_kv(effect=item.id, error=error, in_s=delay))
        await self._store.retry_effect(item.id, self._later(delay), error)

    async def _give_up(self, item: Effect, error: str) -> None:
        log.error("slack effect abandoned %s", log_kv(effect=item.id, error=error))
        await self._audit(item, "effect_failed", error=error, kind=item.kind.value)
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
        await self._audit(item, "delivery_unsure", kind=item.kind.value, scanned=exc.scanned)
        await self._channel_unavailable(item, "delivery_unsure")

    async def _rejoin(self, item: Effect) -> None:
        channel = await self._channel_of(item)
        if channel is None:
            raise NoCard("not_in_channel")
        self._channels.forget(channel)
        check = await self._channels.prepare(channel)
        if not check.usable:
            raise NoCard(check.error or "not_in_channel")

    # --- delivering -------------------------------------------------------------
    async def _deliver(self, item: Effect, claimed_at: float) -> dict[str, Any] | None:
        match item.kind:
            case EffectKind.POST_MESSAGE:
                return await self._post_message(item)
            case EffectKind.UPDATE_MESSAGE:
                return await self._update_message(item)
            case EffectKind.UNFURL:
                return await self._unfurl(item)
        approval = await self._store.get_approval(item.approval_id)
        if approval is None:
            return {"skipped": "approval unknown"}
        match item.kind:
            case EffectKind.POST_CARD:
                return await self._post_card(item, approval)
            case EffectKind.UPDATE_CARD:
                return await self._update_card(approval)
            case EffectKind.OUTCOME_REPLY:
                return await self._outcome_reply(item, approval)
            case EffectKind.REMINDER_DM if approval.status.is_terminal:
                return {"skipped": f"approval {approval.status.value}"}
            case EffectKind.REQUESTER_DM | EffectKind.REMINDER_DM:
                return await self._direct_message(item, approval)
            case EffectKind.REFRESH_HOME:
                return await self._refresh_home(approval, claimed_at)
        return {"skipped": f"unknown kind {item.kind}"}

    async def _post_card(self, item: Effect, approval: TrackedApproval) -> dict[str, Any]:
        if approval.card_ts and approval.channel_id:
            return {
                "channel": approval.channel_id,
                "ts": approval.card_ts,
                "permalink": approval.card_permalink,
            }
        if approval.channel_id is None:
            raise NoCard("no_channel")
        channel = approval.channel_id
        card = await self._card(approval)
        ts = await self._post_once(item, channel, card.as_kwargs())
        permalink = await self._permalink(channel, ts)
        await self._record_card(approval.approval_id, channel, ts, permalink)
        await self._audit(item, "card_posted", channel=channel, ts=ts)
        return {"channel": channel, "ts": ts, "permalink": permalink}

    async def _post_message(self, item: Effect) -> dict[str, Any]:
        """A message rendered when it was queued, posted once in its channel (or thread) or DM."""
        payload = item.payload
        if payload.get("user"):
            channel, direct = await self._open_dm(str(payload["user"])), True
        else:
            channel, direct = str(payload["channel"]), False
        thread_ts = payload.get("thread_ts")
        message = dict(payload["message"])
        ts = await self._post_once(item, channel, message, thread_ts=thread_ts, direct=direct)
        permalink = None if direct else await self._permalink(channel, ts)
        return {"channel": channel, "ts": ts, "permalink": permalink}

    async def _update_message(self, item: Effect) -> dict[str, Any]:
        """Replace a message queued by POST_MESSAGE with this effect's rendering."""
        posted = await self._store.get_effect(str(item.payload["post"]))
        if posted is not None and not posted.done:
            raise NotYet
        result = (posted.result if posted else None) or {}
        if not result.get("ts"):
            raise NoCard(str(result.get("error") or "no_card"))
        channel, ts = str(result["channel"]), str(result["ts"])
        message = dict(item.payload["message"])
        message.pop("metadata", None)  # chat.update keeps the message's own
        await self._calls.chat_update(channel=channel, ts=ts, **message)
        return {"channel": channel, "ts": ts}

    async def _unfurl(self, item: Effect) -> dict[str, Any]:
        """Previews under someone else's message (replacing them is harmless: no lookup)."""
        channel, ts = str(item.payload["channel"]), str(item.payload["ts"])
        await self._calls.chat_unfurl(channel=channel, ts=ts, unfurls=item.payload["unfurls"])
        return {"channel": channel, "ts": ts}

    async def _card(self, approval: TrackedApproval) -> cards.SlackMessage:
        expected = await self._approvers(approval)
        return cards.approval_card(
            approval,
            now=self._clock.now(),
            opentrain_host=self._opentrain_host,
            approvers=expected.configured,
            requester_alone=expected.requester_alone,
        )

    async def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            response = await self._calls.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, TimeoutError, aiohttp.ClientError, OSError):
            return None  # a card without a permalink still works; lists show no link
        return str(response["permalink"])

    async def _record_card(
        self, approval_id: str, channel: str, ts: str, permalink: str | None
    ) -> None:
        for _ in range(10):
            current = await self._store.get_approval(approval_id)
            if current is None or current.card_ts == ts:
                return
            located = current.evolve(channel_id=channel, card_ts=ts, card_permalink=permalink)
            if await self._store.update_approval(located):
                return
        raise RuntimeError(f"could not record the card of {approval_id} after 10 tries")

    async def _update_card(self, approval: TrackedApproval) -> dict[str, Any]:
        channel, ts = await self._card_location(approval)
        card = await self._card(approval)
        await self._calls.chat_update(channel=channel, ts=ts, **card.as_kwargs())
        return {"channel": channel, "ts": ts}

    async def _outcome_reply(self, item: Effect, approval: TrackedApproval) -> dict[str, Any]:
        channel, card_ts = await self._card_location(approval)
        reply = cards.outcome_reply(approval, now=self._clock.now())
        ts = await self._post_once(item, channel, reply.as_kwargs(), thread_ts=card_ts)
        return {"channel": channel, "ts": ts}

    async def _direct_message(self, item: Effect, approval: TrackedApproval) -> dict[str, Any]:
        channel = await self._open_dm(str(item.payload.get("user") or approval.requester.id))
        message = self._dm_message(item, approval).as_kwargs()
        ts = await self._post_once(item, channel, message, direct=True)
        return {"channel": channel, "ts": ts}

    async def _open_dm(self, user: str) -> str:
        opened = await self._calls.conversations_open(users=user)
        return str(opened["channel"]["id"])

    def _dm_message(self, item: Effect, approval: TrackedApproval) -> cards.SlackMessage:
        now = self._clock.now()
        if item.kind is EffectKind.REMINDER_DM:
            return cards.reminder_dm(
                approval,
                now=now,
                opentrain_host=self._opentrain_host,
                card_permalink=item.payload.get("permalink"),
                final=bool(item.payload.get("final")),
            )
        reason = item.payload.get("reason", "expired")
        return cards.requester_dm(
            approval,
            now=now,
            reason="channel_unavailable" if reason == "channel_unavailable" else "expired",
            channel_error=item.payload.get("error"),
            opentrain_host=self._opentrain_host,
        )

    async def _card_location(self, approval: TrackedApproval) -> tuple[str, str]:
        if approval.channel_id is not None and approval.card_ts is not None:
            return approval.channel_id, approval.card_ts
        posting = await self._store.get_effect(
            effect(approval.approval_id, EffectKind.POST_CARD, self._clock.now()).id
        )
        if posting is not None and not posting.done:
            raise NotYet
        result = (posting.result if posting else None) or {}
        raise NoCard(str(result.get("error") or "no_card"))

    async def _post_once(
        self,
        item: Effect,
        channel: str,
        message: dict[str, Any],
        *,
        thread_ts: str | None = None,
        direct: bool = False,
    ) -> str:
        """Post `message` for `item` unless an earlier attempt already did; returns its ts.

        An attempt records its start before it posts; the next attempt reads back
        the window that start opened (bot/earlier_posts.py) and posts only if the
        message is not there. Every attempt's window is read before a later one
        posts, so only the latest start needs looking at.
        """
        stored = await self._store.get_effect(item.id)
        started = stored.started_at if stored is not None else None
        if started is not None or await self._started_by_older_version(item):
            found = await find_earlier_post(
                self._calls,
                channel=channel,
                effect_id=item.id,
                window=Window.of_attempt(started, CLAIM_LEASE),
                thread_ts=thread_ts,
            )
            if found is not None:
                log.info("slack effect had landed %s", log_kv(effect=item.id, ts=found))
                return found
        if not direct:
            check = await self._channels.prepare(channel)  # joins a public channel
            if not check.usable:
                raise NoCard(check.error or "channel_not_found")
        # Slack's Retry-After may hold posts here for long: decide after the wait.
        await self._gateway.pacer.unheld("chat.postMessage", channel)
        if self._clock.now() >= item.due_at - POST_MARGIN:
            raise ClaimLapsing
        await self._store.mark_started(item.id, wall_clock())
        response = await self._posts.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
            **stamp(message, item.id),
        )
        return str(response["ts"])

    async def _started_by_older_version(self, item: Effect) -> bool:
        """Whether a version of the bot before `started_at` may have posted `item` (its marker)."""
        if not item.attempts and item.last_error is None:
            return False  # never tried: nothing can have landed
        return not await self._store.claim_key(f"effect-started:{item.id}", timedelta(days=7))

    # --- helpers ----------------------------------------------------------------
    def _later(self, seconds: float) -> datetime:
        return self._clock.now() + timedelta(seconds=seconds)

    async def _audit(self, item: Effect, action: str, **details: object) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action=action,
                actor="bot",
                approval_id=item.approval_id,
                details={"effect": item.id, **details},
            )
        )
