"""`kill -9` of the bot at random points of the full lifecycle, over many runs: nothing lost,
nothing doubled.

Each run is one lifecycle against fresh simulators and a fresh store (SQLite and Redis
in turn): four approvals are requested (two by an agent through the bot, two pasted
in Slack with `/opentrain track`), an approver is reminded a day before expiry, one
approval is confirmed and one declined, the other two get their last reminder and
then expire. Meanwhile a killer SIGKILLs the running `python -m bot serve` whenever a
seeded RNG says so — after a random number of the bot's calls to Slack or OpenTrain,
or a random moment — and starts a successor on the same store. People and agents
repeat what got no answer, as they would; the clock is moved past the claims a dead
process held. Runs repeat until FAULT_KILLS kills (default sized for CI) have landed.

At the end of every run, every approval's card shows its outcome with exactly one
thread reply, every reminder and requester DM arrived exactly once, and no message of
the bot's was posted twice. The counts are printed as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.cards.ids import REMINDER_EVENT_TYPE, REQUESTER_DM_EVENT_TYPE
from bot.deliveries import CLAIM_LEASE
from bot.sandbox.opentrain.vocabulary import ProposalStatus
from bot.store import RedisStore, SqliteStore, Store
from bot.store.factory import sqlite_path
from tests.support.bot_harness import ROOMY_POLICY
from tests.support.processes import (
    CHANNEL,
    USER,
    BotProcess,
    Deployment,
    card,
    card_text,
    deployment,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
)
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_for

KILLS = int(os.environ.get("FAULT_KILLS", "50"))
SEED = int(os.environ.get("FAULT_SEED", "8"))
APPROVER = "U0BEN"
AGENT_TOKEN = "agent-token-planner-0123456789"
BOT_SETTINGS: dict[str, Any] = {
    "agent_tokens": f"planner:{AGENT_TOKEN}",
    "agent_policy_file": ROOMY_POLICY,  # its agent asks again and again after each kill
    "quiet_hours": "00:00-00:00",  # none: every reminder goes at its time
    "reminder_interval_seconds": 0.2,
}
PHASES = ("requests", "reminders", "outcomes", "last reminders", "expiry")
KILLS_PER_RUN = 8
# A wait that has not moved for this long may be held up by a claim (the killer frees the
# claims of each process it kills; this is the safety net for anything claimed longer).
STUCK_SECONDS = 3.0
ASK_AGAIN_SECONDS = 2.0
PHASE_TIMEOUT = 90.0
# At most this many bot calls (to Slack or OpenTrain) between a successor's start and its
# kill, or this long, whichever comes first.
KILL_AFTER_CALLS = (1, 12)
KILL_AFTER_SECONDS = (0.2, 2.0)


@dataclass
class Killer:
    """Keeps one bot process running, and SIGKILLs it at random points of each phase.

    `quota` says how many kills each phase of the run gets; the driver does not leave a
    phase before its kills have landed (and a successor is serving).
    """

    env: Deployment
    rng: random.Random
    quota: Counter[str]
    settings: dict[str, Any]
    bot: BotProcess | None = None
    kills: Counter[str] = field(default_factory=Counter)
    phase: str = "start"
    stopping: bool = False
    respawning: bool = False

    @property
    def url(self) -> str:
        assert self.bot is not None
        return self.bot.url

    async def start(self) -> None:
        self.bot = await self.env.spawn_bot(**self.settings)

    async def run(self) -> None:
        while not self.stopping:
            phase = self.phase
            if self.kills[phase] >= self.quota[phase]:
                await wait_for(
                    lambda p=phase: self.stopping or self.phase != p,
                    timeout=5 * PHASE_TIMEOUT,
                    message="the next phase",
                )
                continue
            calls_before = bot_calls(self.env)
            calls = self.rng.randint(*KILL_AFTER_CALLS)
            deadline = time.monotonic() + self.rng.uniform(*KILL_AFTER_SECONDS)
            await wait_for(
                lambda c=calls_before, n=calls, d=deadline: (
                    self.stopping or bot_calls(self.env) - c >= n or time.monotonic() >= d
                ),
                interval=0.005,
                timeout=30,
                message="a point to kill at",
            )
            if self.stopping:
                return
            assert self.bot is not None
            self.respawning = True
            self.bot.kill()
            self.kills[phase] += 1
            # What the dead process had claimed stays its own until the claim's lease
            # lapses on the bot's clock (the simulator's): let that happen now.
            self.env.opentrain.state.advance(CLAIM_LEASE.total_seconds() + 1)
            self.bot = await self.env.spawn_bot(**self.settings)
            self.respawning = False

    async def spent(self, phase: str) -> None:
        """Until `phase` has had its kills and a successor is serving."""
        await wait_for(
            lambda: self.kills[phase] >= self.quota[phase] and not self.respawning,
            timeout=PHASE_TIMEOUT,
            message=f"the kills of phase {phase}",
        )


def bot_calls(env: Deployment) -> int:
    """Calls the bots made to Slack and OpenTrain, the routine feed polls left out."""
    opentrain = sum(1 for entry in env.opentrain.requests.since(0) if entry["path"] != "/updates")
    return opentrain + sum(env.slack.state.api_calls.values())


@dataclass(frozen=True)
class Expected:
    """What the run's four approvals must end with."""

    outcome: str  # as the card shows it
    final_reminder: bool
    requester_dm: bool


