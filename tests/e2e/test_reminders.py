"""DM reminders end to end: approvers in four time zones, quiet hours, snooze, the card's
"Remind approvers" button, and silence once an approval has resolved.

Time moves with the simulators' clock (`advance`), never by sleeping: each step
moves to just before an expected reminder (nothing new may arrive) and then
just after it (exactly the expected DMs must have arrived).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.cards import REMINDER_EVENT_TYPE, ActionId
from bot.opentrain.models import HireTerms
from bot.sandbox.runner import Sandbox
from bot.services import Services
from bot.store.kinds import REMIND_PRESSES, SENT_DMS, SNOOZES
from bot.tracked_approvals import Requester, TrackedApproval
from handlers.actions import remind_answer, snooze_answer
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

CHANNEL = "C0HIRING"
# Approvals requested at START expire 72 h later, on Thursday 13 Nov 2031 around 09:00 UTC.
START = datetime(2031, 11, 10, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
BERLIN = ZoneInfo("Europe/Berlin")
EVERYONE = ("U0ANA", "U0BEN", "U0KAI", "U0LEI", "U0GONE", "U0OTHERBOT")


@dataclass(frozen=True)
class Sent:
    """One reminder DM as the approver sees it."""

    user: str
    approval_id: str
    final: bool


# Without real Slack limits to respect, the notifier's pacing only slows the tests down.
UNPACED = {"slack_rate_limit_scale": 100.0}


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(**UNPACED)


# --- helpers (also used by the other issue-6 e2e tests) ---------------------------------


async def move_to(sandbox: Sandbox, when: datetime) -> None:
    """Move the simulators' clock forward to `when`, and have the bot follow it now."""
    seconds = (when - sandbox.opentrain.state.now()).total_seconds()
    if seconds > 0:
        sandbox.opentrain.state.advance(seconds)
    await sandbox.services.clock.sync()


async def run_reminders(*bots: Services) -> int:
    """One reminder tick and one outbox drain on each bot, as their scheduled jobs would."""
    queued = 0
    for services in bots:
        await services.clock.sync()
        queued += await services.reminders.tick()
    for services in bots:
        await services.notifier.drain()
    return queued


async def set_approvers(sandbox: Sandbox, channel: str, *members: str) -> None:
    """`/opentrain approvers set <#channel> <mentions…>` as Slack sends it."""
    mentions = " ".join(
        f"<!subteam^{m}|@group>" if m.startswith("S") else f"<@{m}|someone>" for m in members
    )
    result = await sandbox.slack.send_command(
        command="/opentrain",
        text=f"approvers set <#{channel}|channel> {mentions}",
        user_id="U0ANA",
        channel_id=channel,
    )
    assert result.status == 200

    async def stored() -> object:
        return (await sandbox.services.approvers.scope(channel)).tiers

    await wait_for(stored, message=f"approvers of {channel} stored")


async def hire(
    sandbox: Sandbox, proposal_id: str = "prop_ada", amount: str = "450", requester: str = "U0BEN"
) -> TrackedApproval:
    outcome = await sandbox.services.cosign.hire(
        proposal_id,
        HireTerms(name="Batch 1", description="10k boxes", amount=Decimal(amount)),
        requester=Requester(kind="slack", id=requester),
        channel_id=CHANNEL,
    )
    assert outcome.card.ts is not None, outcome.card
    return await current(sandbox, outcome.approval.approval_id)


async def fund(sandbox: Sandbox, milestone_id: str, requester: str = "U0KAI") -> TrackedApproval:
    outcome = await sandbox.services.cosign.fund(
        milestone_id, requester=Requester(kind="slack", id=requester), channel_id=CHANNEL
    )
    assert outcome.card.ts is not None, outcome.card
    return await current(sandbox, outcome.approval.approval_id)


async def current(sandbox: Sandbox, approval_id: str) -> TrackedApproval:
    stored = await sandbox.services.store.get_approval(approval_id)
    assert stored is not None
    return stored


