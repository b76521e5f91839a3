"""Typed settings records: every kind the store keeps besides approvals, effects and audit.

A `Kind` names a record kind once: its name in the store, its shape (validated on
every read, so a record written by an older version that no longer fits is
logged and read as absent) and how long it is kept. Both stores keep records as
JSON text under `<name>:<key>` (a single record: under `<name>`), so records
written before kinds existed read unchanged.

To add a kind: declare it here (and its model if it has one), add it to `KINDS`,
and use `store.get_record/put_record/list_records/delete_record` with it.
`bot/store/retention.py` applies every kind's `Retention`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bot.agent_asks import PolicyRequest
from bot.approver_tiers import ScopeTiers
from bot.opentrain.models import HireTerms

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Retention:
    """How long records of a kind are kept; neither set: until their owner deletes them."""

    ends_with_approval: bool = False  # the key is "<approval id>" or "<approval id>:…"
    max_age: timedelta | None = None  # after `saved_at`, on the bot's clock

    def too_old(self, record: object, now: datetime) -> bool:
        saved_at = getattr(record, "saved_at", None)
        return (
            self.max_age is not None
            and isinstance(saved_at, datetime)
            and now - saved_at >= self.max_age
        )


KEPT = Retention()


@dataclass(frozen=True)
class Kind(Generic[T]):
    name: str
    shape: Any  # a type TypeAdapter accepts: a model, `list[str]`, `str`, `bool`
    retention: Retention = KEPT
    single: bool = False  # one record of its kind, stored under `name` alone
    _adapter: TypeAdapter[T] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_adapter", TypeAdapter(self.shape))

    def storage_key(self, key: str) -> str:
        if self.single:
            return self.name
        if not key:
            raise ValueError(f"a {self.name} record needs a key")
        return f"{self.name}:{key}"

    @property
    def prefix(self) -> str:
        return self.name if self.single else f"{self.name}:"

    def dump(self, value: T) -> str:
        return self._adapter.dump_json(value, by_alias=True).decode()

    def load(self, text: str | bytes, key: str = "") -> T | None:
        try:
            return self._adapter.validate_json(text)
        except ValidationError:
            log.error("unreadable %s record key=%s", self.name, key[:80])
            return None


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class SnoozeRecord(_Record):
    """An approver pressed "Snooze 4 h" at `at`: only the last reminder before `until`."""

    at: AwareDatetime
    until: AwareDatetime


class Press(_Record):
    """Someone pressed "Remind approvers" (at most one reminder round an hour)."""

    at: AwareDatetime
    by: str


class HireDraftRecord(_Record):
    """The terms of a hire OpenTrain refused, kept so "Hire anyway" resends them unchanged."""

    proposal_id: str = Field(alias="proposalId")
    terms: HireTerms
    channel_id: str | None = Field(default=None, alias="channelId")
    saved_at: AwareDatetime = Field(alias="savedAt")


class SentDirectMessage(_Record):
    """A DM the bot sent about an approval, to re-render without its buttons once it ends."""

    channel: str
    ts: str
    kind: Literal["reminder", "requester"]
    final: bool = False  # a reminder: the last one before expiry
    channel_error: str | None = None  # a requester DM stands in for a card in this channel
    saved_at: AwareDatetime


class FeedHealth(_Record):
    """Whether the leader last found OpenTrain's `/updates` feed usable."""

    healthy: bool = True
    at: AwareDatetime | None = None
    by: str | None = None


class Topic(StrEnum):
    """What of a job's activity a channel hears about (`/opentrain subscribe`)."""

    PROPOSALS = "proposals"  # a new proposal: a card with Hire…
    MESSAGES = "messages"  # the trainer's messages, in a thread per contract; replies go back
    BUDGET = "budget"  # a contract's budget LOW or DEPLETED: Add & fund a milestone
    WORK = "work"  # work submitted, payment waiting: Release payout


class JobSubscription(_Record):
    """A job's activity goes to `channel` (one channel per job: subscribing again moves it)."""

    channel: str
    topics: frozenset[Topic]
    by: str
    at: AwareDatetime  # events from before this are history, not news


