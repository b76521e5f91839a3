"""The store contract: routes and typed settings records, with their retention, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from bot.agent_asks import AgentAsk, PolicyRequest
from bot.opentrain.models import HireTerms
from bot.store import Store
from bot.store.kinds import (
    APPROVERS,
    DIGEST_POSTED,
    FEED_HEALTH,
    HIRE_DRAFTS,
    KINDS,
    POLICY_REQUESTS,
    REMIND_PRESSES,
    SNOOZES,
    FeedHealth,
    HireDraftRecord,
    Kind,
    Press,
    SnoozeRecord,
)
from bot.store.retention import forget_stale
from bot.tracked_approvals import TrackedStatus
from tests.integration.store.support import (
    T0,
    tracked,
)

# --- routes -------------------------------------------------------------------------------


async def test_routes(store: Store) -> None:
    assert await store.get_route("job:1") is None
    await store.set_route("job:1", "C1")
    await store.set_route("job:1", "C2")
    await store.set_route("type:proposal_hire", "C3")
    assert await store.get_route("job:1") == "C2"
    assert await store.list_routes() == {"job:1": "C2", "type:proposal_hire": "C3"}
    assert await store.delete_route("job:1") is True
    assert await store.delete_route("job:1") is False
    assert await store.list_routes() == {"type:proposal_hire": "C3"}


# --- typed settings records ------------------------------------------------------------------


async def test_a_record_reads_back_as_its_kind(store: Store) -> None:
    assert await store.get_record(APPROVERS, "C1") is None
    await store.put_record(APPROVERS, "C1", ["U1", "S1"])
    await store.put_record(APPROVERS, "C1", ["U2"])
    await store.put_record(APPROVERS, "global", ["U3"])
    snooze = SnoozeRecord(at=T0, until=T0 + timedelta(hours=4))
    await store.put_record(SNOOZES, "apr_1:U1", snooze)
    await store.put_record(FEED_HEALTH, "", FeedHealth(healthy=False, at=T0, by="one"))
    await store.put_record(DIGEST_POSTED, "", "2030-01-01")

    assert await store.get_record(APPROVERS, "C1") == ["U2"]
    assert await store.list_records(APPROVERS) == {"C1": ["U2"], "global": ["U3"]}
    read = await store.get_record(SNOOZES, "apr_1:U1")
    assert read == snooze and isinstance(read, SnoozeRecord)
    assert await store.get_record(FEED_HEALTH) == FeedHealth(healthy=False, at=T0, by="one")
    assert await store.get_record(DIGEST_POSTED) == "2030-01-01"
    assert await store.list_records(REMIND_PRESSES) == {}


async def test_kinds_do_not_see_each_others_records(store: Store) -> None:
    # "digest:last-posted" is a single record; a kind named "digest" would list it, not this.
    glob = Kind("approvers*", list[str])
    await store.put_record(glob, "odd", ["glob characters are literal"])
    await store.put_record(APPROVERS, "C1", ["U1"])
    await store.put_record(DIGEST_POSTED, "", "2030-01-01")

    assert await store.list_records(APPROVERS) == {"C1": ["U1"]}
    assert await store.list_records(glob) == {"odd": ["glob characters are literal"]}
    assert await store.list_records(DIGEST_POSTED) == {"": "2030-01-01"}


async def test_a_deleted_record_is_gone_and_deleting_it_again_says_so(store: Store) -> None:
    press = Press(at=T0, by="U9")
    await store.put_record(REMIND_PRESSES, "apr_1", press)
    await store.put_record(REMIND_PRESSES, "apr_2", press)

    assert await store.delete_record(REMIND_PRESSES, "apr_1") is True
    assert await store.delete_record(REMIND_PRESSES, "apr_1") is False

    assert await store.get_record(REMIND_PRESSES, "apr_1") is None
    assert await store.list_records(REMIND_PRESSES) == {"apr_2": press}


async def test_a_record_that_no_longer_fits_its_kind_reads_as_absent(store: Store) -> None:
    older = Kind("approvers", dict[str, int])  # the same name, another shape
    await store.put_record(older, "C1", {"min": 1})
    await store.put_record(APPROVERS, "C2", ["U1"])

    assert await store.get_record(APPROVERS, "C1") is None
    assert await store.list_records(APPROVERS) == {"C2": ["U1"]}


async def test_a_policy_request_keeps_every_field(store: Store) -> None:
    request = PolicyRequest(
        request_id="req_1",
        agent="ops-bot",
        ask=AgentAsk(kind="fund", milestone_id="ms_1"),
        type="fund",
        what="Fund milestone ms_1",
        subject="ms_1",
        rule="maxPerRequestUsd",
        limit_usd=Decimal("100.00"),
        used_usd=Decimal("0"),
        requested_usd=Decimal("250.50"),
        created_at=T0,
        expires_at=T0 + timedelta(hours=24),
        channel_id="C1",
    )
    await store.put_record(POLICY_REQUESTS, "req_1", request)
    assert await store.get_record(POLICY_REQUESTS, "req_1") == request


async def test_records_written_before_kinds_existed_still_read(store: Store) -> None:
    """Both stores kept these exact JSON texts under these keys before records were typed."""
    text_put = store._text_put  # type: ignore[attr-defined]
    await text_put("approvers:C1", '["U1", "S1"]')
    at, until = '"2030-01-01T12:00:00+00:00"', '"2030-01-01T16:00:00+00:00"'
    await text_put("snooze:apr_1:U1", f'{{"at": {at}, "until": {until}}}')
    await text_put("feed-health", f'{{"healthy": false, "at": {at}, "by": "one"}}')
    await text_put("digest:last-posted", '"2030-01-01"')

    assert await store.get_record(APPROVERS, "C1") == ["U1", "S1"]
    assert await store.get_record(SNOOZES, "apr_1:U1") == SnoozeRecord(
        at=T0, until=T0 + timedelta(hours=4)
    )
    assert await store.get_record(FEED_HEALTH) == FeedHealth(healthy=False, at=T0, by="one")
    assert await store.get_record(DIGEST_POSTED) == "2030-01-01"


def test_every_kind_has_its_own_name() -> None:
    assert len({kind.prefix for kind in KINDS}) == len(KINDS)


# --- retention -----------------------------------------------------------------------------


async def test_records_that_end_with_their_approval_are_forgotten_once_it_ends(
    store: Store,
) -> None:
    await store.add_approval(tracked("apr_live"))
    await store.add_approval(tracked("apr_done", status=TrackedStatus.CONFIRMED))
    snooze = SnoozeRecord(at=T0, until=T0 + timedelta(hours=4))
    for approval_id in ("apr_live", "apr_done", "apr_unknown"):
        await store.put_record(SNOOZES, f"{approval_id}:U1", snooze)
        await store.put_record(REMIND_PRESSES, approval_id, Press(at=T0, by="U2"))
    await store.put_record(APPROVERS, "C1", ["U1"])  # kept until changed

    assert await forget_stale(store, T0) == 4

    assert list(await store.list_records(SNOOZES)) == ["apr_live:U1"]
    assert list(await store.list_records(REMIND_PRESSES)) == ["apr_live"]
    assert await store.list_records(APPROVERS) == {"C1": ["U1"]}
    assert await forget_stale(store, T0) == 0


async def test_drafts_are_forgotten_when_they_are_a_week_old(store: Store) -> None:
    terms = HireTerms(name="Batch 1", description="", amount=Decimal("100.00"))

    def draft(saved_at: datetime) -> HireDraftRecord:
        return HireDraftRecord(proposal_id="prop_1", terms=terms, saved_at=saved_at)

    await store.put_record(HIRE_DRAFTS, "old", draft(T0))
    await store.put_record(HIRE_DRAFTS, "new", draft(T0 + timedelta(days=1)))

    assert await forget_stale(store, T0 + timedelta(days=7, seconds=-1)) == 0
    assert await forget_stale(store, T0 + timedelta(days=7)) == 1
    assert list(await store.list_records(HIRE_DRAFTS)) == ["new"]
