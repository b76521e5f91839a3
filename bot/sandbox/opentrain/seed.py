"""Scenarios the simulator can start from (`--seed`, `POST /_sim/seed`).

"demo": one claimed employer account with a job, proposals in every state the
bot has to handle, and contracts whose milestones cover each co-sign outcome.
"empty": the account and its full-access token, nothing else.

Ids are readable and stable so docs, tests and people can name them. Token
strings carry a `sim_` infix: they must never look like real `ot_pat_` secrets.
"""

from __future__ import annotations

import re
import zlib
from datetime import timedelta
from decimal import Decimal

from bot.sandbox.opentrain.marketplace import Marketplace
from bot.sandbox.opentrain.model import Invoice, Person
from bot.sandbox.opentrain.vocabulary import (
    ALL_SCOPES,
    PRE_CLAIM_SCOPES,
    ContractStatus,
    InvoiceStatus,
    JobStatus,
    MilestoneStatus,
    PaymentSource,
    PaymentType,
    ProposalStatus,
)

SCENARIOS = ("demo", "empty")

ACCOUNT_ID = "acct_demo"
FULL_TOKEN = "ot_pat_sim_full"
PRECLAIM_TOKEN = "ot_pat_sim_preclaim"
READONLY_TOKEN = "ot_pat_sim_readonly"
DEMO_JOB_ID = "job_dashcam"
DEMO_CREDITS_CENTS = 500_000

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def freelancer(
    first_name: str, last_name: str, *, country: str = "United Kingdom", country_code: str = "GB"
) -> Person:
    # Derived from the name (not random) so a re-seeded scenario keeps the same ids.
    digest = f"{zlib.crc32(f'{first_name} {last_name}'.encode()):08x}"
    handle = re.sub(r"[^a-z0-9]+", "-", f"{first_name}-{last_name[:1]}".lower()).strip("-")
    return Person(
        id=f"usr_{handle.replace('-', '_')}_{digest[:6]}",
        first_name=first_name,
        last_name=last_name,
        country=country,
        country_code=country_code,
        profile_slug=f"{handle}-{digest[2:8]}",
        profile_title="AI trainer · computer vision",
    )


