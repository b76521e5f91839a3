"""What benchmarks 4–6 share beyond bench/common.py: thousands of pending approvals seeded
in seconds, a throwaway Redis, bots wired to in-process simulators, `/proc` readings.

Seeding writes what a bot would have left behind after adopting an approval and
posting its card — the OpenTrain simulator's approval (a milestone funding), the
store's record with its done card effect and two audit entries, and the card in
the Slack simulator — without 10 000 round trips through Slack and OpenTrain.
The simulators run in the benchmark's process, so their state is at hand.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bench.common import HOST, OT_TOKEN, SIGNING_SECRET, Proc, free_port, progress, wait_until
from bot import cards
from bot.audit_log import AuditEntry
from bot.cards.ids import OUTCOME_EVENT_TYPE
from bot.earlier_posts import EFFECT_METADATA_KEY
from bot.opentrain.models import Approval
from bot.outbox import EffectKind, effect
from bot.sandbox.opentrain import OpenTrainSim, wire
from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.sandbox.opentrain.ids import new_id
from bot.sandbox.opentrain.model import Approval as SimApproval
from bot.sandbox.opentrain.seed import DEMO_JOB_ID, freelancer
from bot.sandbox.opentrain.vocabulary import PENDING, ApprovalType, ProposalStatus
from bot.sandbox.slack import SlackSim
from bot.sandbox.slack.model import Channel, Message
from bot.store import Store
from bot.tracked_approvals import ApprovalDetails, Requester, TrackedApproval, adopt

# The Slack simulator's demo people; they take turns asking, like a team would.
REQUESTERS = ("U0ANA", "U0BEN", "U0KAI", "U0LEI")
MILESTONE_AMOUNT = Decimal("120.00")
SEED_CONCURRENCY = 50


# --- seeding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededApproval:
    approval_id: str
    channel_id: str
    card_ts: str


@asynccontextmanager
async def limited_simulators(scale: float) -> AsyncIterator[tuple[OpenTrainSim, SlackSim]]:
    """Both simulators in this process on loopback ports; Slack's rate limits enforced at
    time scale `scale`."""
    opentrain = OpenTrainSim(seed="demo")
    await opentrain.start(HOST, 0)
    slack = SlackSim(signing_secret=SIGNING_SECRET, rate_limits=True, rate_limit_scale=scale)
    await slack.start(HOST, 0)
    try:
        yield opentrain, slack
    finally:
        await slack.stop()
        await opentrain.stop()


async def seed_sqlite(
    opentrain: OpenTrainSim, slack: SlackSim, database: Path, *, approvals: int, channels: int
) -> list[SeededApproval]:
    """`approvals` pending approvals across `channels` new channels, with their cards posted,
    adopted into a new SQLite store at `database` (closed again)."""
    from bot.store.sqlite import SqliteStore  # the benchmarks on Redis never need it

    store = await SqliteStore.open(database)
    try:
        started = time.monotonic()
        seeded = await seed_pending(
            opentrain, slack, store, count=approvals, channels=add_channels(slack, channels)
        )
        progress(f"seeded {len(seeded)} in {time.monotonic() - started:.1f} s")
        return seeded
    finally:
        await store.close()


def add_channels(slack: SlackSim, count: int) -> list[str]:
    """`count` public channels with the bot and every requester in them."""
    state = slack.state
    ids = []
    for index in range(count):
        channel = Channel(
            id=f"C0BENCH{index:02d}",
            name=f"bench-{index:02d}",
            kind="public",
            members={*REQUESTERS, state.bot_user_id},
            created=int(state.clock()),
        )
        state.add_channel(channel)
        ids.append(channel.id)
    return ids


async def seed_pending(
    opentrain: OpenTrainSim, slack: SlackSim, store: Store, *, count: int, channels: Sequence[str]
) -> list[SeededApproval]:
    """`count` pending milestone fundings spread round-robin over `channels`, each tracked
    and with its card posted, as if the bot had adopted them one by one."""
    state = opentrain.state
    token = state.token(OT_TOKEN)
    assert token is not None, "the demo scenario has the full-access token"
    account = state.account(token.account_id)
    account.payment_method_on_file = True  # every confirm can charge the card on file
    job = state.jobs[DEMO_JOB_ID]
    contracts = []
    for index in range(len(channels)):
        proposal = state.add_proposal(
            job, freelancer("Bench", f"Team{index:02d}"), status=ProposalStatus.UNREVIEWED
        )
        contracts.append(state.add_contract(proposal, rate_usd=None))
    opentrain_host = opentrain.origin.split("://", 1)[1]
    records: list[tuple[TrackedApproval, SeededApproval]] = []
    for index in range(count):
        channel_id = channels[index % len(channels)]
        contract = contracts[index % len(channels)]
        milestone = state.add_milestone(
            contract,
            name=f"Batch {index + 1}",
            description="1 000 boxes, two reviewers",
            amount_usd=MILESTONE_AMOUNT,
        )
        now = state.now()
        # What `POST /milestones/{id}/fund` records, without its idempotency scan over every
        # approval (quadratic at 10 000): each milestone here is new, so none can match.
        approval_id = new_id("apr")
        state.approvals[approval_id] = SimApproval(
            id=approval_id,
            account_id=account.id,
            token_id=token.id,
            type=ApprovalType.MILESTONE_FUND,
            status=PENDING,
            job_id=contract.job_id,
            url=state.link(f"/approvals/{approval_id}"),
            created_at=now,
            expires_at=now + APPROVAL_TTL,
            contract_id=contract.id,
            milestone_id=milestone.id,
        )
        tracked = adopt(
            Approval.model_validate(wire.approval(state.approvals[approval_id])),
            requester=Requester(kind="slack", id=REQUESTERS[index % len(REQUESTERS)]),
            now=now,
            details=ApprovalDetails(
                job_title=job.title,
                freelancer_name=contract.freelancer.display_name,
                milestone_name=milestone.name,
                contract_title=contract.title,
                amount_usd=milestone.amount_usd,
            ),
            channel_id=channel_id,
        )
        card_ts = _post_card(slack, tracked, opentrain_host)
        permalink = (
            f"{slack.state.permalink_base}/archives/{channel_id}/p{card_ts.replace('.', '')}"
        )
        tracked = tracked.evolve(card_ts=card_ts, card_permalink=permalink)
        placed = SeededApproval(approval_id, channel_id, card_ts)
        records.append((tracked, placed))
    await _bounded(
        (_store_adopted(store, tracked, placed) for tracked, placed in records), SEED_CONCURRENCY
    )
    if state.events:
        # The bot starts reading the feed after everything seeded so far.
        await store.set_cursor(str(state.events[-1].id))
    return [placed for _, placed in records]


def _post_card(slack: SlackSim, tracked: TrackedApproval, opentrain_host: str) -> str:
    assert tracked.channel_id is not None
    state = slack.state
    card = cards.approval_card(tracked, now=datetime.now(UTC), opentrain_host=opentrain_host)
    kwargs = card.as_kwargs()
    metadata = kwargs["metadata"]
    card_effect = effect(tracked.approval_id, EffectKind.POST_CARD, tracked.adopted_at)
    metadata["event_payload"] = {**metadata["event_payload"], EFFECT_METADATA_KEY: card_effect.id}
    message = state.post(
        state.channels[tracked.channel_id],
        user=state.bot_user_id,
        text=kwargs["text"],
        blocks=kwargs["blocks"],
        metadata=metadata,
    )
    return message.ts


async def _store_adopted(store: Store, tracked: TrackedApproval, placed: SeededApproval) -> None:
    """The approval, its done card effect and the audit entries an adopt leaves behind."""
    posted = {
        "channel": placed.channel_id,
        "ts": placed.card_ts,
        "permalink": tracked.card_permalink,
    }
    card_effect = effect(tracked.approval_id, EffectKind.POST_CARD, tracked.adopted_at)
    done = card_effect.model_copy(update={"done": True, "attempts": 0, "result": posted})
    if not await store.add_approval(tracked, [done]):
        raise RuntimeError(f"{tracked.approval_id} was seeded twice")
    for action, actor, details in (
        ("adopted", f"slack:{tracked.requester.id}", {"status": "pending"}),
        ("card_posted", "bot", {"effect": card_effect.id, **posted}),
    ):
        await store.append_audit(
            AuditEntry(
                at=tracked.adopted_at,
                action=action,
                actor=actor,
                approval_id=tracked.approval_id,
                details=details,
            )
        )


async def _bounded(work: Iterable[Awaitable[None]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def run(job: Awaitable[None]) -> None:
        async with gate:
            await job

    await asyncio.gather(*(run(job) for job in work))


def confirm(opentrain: OpenTrainSim, approval_ids: Iterable[str]) -> None:
    """The humans confirm these approvals in OpenTrain (all in one go: no await between)."""
    for approval_id in approval_ids:
        opentrain.state.confirm(approval_id)


# --- reading the Slack simulator ----------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """What Slack shows for one approval's outcome, and when each part landed (epoch seconds)."""

    card_updates: int
    replies: int
    updated_at: float | None
    replied_at: float | None


