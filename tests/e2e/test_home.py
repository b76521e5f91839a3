"""The App Home inbox: what waits on me (urgent first, then by money), what I asked for, and
recent outcomes — published when I open the tab and again when an approval I see resolves."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.sandbox.runner import Sandbox
from bot.tracked_approvals import Requester, TrackedApproval
from tests.e2e.test_reminders import (
    CHANNEL,
    START,
    UNPACED,
    current,
    fund,
    hire,
    move_to,
    set_approvers,
    wait_resolved,
)
from tests.support.bot_harness import SandboxFactory
from tests.support.wait import wait_for

OTHER_CHANNEL = "C0GENERAL"
APPROVAL_LINK = re.compile(r"/approvals/([A-Za-z0-9_\-]+)")


@dataclass
class Part:
    heading: str
    approval_ids: list[str] = field(default_factory=list)
    card_links: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)


def home_of(sandbox: Sandbox, user_id: str) -> dict[str, Part] | None:
    """The user's published Home tab, by part ("Waiting on you", …), rows in order."""
    view = sandbox.slack.state.home_view(user_id)
    if view is None:
        return None
    parts: dict[str, Part] = {}
    part: Part | None = None
    for block in view.content.get("blocks", []):
        if block["type"] == "header":
            heading = re.sub(r" \(\d+\)$", "", block["text"]["text"])
            part = parts.setdefault(heading, Part(heading))
        elif part is not None and block["type"] == "section":
            texts = [block["text"], *block.get("fields", [])]
            part.rows.append(" | ".join(text["text"] for text in texts))
        elif part is not None and block["type"] == "actions":
            for element in block["elements"]:
                url = element.get("url", "")
                if element.get("text", {}).get("text") == "View card":
                    part.card_links.append(url)
                elif match := APPROVAL_LINK.search(url):
                    part.approval_ids.append(match.group(1))
    return parts


async def open_home(sandbox: Sandbox, user_id: str) -> dict[str, Part]:
    before = sandbox.slack.state.home_view(user_id)
    before_hash = before.hash if before else None
    result = await sandbox.slack.send_event(
        {"type": "app_home_opened", "user": user_id, "channel": f"D{user_id[1:]}", "tab": "home"}
    )
    assert result.status == 200

    def published() -> dict[str, Part] | None:
        view = sandbox.slack.state.home_view(user_id)
        return home_of(sandbox, user_id) if view and view.hash != before_hash else None

    return await wait_for(published, message=f"{user_id}'s Home tab")


@pytest.fixture
async def sandbox(make_sandbox: SandboxFactory) -> Sandbox:
    return await make_sandbox(**UNPACED)


async def four_approvals(sandbox: Sandbox) -> dict[str, TrackedApproval]:
    """B (fund, $250) expires within 12 h; A (hire, $504.95) and C (payout, $450) later;
    D ($300, Kai's) sits in another channel with other approvers."""
    await set_approvers(sandbox, CHANNEL, "S0FINANCE", "U0KAI")
    await set_approvers(sandbox, OTHER_CHANNEL, "U0LEI")
    await move_to(sandbox, START)
    b = await fund(sandbox, "ms_batch2", requester="U0KAI")
    await move_to(sandbox, START + timedelta(hours=62))
    a = await hire(sandbox, "prop_ada", "450", requester="U0BEN")
    payout = await sandbox.services.cosign.payout(
        "ms_batch1", requester=Requester(kind="slack", id="U0ANA"), channel_id=CHANNEL
    )
    other = await sandbox.services.cosign.fund(
        "ms_lidar1", requester=Requester(kind="slack", id="U0KAI"), channel_id=OTHER_CHANNEL
    )
    c = await current(sandbox, payout.approval.approval_id)
    d = await current(sandbox, other.approval.approval_id)
    return {"A": a, "B": b, "C": c, "D": d}


async def test_home_lists_what_waits_on_me_most_urgent_first(sandbox: Sandbox) -> None:
    approvals = await four_approvals(sandbox)
    ids = {name: approval.approval_id for name, approval in approvals.items()}

    # Ana is an approver through #finance-team; B expires within 12 h, then most money first.
    # She asked for C herself, so C waits on the others (four eyes).
    ana = await open_home(sandbox, "U0ANA")
    assert ana["Waiting on you"].approval_ids == [ids["B"], ids["A"]]
    assert "Urgent" in ana["Waiting on you"].rows[0]
    assert not any("Urgent" in row for row in ana["Waiting on you"].rows[1:])
    assert ana["Waiting on you"].card_links == [
        approvals[name].card_permalink for name in ("B", "A")
    ]
    assert ana["Requested by you"].approval_ids == [ids["C"]]
    assert ana["Recent outcomes"].rows == []

    # Kai is an approver by name, and asked for B and D.
    kai = await open_home(sandbox, "U0KAI")
    assert kai["Waiting on you"].approval_ids == [ids["A"], ids["C"]]
    assert kai["Requested by you"].approval_ids == [ids["B"], ids["D"]]

    # Lei approves only the other channel.
    lei = await open_home(sandbox, "U0LEI")
    assert lei["Waiting on you"].approval_ids == [ids["D"]]
    assert lei["Requested by you"].approval_ids == []


async def test_home_is_republished_when_an_approval_i_see_resolves(sandbox: Sandbox) -> None:
    approvals = await four_approvals(sandbox)
    ids = {name: approval.approval_id for name, approval in approvals.items()}
    await open_home(sandbox, "U0ANA")
    lei_before = await open_home(sandbox, "U0LEI")

    a_card = approvals["A"].card_permalink
    sandbox.opentrain.state.confirm(ids["A"])
    await wait_resolved(sandbox, ids["A"])

    def ana_updated() -> dict[str, Part] | None:
        home = home_of(sandbox, "U0ANA")
        return home if home and home["Recent outcomes"].card_links == [a_card] else None

    ana = await wait_for(ana_updated, message="Ana's Home after the confirmation")
    assert ana["Waiting on you"].approval_ids == [ids["B"]]
    assert "Confirmed" in ana["Recent outcomes"].rows[0]
    # A resolved row links to its card only: there is nothing left to review in OpenTrain.
    # Ben asked for A and never opened his Home tab: it is published for him too.
    ben = await wait_for(lambda: home_of(sandbox, "U0BEN"), message="Ben's Home")
    assert ben["Recent outcomes"].card_links == [a_card]
    assert ben["Waiting on you"].approval_ids == [ids["B"], ids["C"]]
    assert ben["Requested by you"].approval_ids == []
    # Lei sees nothing of A: her tab was not touched.
    assert home_of(sandbox, "U0LEI") == lei_before


async def test_home_of_someone_with_nothing_to_do(sandbox: Sandbox) -> None:
    await four_approvals(sandbox)
    home = await open_home(sandbox, "U0OTHERBOT")
    assert all(part.rows == [] for part in home.values())
    assert list(home) == ["Waiting on you", "Requested by you", "Recent outcomes"]