def load(state: Marketplace, scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    owner = Person(
        id="usr_owner",
        first_name="Olivia",
        last_name="Owner",
        email="owner@example.com",
        country="United States",
        country_code="US",
    )
    account = state.add_account(account_id=ACCOUNT_ID, owner=owner, claimed=True)
    state.add_token(account, secret=FULL_TOKEN, label="sandbox (full access)", scopes=ALL_SCOPES)
    state.seeded.update(accountId=account.id, fullToken=FULL_TOKEN)
    if scenario == "demo":
        _demo(state)


def _settled(invoice: Invoice) -> None:
    """Seeded history: the card charge went through long ago."""
    invoice.status = InvoiceStatus.PAID
    invoice.settles_at = None


def _demo(state: Marketplace) -> None:
    account = state.account(ACCOUNT_ID)
    state.add_token(
        account, secret=PRECLAIM_TOKEN, label="agent (pre-claim scopes)", scopes=PRE_CLAIM_SCOPES
    )
    state.add_token(
        account, secret=READONLY_TOKEN, label="dashboard (read-only)", scopes=("payments:read",)
    )
    state.seeded.update(preclaimToken=PRECLAIM_TOKEN, readonlyToken=READONLY_TOKEN)

    dashcam = state.add_job(
        account,
        job_id=DEMO_JOB_ID,
        title="Dashcam bounding boxes",
        payment_type=PaymentType.FIXED_PRICE,
        age=14 * DAY,
    )
    lidar = state.add_job(
        account,
        job_id="job_lidar",
        title="Lidar point-cloud segmentation",
        payment_type=PaymentType.PAY_PER_HOUR,
        age=40 * DAY,
    )
    # A job still being written: listed by `GET /jobs/mine`, with no proposals yet.
    draft = state.add_job(
        account,
        job_id="job_audio_draft",
        title="Podcast transcript QA",
        payment_type=PaymentType.PAY_PER_HOUR,
        status=JobStatus.DRAFT,
        age=1 * DAY,
    )

    ada = state.add_proposal(
        dashcam,
        freelancer("Ada", "Lovelace"),
        proposal_id="prop_ada",
        bid_amount_usd=Decimal(450),
        age=3 * DAY,
        interview_score=92,
        match_score=Decimal("0.94"),
        interview_summary="Strong on occlusion edge cases.",
        interview_messages=[
            ("interviewer", "How do you box a pedestrian half hidden behind a parked car?"),
            ("candidate", "Box the visible part, flag it occluded, and never guess the rest."),
            ("interviewer", "And a cyclist crossing two frames at dusk?"),
            ("candidate", "Keep one track id across both frames; low light goes to review."),
        ],
    )
    state.add_proposal(
        dashcam,
        freelancer("Grace", "Hopper", country="United States", country_code="US"),
        proposal_id="prop_grace",
        status=ProposalStatus.SHORTLISTED,
        bid_amount_usd=Decimal(520),
        age=4 * DAY,
        interview_score=88,
        interview_summary="Fast and careful; asked good questions about the label spec.",
        interview_messages=[
            ("interviewer", "What do you do when the label spec and the image disagree?"),
            ("candidate", "Label what I see, note the conflict, and ask before the batch ends."),
        ],
    )
    state.add_proposal(
        dashcam,
        freelancer("Alan", "Turing"),
        proposal_id="prop_alan",
        status=ProposalStatus.NOT_A_FIT,
        bid_amount_usd=Decimal(300),
        age=5 * DAY,
        interview_score=61,
    )
    linus = state.add_proposal(
        dashcam,
        freelancer("Linus", "Torvalds", country="Finland", country_code="FI"),
        proposal_id="prop_linus",
        bid_amount_usd=Decimal(900),
        age=12 * DAY,
        interview_score=90,
    )
    margaret = state.add_proposal(
        lidar,
        freelancer("Margaret", "Hamilton", country="United States", country_code="US"),
        proposal_id="prop_margaret",
        bid_amount_usd=Decimal(25),
        age=30 * DAY,
    )
    barbara = state.add_proposal(
        lidar,
        freelancer("Barbara", "Liskov", country="United States", country_code="US"),
        proposal_id="prop_barbara",
        bid_amount_usd=Decimal(30),
        age=38 * DAY,
    )

    # Linus: hired; one milestone paid, one in escrow (credits), one not funded, one cancelled.
    ctr_linus = state.add_contract(
        linus,
        contract_id="ctr_linus",
        rate_usd=Decimal(900),
        age=10 * DAY,
        conversation_id="conv_linus",
    )
    pilot = state.add_milestone(
        ctr_linus,
        milestone_id="ms_pilot",
        name="Pilot",
        description="Pilot: 500 frames with bounding boxes",
        amount_usd=Decimal(100),
        age=10 * DAY,
    )
    _settled(state.fund_milestone(pilot, PaymentSource.CARD, 10_000))
    pilot.status = MilestoneStatus.PAID
    batch1 = state.add_milestone(
        ctr_linus,
        milestone_id="ms_batch1",
        name="Batch 1",
        description="First 10k dashcam images with bounding boxes",
        amount_usd=Decimal(450),
        age=6 * DAY,
    )
    state.top_up(account, DEMO_CREDITS_CENTS + 45_000)
    state.fund_milestone(batch1, PaymentSource.CREDITS, 45_000)
    state.add_milestone(
        ctr_linus,
        milestone_id="ms_batch2",
        name="Batch 2",
        description="Batch 2: 5k bounding boxes, night-time footage",
        amount_usd=Decimal(250),
        age=2 * DAY,
    )
    state.add_milestone(
        ctr_linus,
        milestone_id="ms_rain",
        name="Rain footage",
        description="Rainy-day footage (dropped from scope)",
        amount_usd=Decimal(80),
        status=MilestoneStatus.CANCELLED,
        age=2 * DAY,
    )
    conv = state.conversations["conv_linus"]
    state.add_message(conv, account.owner.id, "Welcome aboard! Batch 1 is funded.", age=6 * DAY)
    state.add_message(
        conv, linus.freelancer.id, "Thanks — first 2k boxes are up for review.", age=5 * HOUR
    )

    # Margaret: hired on an hourly contract; nothing funded yet, so ending needs no co-sign.
    ctr_margaret = state.add_contract(
        margaret,
        contract_id="ctr_margaret",
        rate_usd=Decimal(25),
        age=25 * DAY,
        conversation_id="conv_margaret",
    )
    state.add_milestone(
        ctr_margaret,
        milestone_id="ms_lidar1",
        name="Sequence A",
        description="Sequence A: 12 h of point-cloud labelling",
        amount_usd=Decimal(300),
        volume=Decimal(12),
        age=20 * DAY,
    )
    state.add_milestone(
        ctr_margaret,
        milestone_id="ms_lidar2",
        name="Sequence B",
        description="Sequence B: 8 h of point-cloud labelling",
        amount_usd=Decimal(200),
        volume=Decimal(8),
        age=20 * DAY,
    )

    # Barbara: an ended contract; its conversation is read-only now.
    ctr_barbara = state.add_contract(
        barbara,
        contract_id="ctr_barbara",
        rate_usd=Decimal(30),
        age=36 * DAY,
        conversation_id="conv_barbara",
    )
    old = state.add_milestone(
        ctr_barbara,
        milestone_id="ms_archive",
        name="Archive",
        description="Archive sequences: 20 h",
        amount_usd=Decimal(600),
        volume=Decimal(20),
        age=36 * DAY,
    )
    _settled(state.fund_milestone(old, PaymentSource.CARD, 60_000))
    old.status = MilestoneStatus.PAID
    state.add_milestone(
        ctr_barbara,
        milestone_id="ms_leftover",
        name="Leftover",
        description="Leftover sequences: 5 h",
        amount_usd=Decimal(150),
        volume=Decimal(5),
        age=30 * DAY,
    )
    ctr_barbara.status = ContractStatus.ENDED
    ctr_barbara.end_date = state.now() - 3 * DAY
    state.conversations["conv_barbara"].read_only = True

    # Pre-hire threads: Ada's is open; Grace blocked messages from this account.
    ada_thread = state.add_conversation(
        dashcam,
        "conv_ada",
        bucket="proposal",
        proposal_id=ada.id,
        other=ada.freelancer,
        updated_at=state.now() - 2 * DAY,
    )
    state.add_message(
        ada_thread, account.owner.id, "Hi Ada, could you share a sample?", age=2 * DAY
    )
    state.add_message(
        ada_thread, ada.freelancer.id, "Sure — attached 50 labelled frames.", age=1 * DAY
    )
    grace = state.proposals["prop_grace"]
    grace_thread = state.add_conversation(
        dashcam,
        "conv_grace",
        bucket="proposal",
        proposal_id=grace.id,
        other=grace.freelancer,
        updated_at=state.now() - 3 * DAY,
    )
    state.add_message(
        grace_thread, account.owner.id, "Hi Grace, are you available next week?", age=3 * DAY
    )
    grace_thread.blocked = True

    state.seeded.update(
        jobId=dashcam.id,
        otherJobId=lidar.id,
        draftJobId=draft.id,
        contractWithEscrow=ctr_linus.id,
        contractUnfunded=ctr_margaret.id,
        contractEnded=ctr_barbara.id,
        milestoneFunded=batch1.id,
        milestoneUnfunded="ms_batch2",
        milestonePaid=pilot.id,
        milestoneCancelled="ms_rain",
        conversationJob="conv_linus",
        conversationReadOnly="conv_barbara",
        conversationBlocked="conv_grace",
    )
