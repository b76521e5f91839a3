"""What each outbox effect does in Slack: the notifier's deliveries (bot/notifier.py).

Cards, their updates and thread replies, DMs, messages rendered when queued,
unfurls and Home tabs. Every post goes through `_post_once`: it looks for an
earlier attempt's post by its metadata first (bot/earlier_posts.py), makes the
channel ready (bot/channels.py), waits out any `Retry-After`, and posts only while
this process's claim on the effect has time left.

Raises what the notifier's failure policy decides on: `NotYet`, `NoCard`,
`ClaimLapsing`, `Unsure`, and Slack's or the network's errors as they come.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Set
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot import cards
from bot.approver_lists import Expected
from bot.audit_log import AuditEntry
from bot.channels import Channels
from bot.clock import Clock
from bot.earlier_posts import Window, find_earlier_post, stamp, wall_clock
from bot.logs import log_kv
from bot.outbox import Effect, EffectKind, effect
from bot.slack_gateway import SlackGateway
from bot.store import Store
from bot.store.kinds import SENT_DMS, SentDirectMessage
from bot.tracked_approvals import TrackedApproval

log = logging.getLogger(__name__)

# A claim lasts CLAIM_LEASE; no post starts with less than POST_MARGIN of it left.
CLAIM_LEASE = timedelta(minutes=5)
POST_MARGIN = timedelta(seconds=30)

ApproversLookup = Callable[[TrackedApproval], Awaitable[Expected]]
# Fresh Home tabs (user id, view) for everyone who sees an approval, but the users named.
HomeViews = Callable[[TrackedApproval, Set[str]], Awaitable[list[tuple[str, View]]]]


# The person cannot be reached (external, deactivated, unknown here): not a failure of ours.
RECIPIENT_UNREACHABLE = frozenset(
    {"user_not_found", "user_disabled", "cannot_dm_bot", "account_inactive"}
)

# A DM that can no longer be edited (deleted, or its conversation gone): nothing to retire.
GONE = frozenset({"message_not_found", "channel_not_found", "cant_update_message"})


def unreachable(kind: EffectKind, error: str) -> bool:
    """Whether `error` means nobody (or nothing) is there to get this, not that we failed:
    `views.publish` says `invalid_arguments` for a user unknown here, `chat.unfurl` says
    `cannot_find_message` for a message deleted before its previews."""
    gone = {EffectKind.REFRESH_HOME: "invalid_arguments", EffectKind.UNFURL: "cannot_find_message"}
    return error in RECIPIENT_UNREACHABLE or gone.get(kind) == error


class NotYet(Exception):
    """The effect depends on another one that has not landed yet (e.g. no card to update)."""


class ClaimLapsing(Exception):
    """Too little of this process's claim on the effect is left to post: leave it alone."""


