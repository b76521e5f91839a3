"""A job's activity in its channel: OpenTrain's feed events turned into notices.

`/opentrain subscribe <jobId>` ties a job to the channel it is run in, for some
topics (`Topic`). The feed leader hands every event that is not an approval's
outcome to `on_event`, which re-reads what the event is about (events carry ids
only) and queues one notice through the outbox. A notice's effect is named after
its event (or its milestone), so a page of the feed read twice — a restart, a new
leader — queues nothing twice. Events from before a subscription are history and
are not announced.

Each contract has one thread (`ContractThread`): under its hire card when that
card is in the job's channel, else under a summary of the contract posted there
the first time something is said about it. The trainer's messages, the contract
summary and work waiting for its payout go in that thread; replies there go back
to the trainer (`bot/trainer_replies.py`).
"""

from __future__ import annotations

import logging

from bot import cards
from bot.audit_log import AuditEntry
from bot.cards import activity
from bot.clock import Clock
from bot.logs import log_kv
from bot.notifier import Notifier
from bot.opentrain import ApprovalType, Contract, Message, OpenTrainClient, UpdateEvent
from bot.opentrain.errors import Forbidden, NotFound, OpenTrainError
from bot.outbox import EffectKind, effect
from bot.store import Store
from bot.store.kinds import (
    CONTRACT_THREADS,
    CONVERSATION_CONTRACTS,
    JOB_SUBSCRIPTIONS,
    ContractThread,
    JobSubscription,
    Topic,
)

log = logging.getLogger(__name__)

WORK_EVENTS = ("milestone.status_changed", "payment.pending")
LOW_STATES = ("LOW", "DEPLETED")
MESSAGE_PAGES = 3  # how far back a message is looked for in its conversation
MESSAGE_PAGE = 50
CONTRACTS_READ = 20  # a job's contracts read to find whose conversation it is
EVENT_ATTEMPTS = 3  # feed polls that may fail on one event before it is skipped