class ContractThread(_Record):
    """Where a contract's activity is threaded: under the message posted (or card) by the
    outbox effect `parent`, in `channel`."""

    channel: str
    parent: str  # the outbox effect id whose landed ts is the thread
    job_id: str | None = None
    conversation_id: str | None = None


# Who confirms, per scope ("global" or a channel id): its tiers; a list of user and
# user-group ids was stored before tiers existed (read as the base tier).
APPROVERS: Kind[list[str] | ScopeTiers] = Kind("approvers", list[str] | ScopeTiers)
# Per "<approval id>:<user id>".
SNOOZES: Kind[SnoozeRecord] = Kind("snooze", SnoozeRecord, Retention(ends_with_approval=True))
# Per approval id.
REMIND_PRESSES: Kind[Press] = Kind("remind-now", Press, Retention(ends_with_approval=True))
# Per draft id.
HIRE_DRAFTS: Kind[HireDraftRecord] = Kind(
    "hire-draft", HireDraftRecord, Retention(max_age=timedelta(days=7))
)
# Per "<approval id>:<effect id>"; kept a while after the approval ends, which retires them.
SENT_DMS: Kind[SentDirectMessage] = Kind(
    "sent-dm", SentDirectMessage, Retention(max_age=timedelta(days=30))
)
FEED_HEALTH: Kind[FeedHealth] = Kind("feed-health", FeedHealth, single=True)
# The UTC date of the last daily digest queued.
DIGEST_POSTED: Kind[str] = Kind("digest:last-posted", str, single=True)
# Agents' requests over a limit, per request id: kept, like approvals.
POLICY_REQUESTS: Kind[PolicyRequest] = Kind("policy-request", PolicyRequest)
# The undecided ones only, so expiring them lists few; deleted when decided.
POLICY_AWAITING: Kind[bool] = Kind("policy-awaiting", bool)

# Per job id.
JOB_SUBSCRIPTIONS: Kind[JobSubscription] = Kind("job-subscription", JobSubscription)
# Per contract id; per conversation id, the contract whose job conversation it is.
CONTRACT_THREADS: Kind[ContractThread] = Kind("contract-thread", ContractThread)
CONVERSATION_CONTRACTS: Kind[str] = Kind("conversation-contract", str)

KINDS: tuple[Kind[Any], ...] = (
    APPROVERS,
    SNOOZES,
    REMIND_PRESSES,
    HIRE_DRAFTS,
    SENT_DMS,
    FEED_HEALTH,
    DIGEST_POSTED,
    POLICY_REQUESTS,
    POLICY_AWAITING,
    JOB_SUBSCRIPTIONS,
    CONTRACT_THREADS,
    CONVERSATION_CONTRACTS,
)


class RecordsOverText:
    """The typed records part, over four text operations each backend provides."""

    async def _text_get(self, key: str) -> str | None:
        raise NotImplementedError

    async def _text_put(self, key: str, text: str) -> None:
        raise NotImplementedError

    async def _text_list(self, prefix: str) -> dict[str, str]:
        """Every stored key starting with `prefix` (literally), in key order."""
        raise NotImplementedError

    async def _text_delete(self, key: str) -> bool:
        raise NotImplementedError

    async def get_record(self, kind: Kind[T], key: str = "") -> T | None:
        text = await self._text_get(kind.storage_key(key))
        return None if text is None else kind.load(text, key)

    async def put_record(self, kind: Kind[T], key: str, value: T) -> None:
        await self._text_put(kind.storage_key(key), kind.dump(value))

    async def list_records(self, kind: Kind[T], within: str = "") -> dict[str, T]:
        """Every readable record of `kind` whose key starts with `within`, by key
        (unreadable ones are logged and left out)."""
        found: dict[str, T] = {}
        for stored_key, text in (await self._text_list(kind.prefix + within)).items():
            key = stored_key.removeprefix(kind.prefix)
            if kind.single and key:
                continue  # another kind whose name starts with this one's
            value = kind.load(text, key)
            if value is not None:
                found[key] = value
        return found

    async def delete_record(self, kind: Kind[T], key: str = "") -> bool:
        return await self._text_delete(kind.storage_key(key))