class NoCard(Exception):
    """There is no card to update or reply under: it had no channel, or its channel refused it."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class Deliveries:
    def __init__(
        self,
        *,
        store: Store,
        gateway: SlackGateway,
        channels: Channels,
        clock: Clock,
        opentrain_host: str,
        approvers: ApproversLookup,
        home_views: HomeViews | None = None,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._calls = gateway.calls  # safe to repeat: reads, updates, unfurls, Home tabs
        self._posts = gateway.posts  # chat.postMessage only, never retried by the SDK
        self._channels = channels
        self._clock = clock
        self._opentrain_host = opentrain_host
        self._approvers = approvers
        self._home_views = home_views
        # user → when the listing behind the last Home tab published here began (monotonic)
        self._home_listed: dict[str, float] = {}

    async def channel_of(self, item: Effect) -> str | None:
        """The channel `item` posts or edits in; None for a DM."""
        if item.kind in (EffectKind.REQUESTER_DM, EffectKind.REMINDER_DM, EffectKind.RETIRE_DMS):
            return None
        if item.kind in (EffectKind.POST_MESSAGE, EffectKind.UPDATE_MESSAGE, EffectKind.UNFURL):
            channel = item.payload.get("channel")
            return str(channel) if channel else None
        approval = await self._store.get_approval(item.approval_id)
        return approval.channel_id if approval else None

    async def publish_home(self, user_id: str, view: View) -> None:
        """Replace `user_id`'s App Home tab with `view` (safe to repeat: not through the outbox)."""
        await self._calls.views_publish(user_id=user_id, view=view)

    async def rejoin(self, item: Effect) -> None:
        """Slack said `not_in_channel`: look at the channel again and join it if it is public."""
        channel = await self.channel_of(item)
        if channel is None:
            raise NoCard("not_in_channel")
        self._channels.forget(channel)
        check = await self._channels.prepare(channel)
        if not check.usable:
            raise NoCard(check.error or "not_in_channel")

    async def deliver(self, item: Effect, claimed_at: float) -> dict[str, Any] | None:
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
            case EffectKind.RETIRE_DMS:
                return {"retired": await self._retire_dms(approval)}
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
        await audit_effect(self._store, self._clock, item, "card_posted", channel=channel, ts=ts)
        return {"channel": channel, "ts": ts, "permalink": permalink}

    async def _post_message(self, item: Effect) -> dict[str, Any]:
        """A message rendered when it was queued, posted once in its channel (or thread) or DM."""
        payload = item.payload
        if payload.get("user"):
            channel, direct = await self._open_dm(str(payload["user"])), True
        else:
            channel, direct = str(payload["channel"]), False
        parent = payload.get("thread_of")  # an effect id: under the message it posted
        thread_ts = await self._thread_of(str(parent)) if parent else payload.get("thread_ts")
        message = dict(payload["message"])
        ts = await self._post_once(item, channel, message, thread_ts=thread_ts, direct=direct)
        permalink = None if direct else await self._permalink(channel, ts)
        return {"channel": channel, "ts": ts, "permalink": permalink}

    async def _thread_of(self, parent_id: str) -> str | None:
        """The ts of the message effect `parent_id` posted; None if it could not be posted."""
        parent = await self._store.get_effect(parent_id)
        if parent is not None and not parent.done:
            raise NotYet
        ts = ((parent.result if parent else None) or {}).get("ts")
        return str(ts) if ts else None

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
            approvers_label=expected.label,
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
        await self._remember_dm(item, approval, channel, ts)
        return {"channel": channel, "ts": ts}

    async def _remember_dm(
        self, item: Effect, approval: TrackedApproval, channel: str, ts: str
    ) -> None:
        """Keep where a DM with buttons went, so the approval's end can retire them.

        A DM sent as the approval ended (its outcome's own retiring may have run before
        this was kept) is retired here at once.
        """
        if item.kind is EffectKind.REMINDER_DM:
            final = bool(item.payload.get("final"))
            now = self._clock.now()
            sent = SentDirectMessage(
                channel=channel, ts=ts, kind="reminder", final=final, saved_at=now
            )
        elif item.payload.get("reason") == "channel_unavailable":
            error = item.payload.get("error")
            sent = SentDirectMessage(
                channel=channel,
                ts=ts,
                kind="requester",
                channel_error=str(error) if error else None,
                saved_at=self._clock.now(),
            )
        else:
            return  # the expiry DM is itself an outcome: nothing on it to retire
        await self._store.put_record(SENT_DMS, f"{approval.approval_id}:{item.id}", sent)
        current = await self._store.get_approval(approval.approval_id)
        if current is not None and current.status.is_terminal:
            await self._retire_dms(current)

    async def _retire_dms(self, approval: TrackedApproval) -> int:
        """Re-render every DM kept for `approval` (now ended) without its buttons; how many."""
        retired = 0
        within = f"{approval.approval_id}:"
        for key, sent in (await self._store.list_records(SENT_DMS, within)).items():
            if sent.kind == "reminder":
                message = cards.reminder_dm_retired(
                    approval,
                    permalink=approval.card_permalink,
                    opentrain_host=self._opentrain_host,
                    final=sent.final,
                )
            else:
                message = cards.requester_dm_retired(approval, channel_error=sent.channel_error)
            try:
                await self._calls.chat_update(
                    channel=sent.channel, ts=sent.ts, **message.as_kwargs()
                )
                retired += 1
            except SlackApiError as exc:
                if exc.response.get("error") not in GONE:
                    raise
            await self._store.delete_record(SENT_DMS, key)
        return retired

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
                escalation=item.payload.get("escalation"),  # a level of approval.escalations
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
        unknown: list[str] = []
        for user_id, view in await self._home_views(approval, up_to_date):
            try:
                await self.publish_home(user_id, view)
            except SlackApiError as exc:
                if not unreachable(EffectKind.REFRESH_HOME, str(exc.response.get("error"))):
                    raise
                unknown.append(user_id)  # not a user of this workspace: no tab to refresh
                continue
            # The last tab to land is what the user sees, even if an older listing made it.
            self._home_listed[user_id] = listed_at
            published.append(user_id)
        return {"published": published, **({"unreachable": unknown} if unknown else {})}


async def audit_effect(
    store: Store, clock: Clock, item: Effect, action: str, **details: object
) -> None:
    """An audit entry about an effect (`card_posted`, `effect_failed`, `delivery_unsure`)."""
    await store.append_audit(
        AuditEntry(
            at=clock.now(),
            action=action,
            actor="bot",
            approval_id=item.approval_id,
            details={"effect": item.id, **details},
        )
    )