async def wait_resolved(sandbox: Sandbox, approval_id: str) -> None:
    async def resolved() -> bool:
        return (await current(sandbox, approval_id)).status.is_terminal

    await wait_for(resolved, message=f"{approval_id} resolved")


def reminders_sent(sandbox: Sandbox, users: tuple[str, ...] = EVERYONE) -> list[Sent]:
    sent = []
    for user in users:
        for message in sandbox.slack.dms(user):
            metadata = message.metadata or {}
            if metadata.get("event_type") == REMINDER_EVENT_TYPE:
                payload = metadata["event_payload"]
                sent.append(Sent(user, str(payload["approvalId"]), bool(payload["final"])))
    return sent


async def audit_actions(sandbox: Sandbox, approval_id: str) -> list[tuple[str, str, dict]]:
    entries = await sandbox.services.store.read_audit(approval_id=approval_id)
    return [(e.action, e.actor, e.details) for e in entries]


# --- the whole schedule ------------------------------------------------------------------


async def test_each_approver_is_reminded_at_their_own_times(sandbox: Sandbox) -> None:
    # Ana (Berlin) directly and through #finance-team with Ben (New York), Kai (Auckland,
    # UTC+13 in November), Lei (Honolulu, UTC−10), a deactivated user and a bot.
    await set_approvers(sandbox, CHANNEL, "U0ANA", "S0FINANCE", "U0KAI", "U0LEI", "U0GONE")
    await sandbox.services.approvers.change(CHANNEL, "add", ["U0OTHERBOT"], by_user="U0ANA")
    await move_to(sandbox, START)
    approval = await hire(sandbox)
    expires = approval.expires_at
    first, last = expires - timedelta(hours=24), expires - timedelta(hours=2)
    assert first.astimezone(UTC).hour == 9 and last.astimezone(UTC).hour == 7

    aid = approval.approval_id
    # Ben asked for it, so Ben is never reminded (four eyes), though #finance-team names him.
    schedule = [
        (first, Sent("U0ANA", aid, False)),  # 10:00 in Berlin
        (datetime(2031, 11, 12, 18, 0, tzinfo=UTC), Sent("U0LEI", aid, False)),  # 08:00 HST
        (datetime(2031, 11, 12, 19, 0, tzinfo=UTC), Sent("U0KAI", aid, False)),  # 08:00 NZDT
        # The last reminder goes at 2 h before expiry for everyone, quiet hours or not
        # (20:00 in Auckland, 21:00 in Honolulu).
        *((last, Sent(user, aid, True)) for user in ("U0ANA", "U0KAI", "U0LEI")),
    ]
    expected: list[Sent] = []
    for instant in sorted({at for at, _ in schedule}):
        await move_to(sandbox, instant - MINUTE)
        await run_reminders(sandbox.services)
        assert sorted(reminders_sent(sandbox), key=repr) == sorted(expected, key=repr)
        await move_to(sandbox, instant + timedelta(seconds=1))
        await run_reminders(sandbox.services)
        expected += [sent for at, sent in schedule if at == instant]
        want = sorted(expected, key=repr)
        await wait_for(
            lambda want=want: sorted(reminders_sent(sandbox), key=repr) == want,
            message=f"the reminders due at {instant:%d %b %H:%M} UTC",
        )

    # Nothing more until it expires; nobody ever DMs the deactivated user or the bot.
    await move_to(sandbox, expires - MINUTE)
    assert await run_reminders(sandbox.services) == 0
    assert len(reminders_sent(sandbox)) == 6
    assert sandbox.slack.dms("U0GONE") == [] and sandbox.slack.dms("U0OTHERBOT") == []
    assert sandbox.slack.dms("U0BEN") == []

    # The DM says what, how much, who asked, and links to OpenTrain and to the card.
    last_dm = json.dumps(sandbox.slack.dms("U0KAI")[-1].blocks)
    assert "Last reminder" in last_dm and "$504.95" in last_dm and "<@U0BEN>" in last_dm
    assert f"/approvals/{aid}" in last_dm and approval.card_permalink
    assert approval.card_permalink in last_dm

    audit = await audit_actions(sandbox, aid)
    reminded = [(d["user"], d["slot"]) for action, _, d in audit if action == "reminder"]
    assert sorted(reminded) == sorted(
        (user, slot) for user in ("U0ANA", "U0KAI", "U0LEI") for slot in ("before-24h", "before-2h")
    )
    skipped = [(d["user"], d["reason"]) for action, _, d in audit if action == "reminder_skipped"]
    assert sorted(skipped) == [
        ("U0GONE", "deactivated"),
        ("U0GONE", "deactivated"),
        ("U0OTHERBOT", "bot"),
        ("U0OTHERBOT", "bot"),
    ]