@dataclass
class Run:
    env: Deployment
    killer: Killer
    approvals: dict[str, Expected] = field(default_factory=dict)
    stuck_since: float = field(default_factory=time.monotonic)
    last_progress: Any = None

    # --- waiting, with time passing past dead processes' claims -----------------------------
    async def until(
        self,
        condition: Callable[[], bool],
        what: str,
        ask: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Wait for `condition`; repeat `ask` while it goes unanswered; move the clock when stuck.

        A process killed while holding claims (effects, due checks) keeps them until their
        lease lapses on the bot's clock, which is the OpenTrain simulator's: moving it
        CLAIM_LEASE ahead hands them to the successor.
        """
        asked_at = -ASK_AGAIN_SECONDS
        self.stuck_since = time.monotonic()

        async def check() -> bool:
            nonlocal asked_at
            if condition():
                return True
            now = time.monotonic()
            if ask is not None and now - asked_at >= ASK_AGAIN_SECONDS:
                asked_at = now
                await ask()
            progress = bot_calls(self.env)
            if progress != self.last_progress:
                self.last_progress, self.stuck_since = progress, now
            elif now - self.stuck_since > STUCK_SECONDS:
                self.env.opentrain.state.advance(CLAIM_LEASE.total_seconds() + 1)
                self.stuck_since = now
            return condition()

        await wait_for(check, interval=0.05, timeout=PHASE_TIMEOUT, message=what)

    def move_to(self, instant: datetime) -> None:
        seconds = (instant - self.env.opentrain.state.now()).total_seconds()
        if seconds > 0:
            self.env.opentrain.state.advance(seconds)

    async def enter(self, phase: str) -> None:
        """Leave the current phase once its kills have landed; start `phase`."""
        await self.killer.spent(self.killer.phase)
        self.killer.phase = phase

    # --- asking, as an agent and as a person ----------------------------------------------------
    async def agent_hire(self, proposal_id: str) -> None:
        body = {
            "proposalId": proposal_id,
            "milestone": {"name": "Batch 1", "description": "10k boxes", "amount": 100},
        }
        try:
            async with httpx.AsyncClient(base_url=self.killer.url, timeout=10) as http:
                await http.post(
                    "/agent/v1/hire",
                    json=body,
                    headers={"Authorization": f"Bearer {AGENT_TOKEN}"},
                )
        except httpx.TransportError:
            pass  # the bot died under the request: the agent asks again

    async def track(self, approval_id: str) -> None:
        await self.env.slack.send_command(
            command="/opentrain", text=f"track {approval_id}", user_id=USER, channel_id=CHANNEL
        )

    # --- the lifecycle ----------------------------------------------------------------------
    async def lifecycle(self) -> None:
        env, state = self.env, self.env.opentrain.state
        self.killer.phase = "approvers"  # no kills: the run's set-up
        await self.until(
            lambda: approvers_set(env),
            "the approvers of the channel",
            ask=lambda: set_approvers(env),
        )

        await self.enter("requests")
        agent_proposals = new_proposals(env, 2)
        elsewhere = [await request_hire(env.opentrain, p) for p in new_proposals(env, 2)]
        for proposal_id in agent_proposals:
            await self.until(
                lambda p=proposal_id: card_of_proposal(env, p) is not None,
                f"the card of the agent's hire on {proposal_id}",
                ask=lambda p=proposal_id: self.agent_hire(p),
            )
        for approval_id in elsewhere:
            await self.until(
                lambda a=approval_id: card(env.slack, a) is not None,
                f"the card of tracked {approval_id}",
                ask=lambda a=approval_id: self.track(a),
            )
        by_agent = [str(card_of_proposal(env, p)) for p in agent_proposals]
        confirmed, expiring_agent = by_agent
        declined, expiring_person = elsewhere
        self.approvals = {
            confirmed: Expected("Confirmed", final_reminder=False, requester_dm=False),
            declined: Expected("Declined", final_reminder=False, requester_dm=False),
            expiring_agent: Expected("Expired", final_reminder=True, requester_dm=False),
            expiring_person: Expected("Expired", final_reminder=True, requester_dm=True),
        }
        expiries = [state.approvals[a].expires_at for a in self.approvals]
        assert max(expiries) - min(expiries) < timedelta(hours=1), "requests spread too far"

        await self.enter("reminders")
        self.move_to(max(expiries) - timedelta(hours=24) + timedelta(minutes=1))
        await self.until(
            lambda: all(reminded(env, a, final=False) for a in self.approvals),
            "the reminders a day before expiry",
        )

        await self.enter("outcomes")
        state.confirm(confirmed)
        state.decline(declined)
        state.advance(10)  # past the hold on a declined hire
        await self.until(
            lambda: resolved(env.slack, confirmed) and resolved(env.slack, declined),
            "the confirmation and the decline",
        )

        await self.enter("last reminders")
        self.move_to(max(expiries) - timedelta(hours=2) + timedelta(minutes=1))
        assert state.now() < min(expiries)
        await self.until(
            lambda: all(reminded(env, a, final=True) for a in (expiring_agent, expiring_person)),
            "the last reminders",
        )

        await self.enter("expiry")
        self.move_to(max(expiries) + timedelta(seconds=10))
        await self.until(
            lambda: (
                all(resolved(env.slack, a) for a in self.approvals) and len(requester_dms(env)) >= 1
            ),
            "every outcome",
        )
        await self.killer.spent(self.killer.phase)


# --- reading Slack ---------------------------------------------------------------------------


def card_of_proposal(env: Deployment, proposal_id: str) -> str | None:
    """The approval id of the hire on `proposal_id`, once its card is in the channel."""
    for approval in env.opentrain.state.approvals.values():
        if approval.proposal_id == proposal_id and card(env.slack, approval.id) is not None:
            return approval.id
    return None


def dm_messages(env: Deployment, user: str, event_type: str) -> list[dict[str, Any]]:
    return [
        dict((m.metadata or {}).get("event_payload") or {})
        for m in env.slack.dms(user)
        if (m.metadata or {}).get("event_type") == event_type
    ]


def reminders(env: Deployment) -> Counter[tuple[str, bool]]:
    sent = dm_messages(env, APPROVER, REMINDER_EVENT_TYPE)
    return Counter((str(p["approvalId"]), bool(p["final"])) for p in sent)


def reminded(env: Deployment, approval_id: str, *, final: bool) -> bool:
    return reminders(env)[(approval_id, final)] >= 1


def requester_dms(env: Deployment) -> list[dict[str, Any]]:
    return dm_messages(env, USER, REQUESTER_DM_EVENT_TYPE)


def approvers_set(env: Deployment) -> bool:
    """The answer to `/opentrain approvers set` lists the approver."""
    return any(APPROVER in json.dumps(e.blocks) for e in env.slack.ephemerals(USER))


async def set_approvers(env: Deployment) -> None:
    await env.slack.send_command(
        command="/opentrain",
        text=f"approvers set <#{CHANNEL}|hiring> <@{APPROVER}|ben>",
        user_id=USER,
        channel_id=CHANNEL,
    )


def new_proposals(env: Deployment, count: int) -> list[str]:
    return [
        env.opentrain.state.add_demo_proposal(
            "Run", f"Labeler{index}", status=ProposalStatus.UNREVIEWED, bid_amount_usd=Decimal(100)
        ).id
        for index in range(count)
    ]


def dm_channels(env: Deployment) -> list[str]:
    return [c.id for user in (USER, APPROVER) if (c := env.slack.state.dm_channel(user))]


# --- the test ----------------------------------------------------------------------------------


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    outcomes: int = 0
    lost_outcomes: int = 0
    replies: int = 0
    duplicate_replies: int = 0
    reminders: int = 0
    lost_reminders: int = 0
    duplicate_reminders: int = 0
    requester_dms: int = 0
    duplicate_posts: int = 0


async def open_store(settings: dict[str, Any]) -> Store:
    if "redis_url" in settings:
        return await RedisStore.connect(settings["redis_url"])
    return await SqliteStore.open(sqlite_path(settings["database_url"]))


async def settled(run: Run, settings: dict[str, Any]) -> None:
    """Wait until the outbox is empty, then let the last bot poll a few more times."""
    store = await open_store(settings)
    try:

        async def empty() -> bool:
            return await store.count_effects(done=False) == 0

        await wait_for(empty, timeout=PHASE_TIMEOUT, message="the outbox drained")
    finally:
        await store.close()
    polls = len(run.env.opentrain.requests)
    await wait_for(lambda: len(run.env.opentrain.requests) >= polls + 5, message="a few more polls")


def count(run: Run, tally: Tally) -> None:
    env = run.env
    sent = reminders(env)
    for approval_id, expected in run.approvals.items():
        tally.outcomes += 1
        replies = len(outcome_replies(env.slack, approval_id))
        tally.replies += replies
        tally.duplicate_replies += max(0, replies - 1)
        if replies == 0 or expected.outcome not in card_text(env.slack, approval_id):
            tally.lost_outcomes += 1
        for final in (False, True):
            owed = 1 if not final or expected.final_reminder else 0
            got = sent[(approval_id, final)]
            tally.reminders += got
            tally.lost_reminders += max(0, owed - got)
            tally.duplicate_reminders += max(0, got - owed)
    dms = Counter(str(p["approvalId"]) for p in requester_dms(env))
    tally.requester_dms += sum(dms.values())
    owed_dms = {a for a, expected in run.approvals.items() if expected.requester_dm}
    assert set(dms) == owed_dms and set(dms.values()) <= {1}, dms
    posts = effect_posts(env.slack, CHANNEL, *dm_channels(env))
    tally.duplicate_posts += sum(n - 1 for n in posts.values() if n > 1)


@pytest.mark.timeout(120 + 8 * KILLS)
async def test_kill_minus_nine_at_random_points_loses_and_doubles_nothing(
    tmp_path: Path, redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    tally = Tally()
    started = time.monotonic()
    while sum(tally.kills.values()) < KILLS:
        number = sum(tally.runs.values())
        backend = "sqlite" if number % 2 == 0 else "redis"
        data_dir = tmp_path / f"run-{number}"
        data_dir.mkdir()
        settings = dict(BOT_SETTINGS)
        if backend == "redis":
            if not redis_server.running:
                redis_server.start()
            with redis_server.client() as client:
                client.flushdb()
            settings["redis_url"] = redis_server.url
        async with deployment(data_dir) as env:
            kills = min(KILLS_PER_RUN, KILLS - sum(tally.kills.values()))
            quota = Counter(rng.choice(PHASES) for _ in range(kills))
            killer = Killer(env, rng, quota, settings)
            run = Run(env, killer)
            await killer.start()
            killing = asyncio.create_task(killer.run())
            try:
                await run.lifecycle()
            finally:
                killer.stopping = True
                await killing
            assert killer.bot is not None and killer.bot.alive
            env.opentrain.state.advance(CLAIM_LEASE.total_seconds() + 1)  # free dead claims
            await settled(run, env.settings(**settings))
            count(run, tally)
        tally.kills.update(killer.kills)
        tally.runs[backend] += 1

    report = {
        "kills": sum(tally.kills.values()),
        "kills_by_phase": dict(tally.kills),
        "runs": dict(tally.runs),
        "seed": SEED,
        "outcomes": tally.outcomes,
        "lost_outcomes": tally.lost_outcomes,
        "replies": tally.replies,
        "duplicate_replies": tally.duplicate_replies,
        "reminders": tally.reminders,
        "lost_reminders": tally.lost_reminders,
        "duplicate_reminders": tally.duplicate_reminders,
        "requester_dms": tally.requester_dms,
        "duplicate_posts": tally.duplicate_posts,
        "seconds": round(time.monotonic() - started, 1),
    }
    with capsys.disabled():
        print("\nfault.process_kills " + json.dumps(report))
    assert report["kills"] == KILLS
    assert tally.lost_outcomes == 0 and tally.lost_reminders == 0
    assert tally.duplicate_replies == 0 and tally.duplicate_reminders == 0
    assert tally.duplicate_posts == 0
    assert tally.replies == tally.outcomes
