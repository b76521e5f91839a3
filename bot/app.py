"""Composition root: builds every service from Settings, registers listeners, schedules jobs."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import timedelta

from aiohttp import web
from prometheus_client import CollectorRegistry
from slack_bolt.async_app import AsyncApp

import handlers
from bot.agent_gate import AgentGate
from bot.approver_lists import Approvers
from bot.callbacks import Callbacks
from bot.channels import Channels
from bot.clock import Clock, make_clock
from bot.config import Settings
from bot.cosign import CoSign
from bot.deliveries import Deliveries
from bot.digest import Digest
from bot.escalations import Escalations
from bot.feed_lease import FeedLease
from bot.home import Home
from bot.job_activity import JobActivity
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.opentrain import OpenTrainClient
from bot.outcome_waits import OutcomeWaits
from bot.pacing_redis import open_pacer
from bot.people import People
from bot.policy import load_policy
from bot.policy_requests import PolicyRequests
from bot.reminders import Reminders
from bot.roles import InstalledWorkspace, Roles
from bot.routing import Router
from bot.scheduler import (
    DIGEST_JOB,
    DUE_JOB,
    ESCALATION_JOB,
    FEED_JOB,
    LEASE_JOB,
    OUTBOX_JOB,
    POLICY_JOB,
    REMINDER_JOB,
    RETENTION_JOB,
    Scheduler,
)
from bot.services import Services
from bot.slack_gateway import open_gateway
from bot.spend import Spending
from bot.store import Store, StoreUnavailable, open_store
from bot.tracker import Tracker
from bot.trainer_replies import TrainerReplies
from bot.web import build_web_app

log = logging.getLogger(__name__)

SERVICES = web.AppKey("services", Services)
DIGEST_INTERVAL = timedelta(seconds=60)


def process_owner() -> str:
    """A name unique to this process, used as the owner of leases and claims."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def build_services(
    settings: Settings, *, store: Store | None = None, clock: Clock | None = None
) -> Services:
    clock = clock or make_clock(settings.sandbox_clock_url)
    store = store or await open_store(settings)
    owner = process_owner()
    # This bot's own registry: a process may run several bots (the tests do).
    metrics = Metrics(CollectorRegistry(auto_describe=True), store=store, clock=clock)
    opentrain = OpenTrainClient(
        settings.ot_api_base_url,
        settings.ot_api_token.get_secret_value() if settings.ot_api_token else "",
        timeout=settings.ot_timeout_seconds,
        observe=metrics.opentrain_call,
    )
    # Shared with the other replicas through Redis when the store is Redis.
    pacer = open_pacer(settings, owner=owner)
    gateway = open_gateway(settings, observe=metrics.slack_call, pacer=pacer)
    slack = gateway.calls
    channels = Channels(slack)
    scheduler = Scheduler(clock)
    router = Router(store, settings.default_channel)

    people = People(slack)
    roles = Roles(
        settings=settings,
        people=people,
        store=store,
        clock=clock,
        workspace=InstalledWorkspace(slack, settings.slack_team_id),
    )
    approvers = Approvers(
        store, clock, people, admins=roles.admin_ids, escalate_after=settings.escalate_after
    )
    home = Home(
        store=store,
        clock=clock,
        approvers=approvers,
        people=people,
        opentrain_host=settings.opentrain_host,
    )
    notifier = Notifier(
        store=store,
        gateway=gateway,
        deliveries=Deliveries(
            store=store,
            gateway=gateway,
            channels=channels,
            clock=clock,
            opentrain_host=settings.opentrain_host,
            approvers=approvers.expected,
            home_views=home.views_for_approval,
        ),
        clock=clock,
        owner=owner,
        callbacks=Callbacks(store=store, clock=clock, settings=settings).deliver,
        on_effects=lambda: scheduler.kick(OUTBOX_JOB),
        on_delivered=metrics.effect_delivered,
    )
    activity = JobActivity(
        store=store,
        opentrain=opentrain,
        notifier=notifier,
        clock=clock,
        opentrain_host=settings.opentrain_host,
    )
    waits = OutcomeWaits(store)
    tracker = Tracker(
        store=store,
        opentrain=opentrain,
        clock=clock,
        owner=owner,
        lease=FeedLease(store, owner, on_gained=lambda: scheduler.kick(FEED_JOB)),
        on_effects=lambda: scheduler.kick(OUTBOX_JOB),
        on_more_due=lambda: scheduler.kick(DUE_JOB),
        on_activity=activity.on_event,
        on_outcome=waits.notify,
    )
    metrics.watch_feed(tracker)
    cosign = CoSign(
        opentrain=opentrain,
        tracker=tracker,
        notifier=notifier,
        store=store,
        router=router,
        channels=channels,
        clock=clock,
    )

    reminders = Reminders(
        store=store,
        clock=clock,
        settings=settings,
        approvers=approvers,
        people=people,
        on_effects=lambda: scheduler.kick(OUTBOX_JOB),
    )
    escalations = Escalations(
        store=store,
        clock=clock,
        settings=settings,
        approvers=approvers,
        people=people,
        on_effects=lambda: scheduler.kick(OUTBOX_JOB),
    )
    spending = Spending(store=store, clock=clock, opentrain=opentrain)
    policy = load_policy(settings.agent_policy_file, settings.agent_tokens)
    gate = AgentGate(
        policy=policy,
        spending=spending,
        requests=PolicyRequests(
            store=store,
            clock=clock,
            cosign=cosign,
            spending=spending,
            policy=policy,
            channel=settings.policy_channel or settings.default_channel,
            on_effects=lambda: scheduler.kick(OUTBOX_JOB),
            approvers=approvers,
            router=router,
        ),
        cosign=cosign,
        store=store,
        clock=clock,
    )
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        opentrain=opentrain,
        slack=slack,
        pacer=pacer,
        channels=channels,
        notifier=notifier,
        tracker=tracker,
        waits=waits,
        activity=activity,
        trainer_replies=TrainerReplies(
            store=store, opentrain=opentrain, notifier=notifier, roles=roles, slack=slack
        ),
        cosign=cosign,
        router=router,
        scheduler=scheduler,
        roles=roles,
        people=people,
        approvers=approvers,
        reminders=reminders,
        escalations=escalations,
        home=home,
        gate=gate,
        metrics=metrics,
        owner=owner,
    )