class JobActivity:
    def __init__(
        self,
        *,
        store: Store,
        opentrain: OpenTrainClient,
        notifier: Notifier,
        clock: Clock,
        opentrain_host: str,
    ) -> None:
        self._store = store
        self._opentrain = opentrain
        self._notifier = notifier
        self._clock = clock
        self._host = opentrain_host
        self._failures: dict[str, int] = {}  # event id → failed attempts, in this process

    # --- subscriptions --------------------------------------------------------------
    async def subscribe(
        self, job_id: str, channel: str, topics: frozenset[Topic], by: str
    ) -> JobSubscription:
        """Tie `job_id` to `channel` (moving it from any other); audited."""
        now = self._clock.now()
        subscription = JobSubscription(channel=channel, topics=topics, by=by, at=now)
        await self._store.put_record(JOB_SUBSCRIPTIONS, job_id, subscription)
        topic_names = sorted(t.value for t in topics)
        await self._audit("job_subscribed", by, job_id=job_id, channel=channel, topics=topic_names)
        return subscription

    async def unsubscribe(self, job_id: str, by: str) -> JobSubscription | None:
        subscription = await self._store.get_record(JOB_SUBSCRIPTIONS, job_id)
        if subscription is not None and await self._store.delete_record(JOB_SUBSCRIPTIONS, job_id):
            await self._audit("job_unsubscribed", by, job_id=job_id, channel=subscription.channel)
        return subscription

    async def _audit(self, action: str, by: str, **details: object) -> None:
        entry = AuditEntry(
            at=self._clock.now(), action=action, actor=f"slack:{by}", details=details
        )
        await self._store.append_audit(entry)

    async def subscriptions(self, channel: str | None = None) -> dict[str, JobSubscription]:
        every = await self._store.list_records(JOB_SUBSCRIPTIONS)
        return {job: sub for job, sub in every.items() if channel in (None, sub.channel)}

    # --- the feed ---------------------------------------------------------------------
    async def on_event(self, event: UpdateEvent) -> None:
        """Announce `event` if a subscription wants it. A resource OpenTrain no longer shows
        us is skipped; other OpenTrain errors propagate, so the feed reads the page again
        (EVENT_ATTEMPTS times at most)."""
        try:
            if event.type == "proposal.received":
                await self._proposal(event)
            elif event.type == "contract.created":
                await self._contract_created(event)
            elif event.type == "contract.budget_state_changed":
                await self._budget(event)
            elif event.type in WORK_EVENTS:
                await self._work(event)
            elif event.type == "message.received":
                await self._message(event)
            self._failures.pop(event.id, None)
        except (NotFound, Forbidden) as exc:
            log.info(
                "feed event skipped %s",
                log_kv(event=event.id, type=event.type, code=exc.code, status=exc.status),
            )
        except MissingId as exc:
            log.warning("feed event skipped %s", log_kv(event=event.id, missing=str(exc)))
        except OpenTrainError as exc:
            # The feed reads the page again; an event that keeps failing must not hold up
            # every outcome behind it, so after a few tries it goes unannounced.
            failures = self._failures.pop(event.id, 0) + 1
            if failures >= EVENT_ATTEMPTS:
                log.warning(
                    "feed event not announced %s",
                    log_kv(event=event.id, type=event.type, error=exc.code, attempts=failures),
                )
                return
            self._failures[event.id] = failures
            raise

    async def _subscribed(
        self, job_id: str | None, topic: Topic | None, event: UpdateEvent
    ) -> JobSubscription | None:
        """The job's subscription if it wants `topic` (None: any) and `event` is news to it."""
        if not job_id:
            return None
        subscription = await self._store.get_record(JOB_SUBSCRIPTIONS, job_id)
        if subscription is None or (topic is not None and topic not in subscription.topics):
            return None
        if event.created_at is not None and event.created_at < subscription.at:
            return None
        return subscription

    async def _may_want(self, event: UpdateEvent, topic: Topic | None) -> bool:
        """Whether reading what `event` is about may be worth it: its job (when the event
        names it) is followed for `topic`. Saves OpenTrain a read per event nobody follows."""
        return not event.job_id or await self._subscribed(event.job_id, topic, event) is not None

    async def _proposal(self, event: UpdateEvent) -> None:
        subscription = await self._subscribed(event.job_id, Topic.PROPOSALS, event)
        if subscription is None:
            return
        proposal = await self._opentrain.get_proposal(_data(event, "proposalId"))
        notice = activity.proposal_notice(proposal, opentrain_host=self._host)
        await self._say(event, notice, subscription.channel)

    async def _contract_created(self, event: UpdateEvent) -> None:
        """A followed job's new contract: its summary under the hire card, wherever that is,
        else as the start of its thread in the job's channel."""
        if not await self._may_want(event, None):
            return
        contract = await self._opentrain.get_contract(_data(event, "contractId"))
        subscription = await self._subscribed(contract.job_id or event.job_id, None, event)
        if subscription is None:
            return
        thread = await self._existing_thread(contract, channel=None)
        if thread is None:
            await self._thread(contract, subscription.channel)  # the summary is its parent
            return
        summary = cards.contract_detail(contract, opentrain_host=self._host)
        await self._say(event, summary, thread.channel, thread_of=thread.parent)

    async def _budget(self, event: UpdateEvent) -> None:
        state = str(event.data.get("state") or "").upper()
        if state not in LOW_STATES or state == str(event.data.get("previousState") or "").upper():
            return
        if not await self._may_want(event, Topic.BUDGET):
            return
        contract = await self._opentrain.get_contract(_data(event, "contractId"))
        subscription = await self._subscribed(contract.job_id or event.job_id, Topic.BUDGET, event)
        if subscription is None:
            return
        await self._say(event, activity.budget_notice(contract, state), subscription.channel)

    async def _work(self, event: UpdateEvent) -> None:
        """Work submitted on a funded milestone: one notice per milestone and invoice, whichever
        of its two events comes first. The milestone's own flags decide (a `payment.pending`
        also follows a card funding: opentrain-api.md §12 says only "invoice waiting")."""
        if not await self._may_want(event, Topic.WORK):
            return
        contract = await self._opentrain.get_contract(_data(event, "contractId"))
        subscription = await self._subscribed(contract.job_id or event.job_id, Topic.WORK, event)
        if subscription is None:
            return
        milestone_id = _data(event, "milestoneId")
        milestone = next((m for m in contract.milestones if m.id == milestone_id), None)
        if milestone is None or milestone.status != "ACTIVE_FUNDED":
            return  # not waiting on a payout (paid, cancelled, or not funded)
        if not (milestone.pending_approval or milestone.needs_review):
            return  # created or funded: nothing to release yet
        thread = await self._thread(contract, subscription.channel)
        await self._notifier.queue_message(
            f"work:{milestone.id}",
            activity.work_notice(contract, milestone),
            channel=thread.channel,
            thread_of=thread.parent,
            key=milestone.invoice_id or "",
        )

    async def _message(self, event: UpdateEvent) -> None:
        conversation_id = _data(event, "conversationId")
        message_id = _data(event, "messageId")
        subscription = await self._subscribed(event.job_id, Topic.MESSAGES, event)
        if event.job_id and subscription is None:
            return  # not followed: nothing read
        message = await self._find_message(conversation_id, message_id)
        if message is None or message.is_from_viewer or message.system:
            return  # ours (a reply sent from Slack), or OpenTrain's own note
        if subscription is None:
            subscription = await self._subscribed(message.job_id, Topic.MESSAGES, event)
            if subscription is None:
                return
        contract = await self._contract_of(conversation_id, message.job_id or event.job_id)
        if contract is None:
            return  # a proposal's thread before any hire: not a contract's conversation
        thread = await self._thread(contract, subscription.channel)
        notice = activity.trainer_message(contract, message.content)
        await self._say(event, notice, thread.channel, thread_of=thread.parent)

    async def _find_message(self, conversation_id: str, message_id: str) -> Message | None:
        cursor: str | None = None
        for _ in range(MESSAGE_PAGES):
            page = await self._opentrain.list_messages(
                conversation_id=conversation_id, cursor=cursor, limit=MESSAGE_PAGE
            )
            found = next((m for m in page.messages if m.id == message_id), None)
            if found is not None or not page.next_cursor:
                return found
            cursor = page.next_cursor
        return None

    # --- a contract's thread --------------------------------------------------------------
    async def _contract_of(self, conversation_id: str, job_id: str | None) -> Contract | None:
        """The contract whose job conversation this is (remembered once found)."""
        known = await self._store.get_record(CONVERSATION_CONTRACTS, conversation_id)
        if known is not None:
            return await self._opentrain.get_contract(known)
        if not job_id:
            return None
        for listed in (await self._opentrain.list_contracts(job_id=job_id))[:CONTRACTS_READ]:
            contract = await self._opentrain.get_contract(listed.id)
            if contract.job_dm_conversation_id == conversation_id:
                await self._store.put_record(CONVERSATION_CONTRACTS, conversation_id, contract.id)
                return contract
        return None

    async def _existing_thread(
        self, contract: Contract, *, channel: str | None
    ) -> ContractThread | None:
        """The contract's thread in `channel` (None: anywhere): as recorded, else under the
        card of the hire that made it."""
        recorded = await self._store.get_record(CONTRACT_THREADS, contract.id)
        if recorded is not None and channel in (None, recorded.channel):
            return recorded
        card = await self._hire_card(contract)
        if card is None or channel not in (None, card[0]):
            return None
        return await self._remember(contract, *card)

    async def _hire_card(self, contract: Contract) -> tuple[str, str] | None:
        """(channel, its POST_CARD effect id) of the card of the hire that made `contract`."""
        if not contract.proposal_id:
            return None
        hires = [
            tracked
            for tracked in await self._store.approvals_for_proposal(contract.proposal_id)
            if tracked.type is ApprovalType.PROPOSAL_HIRE and tracked.channel_id
        ]
        if not hires:
            return None
        card = max(hires, key=lambda tracked: tracked.adopted_at)
        assert card.channel_id is not None
        return card.channel_id, effect(card.approval_id, EffectKind.POST_CARD, self._clock.now()).id

    async def _thread(self, contract: Contract, channel: str) -> ContractThread:
        """The contract's thread in `channel`, started there with its summary if need be (and
        linked from the hire card's thread when that card is in another channel)."""
        thread = await self._existing_thread(contract, channel=channel)
        if thread is not None:
            return thread
        subject = f"contract:{contract.id}"
        summary = cards.contract_detail(contract, opentrain_host=self._host)
        parent = await self._notifier.queue_message(
            subject, summary, channel=channel, key=f"thread-{channel}"
        )
        card = await self._hire_card(contract)
        if card is not None:
            await self._notifier.queue_message(
                subject,
                activity.continued_in(contract, channel),
                channel=card[0],
                thread_of=card[1],
                key=f"link-{channel}",
            )
        return await self._remember(contract, channel, parent)

    async def _remember(self, contract: Contract, channel: str, parent: str) -> ContractThread:
        thread = ContractThread(
            channel=channel,
            parent=parent,
            job_id=contract.job_id,
            conversation_id=contract.job_dm_conversation_id,
        )
        await self._store.put_record(CONTRACT_THREADS, contract.id, thread)
        if contract.job_dm_conversation_id:
            await self._store.put_record(
                CONVERSATION_CONTRACTS, contract.job_dm_conversation_id, contract.id
            )
        return thread

    async def _say(
        self,
        event: UpdateEvent,
        message: cards.SlackMessage,
        channel: str,
        *,
        thread_of: str | None = None,
    ) -> None:
        await self._notifier.queue_message(
            f"activity:{event.id}", message, channel=channel, thread_of=thread_of
        )
        log.info(
            "job activity queued %s",
            log_kv(event=event.id, type=event.type, channel=channel),
        )


class MissingId(Exception):
    """An event without the id its type documents: nothing to read, so nothing to say."""


def _data(event: UpdateEvent, key: str) -> str:
    value = event.data.get(key)
    if not value:
        raise MissingId(key)
    return str(value)
