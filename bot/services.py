"""The bot's services, built once by the composition root (`bot/app.py`) and handed to listeners."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.agent_gate import AgentGate
from bot.approver_lists import Approvers
from bot.channels import Channels
from bot.clock import Clock
from bot.config import Settings
from bot.cosign import CoSign
from bot.escalations import Escalations
from bot.home import Home
from bot.job_activity import JobActivity
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.opentrain import OpenTrainClient
from bot.outcome_waits import OutcomeWaits
from bot.pacing import Pacer
from bot.people import People
from bot.reminders import Reminders
from bot.roles import Roles
from bot.routing import Router
from bot.scheduler import Scheduler
from bot.store import Store
from bot.store.retention import forget_stale, prune_when_due
from bot.tracker import Tracker
from bot.trainer_replies import TrainerReplies


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: Store
    opentrain: OpenTrainClient
    slack: AsyncWebClient  # the gateway's client for calls safe to repeat (bot/slack_gateway.py)
    pacer: Pacer  # the gateway's Slack pacing (shared through Redis with the other replicas)
    channels: Channels  # the one membership rule: check, join
    notifier: Notifier
    tracker: Tracker
    waits: OutcomeWaits  # waiting for an approval's outcome without asking OpenTrain
    activity: JobActivity  # a job's news in its channel: subscriptions, notices, threads
    trainer_replies: TrainerReplies  # replies in a contract's thread, sent to its trainer
    cosign: CoSign
    router: Router
    scheduler: Scheduler
    roles: Roles
    people: People
    approvers: Approvers
    reminders: Reminders
    escalations: Escalations
    home: Home
    gate: AgentGate  # the agents' spend policy, before any OpenTrain write
    metrics: Metrics  # what /metrics shows, on this bot's own registry
    owner: str  # this process's identity in leases and claims

    async def forget_stale(self) -> int:
        """Apply every settings record kind's retention; answers how many records went."""
        return await forget_stale(self.store, self.clock.now())

    async def apply_retention(self) -> None:
        """The `retention` job: `forget_stale`, and once an hour (across replicas) prune
        what ended more than RETENTION_DAYS ago."""
        await self.forget_stale()
        keep = timedelta(days=self.settings.retention_days)
        await prune_when_due(self.store, self.clock.now(), keep)