def schedule(services: Services) -> None:
    interval = timedelta(seconds=services.settings.ot_poll_interval_seconds)
    services.scheduler.every(FEED_JOB, interval, services.tracker.poll_feed)
    lease = services.tracker.lease
    services.scheduler.every(LEASE_JOB, lease.heartbeat, lease.beat, synced=False)
    due_interval = timedelta(seconds=services.settings.due_check_interval_seconds)
    services.scheduler.every(DUE_JOB, due_interval, services.tracker.check_due)
    outbox_interval = timedelta(seconds=services.settings.outbox_interval_seconds)
    services.scheduler.every(OUTBOX_JOB, outbox_interval, services.notifier.drain)
    reminder_interval = timedelta(seconds=services.settings.reminder_interval_seconds)
    services.scheduler.every(REMINDER_JOB, reminder_interval, services.reminders.tick)
    services.scheduler.every(ESCALATION_JOB, reminder_interval, services.escalations.tick)
    services.scheduler.every(POLICY_JOB, reminder_interval, services.gate.requests.expire_due)
    services.scheduler.every(RETENTION_JOB, reminder_interval, services.apply_retention)
    settings = services.settings
    if settings.digest_channel and settings.digest_time is not None:
        digest = Digest(
            store=services.store,
            clock=services.clock,
            notifier=services.notifier,
            channel_id=settings.digest_channel,
            at=settings.digest_time,
        )
        services.scheduler.every(DIGEST_JOB, DIGEST_INTERVAL, digest.tick)


def build_bolt_app(services: Services) -> AsyncApp:
    settings = services.settings
    bolt = AsyncApp(
        client=services.slack,
        signing_secret=(
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None
        ),
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    # bolt logs the whole body of a request whose signature it rejects (set up while
    # building the app, so quiet it afterwards): our access log has the 401 already.
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
    handlers.register(bolt, services)
    return bolt


async def create_app(settings: Settings) -> web.Application:
    """The aiohttp application `python -m bot serve` runs: bolt + our routes + the schedule."""
    app, _ = await create_services_and_bolt(settings)
    return app


async def create_services_and_bolt(
    settings: Settings, *, store: Store | None = None, clock: Clock | None = None
) -> tuple[web.Application, AsyncApp]:
    services = await build_services(settings, store=store, clock=clock)
    bolt = build_bolt_app(services)
    schedule(services)
    app = build_web_app(services, bolt)
    app[SERVICES] = services

    async def start(_: web.Application) -> None:
        services.scheduler.start()
        log.info("bot started owner=%s", services.owner)

    async def answer_waiters(_: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for requests in flight: a waiter answered now
        # (with what is stored) cannot hold the shutdown for up to its waitSeconds.
        await services.waits.close()

    async def stop(_: web.Application) -> None:
        await services.scheduler.shutdown()
        try:
            await services.tracker.lease.resign()
        except StoreUnavailable:
            # The lease then lapses on its own after one TTL; the rest must still close.
            log.warning("feed lease not released: the store is unavailable")
        await services.opentrain.aclose()
        await services.pacer.aclose()
        await services.clock.aclose()
        await services.store.close()

    app.on_startup.append(start)
    app.on_shutdown.append(answer_waiters)
    app.on_cleanup.append(stop)
    return app, bolt