async def test_reminders_stop_once_the_approval_is_resolved(sandbox: Sandbox) -> None:
    await set_approvers(sandbox, CHANNEL, "U0ANA")
    await move_to(sandbox, START)
    confirmed = await hire(sandbox, "prop_ada")
    declined = await fund(sandbox, "ms_batch2")
    expires = confirmed.expires_at

    await move_to(sandbox, expires - timedelta(hours=24) + MINUTE)
    await run_reminders(sandbox.services)
    await wait_for(lambda: len(reminders_sent(sandbox)) == 2, message="the 24 h reminders")

    sandbox.opentrain.state.confirm(confirmed.approval_id)
    sandbox.opentrain.state.decline(declined.approval_id)
    for approval_id in (confirmed.approval_id, declined.approval_id):
        await wait_resolved(sandbox, approval_id)

    await move_to(sandbox, expires - timedelta(hours=2) + MINUTE)
    assert await run_reminders(sandbox.services) == 0
    assert [sent.final for sent in reminders_sent(sandbox)] == [False, False]


@pytest.mark.parametrize("ending", ["declined", "expired"])
async def test_reminder_dms_lose_their_buttons_once_the_approval_ends(
    sandbox: Sandbox, ending: str
) -> None:
    await set_approvers(sandbox, CHANNEL, "U0ANA")
    await move_to(sandbox, START)
    approval = await fund(sandbox, "ms_batch2")
    await move_to(sandbox, approval.expires_at - timedelta(hours=24) + MINUTE)
    await run_reminders(sandbox.services)
    [dm] = await wait_for(lambda: sandbox.slack.dms("U0ANA"), message="the 24 h reminder")
    assert ActionId.SNOOZE_REMINDER.value in json.dumps(dm.blocks)

    if ending == "declined":
        sandbox.opentrain.state.decline(approval.approval_id)
    else:
        await move_to(sandbox, approval.expires_at + MINUTE)
    await wait_resolved(sandbox, approval.approval_id)

    def retired() -> bool:
        return not any(block["type"] == "actions" for block in dm.blocks)

    await wait_for(retired, message="the reminder DM without its buttons")
    assert [message.ts for message in sandbox.slack.dms("U0ANA")] == [dm.ts]  # edited, not new
    assert ending in dm.text.lower() or ending in json.dumps(dm.blocks).lower()

    async def forgotten() -> bool:  # once retired, nothing is kept of it
        return await sandbox.services.store.list_records(SENT_DMS) == {}

    await wait_for(forgotten, message="the retired DM forgotten")


# --- snooze -------------------------------------------------------------------------------