def landing(slack: SlackSim, seeded: SeededApproval) -> Landing:
    card = slack.state.find_message(seeded.channel_id, seeded.card_ts)
    if card is None:
        return Landing(0, 0, None, None)
    replies = [m for m in slack.replies(seeded.channel_id, seeded.card_ts) if _is_outcome(m)]
    return Landing(
        card_updates=len(card.edits),
        replies=len(replies),
        updated_at=float(card.edits[0].replaced_at) if card.edits else None,
        replied_at=float(replies[0].ts) if replies else None,
    )


def _is_outcome(message: Message) -> bool:
    return (message.metadata or {}).get("event_type") == OUTCOME_EVENT_TYPE


def all_landed(slack: SlackSim, seeded: Sequence[SeededApproval]) -> bool:
    """Every card updated and every outcome reply posted."""
    for item in seeded:
        found = landing(slack, item)
        if not (found.card_updates and found.replies):
            return False
    return True


# --- processes ----------------------------------------------------------------------------------


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


async def start_redis() -> RedisServer:
    """`redis-server` on a free port, no persistence (the benchmark's data is throwaway)."""
    executable = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(process, port)

    async def answers() -> bool:
        try:
            _, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    await wait_until(answers, timeout=10, message="redis-server")
    return server


def sim_bot_env(
    opentrain: OpenTrainSim, slack: SlackSim, *, store_url: str, **settings: object
) -> dict[str, str]:
    """The environment of a bot wired to in-process simulators (`bench.common.bot_env` takes
    simulator processes); `settings` are extra Settings fields by name, upper-cased."""
    values: dict[str, object] = {
        "port": free_port(),
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "ot_api_token": OT_TOKEN,
        "ot_api_base_url": opentrain.origin,
        "redis_url" if store_url.startswith("redis") else "database_url": store_url,
        "log_level": "INFO",
        **settings,
    }
    return {name.upper(): str(value) for name, value in values.items()}


async def stop(proc: Proc) -> None:
    """SIGTERM and wait, in a thread: the simulators it may still call run in this loop."""
    await asyncio.to_thread(proc.stop)


def log_lines(proc: Proc, pattern: str) -> list[str]:
    """The lines of the process's log matching `pattern` (a regular expression)."""
    found = re.compile(pattern)
    text = proc.log.read_text(errors="replace") if proc.log.exists() else ""
    return [line for line in text.splitlines() if found.search(line)]


def proc_status(pid: int) -> dict[str, int]:
    """The memory lines of `/proc/<pid>/status` (VmRSS, VmHWM, …) in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name.startswith(("Vm", "Rss")) and rest.strip().endswith("kB"):
            values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
