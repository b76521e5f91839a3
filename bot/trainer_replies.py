"""Replies in a contract's thread go to the trainer (`POST /messages`).

A person who may request money moves writes in the thread the bot keeps for a
contract (`bot/job_activity.py`); the text is sent once, as plain text (Slack's
mentions and links turned back into the words people saw), to the contract's
job conversation. OpenTrain's acceptance is shown with a ✓ reaction; a refusal
(its messaging policy, a read-only conversation, an unclaimed account, a rate
limit…) is explained in the thread, through the outbox. Someone who may not is
told privately who can, and nothing reaches OpenTrain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import cards
from bot.cards import activity
from bot.explain import explain
from bot.logs import log_kv
from bot.notifier import Notifier
from bot.opentrain import OpenTrainClient, OpenTrainError
from bot.parsing import typed_text
from bot.roles import AccessDenied, Actor, Roles
from bot.store import Store
from bot.store.kinds import CONTRACT_THREADS, ContractThread

log = logging.getLogger(__name__)

MAX_CONTENT = 10_000  # OpenTrain's limit for one message (opentrain-api.md §14.2)
REPLY_TTL = timedelta(days=1)  # Slack retries an event for minutes, not days
SENT_REACTION = "white_check_mark"


@dataclass(frozen=True)
class ThreadReply:
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    team: str | None = None


class TrainerReplies:
    def __init__(
        self,
        *,
        store: Store,
        opentrain: OpenTrainClient,
        notifier: Notifier,
        roles: Roles,
        slack: AsyncWebClient,
    ) -> None:
        self._store = store
        self._opentrain = opentrain
        self._notifier = notifier
        self._roles = roles
        self._slack = slack

    async def relay(self, reply: ThreadReply) -> bool:
        """Send `reply` to the trainer if its thread is a contract's; True if it was one."""
        found = await self.contract_in(reply.channel, reply.thread_ts)
        if found is None:
            return False
        contract_id, thread = found
        if not await self._store.claim_key(f"trainer-reply:{reply.channel}:{reply.ts}", REPLY_TTL):
            return True  # Slack delivered this message again: it is being answered
        try:
            await self._roles.require(
                Actor(reply.user, reply.team), "request", "message trainers from Slack"
            )
        except AccessDenied as refused:
            await self._notifier.ephemeral(
                reply.channel, reply.user, cards.explanation_message(explain(refused))
            )
            return True
        content = typed_text(reply.text).strip()
        if not content:
            await self._not_sent(reply, "Only text goes to the trainer; this message has none.")
        elif len(content) > MAX_CONTENT:
            await self._not_sent(
                reply,
                f"OpenTrain takes at most {MAX_CONTENT:,} characters in a message; this one "
                f"has {len(content):,}. Send it in parts.",
            )
        else:
            await self._send(reply, contract_id, thread, content)
        return True

    async def contract_in(self, channel: str, thread_ts: str) -> tuple[str, ContractThread] | None:
        """The contract whose thread (`channel`, `thread_ts`) is, if it is one."""
        for contract_id, thread in (await self._store.list_records(CONTRACT_THREADS)).items():
            if thread.channel != channel:
                continue
            parent = await self._store.get_effect(thread.parent)
            if parent is not None and (parent.result or {}).get("ts") == thread_ts:
                return contract_id, thread
        return None

    async def _send(
        self, reply: ThreadReply, contract_id: str, thread: ContractThread, content: str
    ) -> None:
        try:
            conversation_id = thread.conversation_id
            if conversation_id is None:
                contract = await self._opentrain.get_contract(contract_id)
                conversation_id = contract.job_dm_conversation_id
            if conversation_id is None:
                await self._not_sent(reply, "OpenTrain shows no conversation for this contract.")
                return
            await self._opentrain.send_message(conversation_id, content)
        except OpenTrainError as exc:
            log.info(
                "reply to trainer refused %s",
                log_kv(contract=contract_id, code=exc.code, reason=exc.reason),
            )
            await self._notifier.queue_message(
                _subject(reply),
                cards.explanation_message(explain(exc)),
                channel=reply.channel,
                thread_ts=reply.thread_ts,
            )
            return
        log.info("reply sent to trainer %s", log_kv(contract=contract_id, chars=len(content)))
        try:
            await self._slack.reactions_add(
                channel=reply.channel, timestamp=reply.ts, name=SENT_REACTION
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                log.info("sent mark not shown %s", log_kv(error=exc.response.get("error")))

    async def _not_sent(self, reply: ThreadReply, reason: str) -> None:
        await self._notifier.queue_message(
            _subject(reply),
            activity.reply_not_sent(reason),
            channel=reply.channel,
            thread_ts=reply.thread_ts,
        )


def _subject(reply: ThreadReply) -> str:
    return f"trainer-reply:{reply.channel}:{reply.ts}"