async def test_snooze_reminds_again_four_hours_later_and_the_last_still_goes(
    sandbox: Sandbox,
) -> None:
    await set_approvers(sandbox, CHANNEL, "U0ANA")
    await move_to(sandbox, START)
    approval = await hire(sandbox)
    expires = approval.expires_at

    await move_to(sandbox, expires - timedelta(hours=24) + MINUTE)
    await run_reminders(sandbox.services)
    dm = (await wait_for(lambda: sandbox.slack.dms("U0ANA"), message="first reminder"))[0]
    assert ActionId.SNOOZE_REMINDER.value in json.dumps(dm.blocks)

    pressed = sandbox.services.clock.now()
    await sandbox.slack.click(
        user_id="U0ANA",
        action_id=ActionId.SNOOZE_REMINDER.value,
        channel_id=dm.channel,
        message_ts=dm.ts,
    )
    answer = await wait_for(
        lambda: [e for e in sandbox.slack.ephemerals("U0ANA") if e.channel == dm.channel],
        message="snooze answer",
    )
    back = (pressed + timedelta(hours=4)).astimezone(BERLIN)
    assert f"{back:%H:%M} (Europe/Berlin)" in answer[0].text and "next reminder" in answer[0].text

    await move_to(sandbox, pressed + timedelta(hours=4) - MINUTE)
    assert await run_reminders(sandbox.services) == 0
    assert len(reminders_sent(sandbox)) == 1
    await move_to(sandbox, pressed + timedelta(hours=4) + MINUTE)
    await run_reminders(sandbox.services)
    await wait_for(
        lambda: [s.final for s in reminders_sent(sandbox)] == [False, False],
        message="the snoozed reminder",
    )
    await move_to(sandbox, expires - timedelta(hours=2) + MINUTE)
    await run_reminders(sandbox.services)
    await wait_for(
        lambda: [s.final for s in reminders_sent(sandbox)] == [False, False, True],
        message="the last reminder",
    )
    snoozes = [
        d
        for action, _, d in await audit_actions(sandbox, approval.approval_id)
        if action == "snooze"
    ]
    assert len(snoozes) == 1


# --- "Remind approvers" on the card ---------------------------------------------------------


async def test_remind_approvers_button_reminds_now_at_most_once_an_hour(sandbox: Sandbox) -> None:
    await set_approvers(sandbox, CHANNEL, "S0FINANCE", "U0GONE")
    await move_to(sandbox, START)
    approval = await hire(sandbox, requester="U0KAI")
    assert approval.card_ts is not None

    async def press() -> str:
        before = len(sandbox.slack.ephemerals("U0KAI"))
        await sandbox.slack.click(
            user_id="U0KAI",
            action_id=ActionId.REMIND_APPROVERS.value,
            channel_id=CHANNEL,
            message_ts=approval.card_ts,
        )
        answers = await wait_for(
            lambda: sandbox.slack.ephemerals("U0KAI")[before:], message="answer to the press"
        )
        return answers[0].text

    assert "Reminded 2 approvers" in await press()
    await wait_for(lambda: len(reminders_sent(sandbox)) == 2, message="reminders now")
    assert {s.user for s in reminders_sent(sandbox)} == {"U0ANA", "U0BEN"}

    await move_to(sandbox, sandbox.services.clock.now() + timedelta(minutes=59))
    assert "already reminded within the hour" in await press()
    await sandbox.services.notifier.drain()
    assert len(reminders_sent(sandbox)) == 2

    await move_to(sandbox, sandbox.services.clock.now() + timedelta(minutes=2))
    assert "Reminded 2 approvers" in await press()
    await wait_for(lambda: len(reminders_sent(sandbox)) == 4, message="reminders again")

    audit = await audit_actions(sandbox, approval.approval_id)
    assert [(a, actor) for a, actor, _ in audit if a == "reminder"] == [
        ("reminder", "slack:U0KAI")
    ] * 4
    assert [d["user"] for a, _, d in audit if a == "reminder_skipped"] == ["U0GONE", "U0GONE"]


async def test_remind_approvers_without_approvers_says_how_to_set_them(sandbox: Sandbox) -> None:
    approval = await hire(sandbox)
    reminders = sandbox.services.reminders
    nobody = await reminders.remind_now(approval.approval_id, by_user="U0KAI")
    assert nobody.status == "sent" and nobody.reminded == ()
    assert "no approvers are set" in remind_answer(nobody).text
    # Nothing was sent, so nothing is throttled: once approvers exist, the button works.
    await set_approvers(sandbox, CHANNEL, "U0LEI")
    again = await reminders.remind_now(approval.approval_id, by_user="U0KAI")
    assert again.reminded == ("U0LEI",)
    await sandbox.services.notifier.drain()
    await wait_for(lambda: len(reminders_sent(sandbox)) == 1, message="Lei reminded")


async def test_remind_and_snooze_on_a_resolved_approval_say_so(sandbox: Sandbox) -> None:
    # The card loses its button when the approval resolves, but a DM keeps its Snooze and
    # a click can race with the outcome: both answer that nothing is left to remind.
    await set_approvers(sandbox, CHANNEL, "U0ANA")
    approval = await fund(sandbox, "ms_batch2")
    sandbox.opentrain.state.confirm(approval.approval_id)
    await wait_resolved(sandbox, approval.approval_id)
    reminders = sandbox.services.reminders
    remind = await reminders.remind_now(approval.approval_id, by_user="U0KAI")
    assert remind.status == "not_pending"
    assert "no longer pending" in remind_answer(remind).text
    snoozed = await reminders.snooze(approval.approval_id, "U0ANA")
    assert not snoozed.pending and "no longer pending" in snooze_answer(snoozed).text
    assert await run_reminders(sandbox.services) == 0
    assert reminders_sent(sandbox) == []


async def test_snoozes_and_remind_throttles_are_forgotten_once_their_approval_ends(
    sandbox: Sandbox,
) -> None:
    await set_approvers(sandbox, CHANNEL, "U0ANA")
    await move_to(sandbox, START)
    ending = await hire(sandbox, "prop_ada")
    staying = await fund(sandbox, "ms_batch2")
    reminders, store = sandbox.services.reminders, sandbox.services.store
    for approval in (ending, staying):
        assert (await reminders.snooze(approval.approval_id, "U0ANA")).pending
        assert (await reminders.remind_now(approval.approval_id, by_user="U0KAI")).reminded

    sandbox.opentrain.state.confirm(ending.approval_id)
    await wait_resolved(sandbox, ending.approval_id)
    await run_reminders(sandbox.services)
    assert await sandbox.services.forget_stale() == 2

    assert list(await store.list_records(SNOOZES)) == [f"{staying.approval_id}:U0ANA"]
    assert list(await store.list_records(REMIND_PRESSES)) == [staying.approval_id]
    # The approval still pending keeps its throttle: pressing again within the hour waits.
    again = await reminders.remind_now(staying.approval_id, by_user="U0KAI")
    assert again.status == "throttled"


# --- the requester hears about expiry ---------------------------------------------------------


async def test_the_requester_gets_a_dm_with_request_again_when_it_expires(
    sandbox: Sandbox,
) -> None:
    await move_to(sandbox, START)
    approval = await hire(sandbox, requester="U0BEN")
    await move_to(sandbox, approval.expires_at + timedelta(seconds=10))
    await sandbox.services.tracker.check_due()  # the read that finds it expired, now
    await wait_resolved(sandbox, approval.approval_id)
    dm = await wait_for(lambda: sandbox.slack.dms("U0BEN"), message="requester DM")
    assert "expired" in dm[0].text
    assert ActionId.REQUEST_AGAIN.value in json.dumps(dm[0].blocks)
    assert (await current(sandbox, approval.approval_id)).status.value == "expired"


async def test_an_approval_tracked_within_two_hours_of_expiry_reminds_at_once(
    sandbox: Sandbox,
) -> None:
    # Requested straight at OpenTrain (no card), then tracked an hour before it expires.
    await set_approvers(sandbox, CHANNEL, "U0LEI")
    await move_to(sandbox, START)
    requested = await sandbox.services.opentrain.hire(
        "prop_ada", HireTerms(name="Batch 1", description="10k boxes", amount=Decimal(450))
    )
    expires = requested.approval.expires_at
    await move_to(sandbox, expires - timedelta(hours=1))
    tracked = await sandbox.services.cosign.track(
        requested.approval.id, requester=Requester(kind="slack", id="U0BEN"), channel_id=CHANNEL
    )
    assert tracked.created
    await run_reminders(sandbox.services)
    await wait_for(
        lambda: reminders_sent(sandbox) == [Sent("U0LEI", requested.approval.id, True)],
        message="the last reminder, at once",
    )
    await move_to(sandbox, expires - timedelta(minutes=5))
    assert await run_reminders(sandbox.services) == 0
