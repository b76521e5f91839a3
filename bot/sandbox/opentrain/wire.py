"""Entities → OpenTrain's JSON shapes (camelCase, ISO-8601 UTC with milliseconds,
USD as numbers, credits as integer cents). The only place that knows the shapes, with
`wire_messages.py` for conversations and messages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.sandbox.opentrain.budgets import budget_of
from bot.sandbox.opentrain.model import (
    Account,
    Approval,
    Contract,
    Event,
    Invoice,
    Job,
    LedgerEntry,
    Milestone,
    Person,
    Proposal,
    Token,
    Webhook,
)
from bot.sandbox.opentrain.money import json_number
from bot.sandbox.opentrain.vocabulary import (
    CAPABILITY_FEATURES,
    MilestoneStatus,
    PaymentType,
    ProposalStatus,
)

if TYPE_CHECKING:
    from bot.sandbox.opentrain.state import SimState

Json = dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def usd(amount: Decimal | None) -> int | float | None:
    return None if amount is None else json_number(amount)


# --- account ------------------------------------------------------------------------------


def me(token: Token, account: Account, claim_signal: str = "email") -> Json:
    """`/auth/me`; how it shows an unclaimed account is unconfirmed (§3), so `claim_signal`
    picks the variant: `email` (none until claimed), `field` (`account.claimed`) or
    `scopes` (a placeholder email; only the pre-claim token scopes tell)."""
    owner = account.owner
    email = owner.email if account.claimed or claim_signal != "email" else None
    extra = {"claimed": account.claimed} if claim_signal == "field" else {}
    return {
        "actor": {
            "userId": owner.id,
            "email": email,
            "firstName": owner.first_name,
            "lastName": owner.last_name,
            "fullName": owner.full_name,
            "userType": "EMPLOYER",
        },
        "token": {
            "id": token.id,
            "label": token.label,
            "scopes": list(token.granted(account)),
            "ownerOrganizationId": account.organization_id,
        },
        "account": {
            "kind": "employer_organization",
            "organizationId": account.organization_id,
            "ownerUserId": owner.id,
            "memberRole": "OWNER",
            **extra,
        },
    }


def capabilities(account: Account) -> Json:
    return {
        "featureKey": "public_api_job_drafting",
        "namespace": "job-drafts",
        "rolloutMode": account.rollout_mode,
        "actorIsAdmin": False,
        "capabilities": {
            key: account.feature_on(flag) for key, flag in CAPABILITY_FEATURES.items()
        },
        "draft": {
            "importFormats": [
                "text",
                "opentrain_canonical",
                "schema_org_job_posting",
                "indeed_xml",
                "hr_xml",
            ],
            "updateKeys": ["title", "description", "paymentType", "experienceLevel"],
            "enums": {
                "paymentType": [t.value for t in PaymentType],
                "experienceLevel": [
                    "EXPERT",
                    "ENTRY_LEVEL",
                    "INTERMEDIATE",
                    "ANY_EXPERIENCE_LEVEL",
                ],
                "dataVolumeUnit": [
                    "HOURS_OF_RECORDING_AUDIO_VIDEO",
                    "NUMBER_OF_FILES",
                    "NUMBER_OF_WORDS",
                    "UNKNOWN_NOT_SPECIFIED",
                ],
            },
        },
        "authBootstrap": "token",
        "enabled": True,
    }


def ledger_entry(entry: LedgerEntry) -> Json:
    return {
        "id": entry.id,
        "type": entry.type.value,
        "amountCents": entry.amount_cents,
        "createdAt": iso(entry.created_at),
        "holdEntryId": entry.hold_entry_id,
        "jobofferId": entry.joboffer_id,
        "contractId": entry.contract_id,
        "milestoneId": entry.milestone_id,
        "topUpId": entry.top_up_id,
        "note": entry.note,
    }


def credits(account: Account, recent: list[LedgerEntry]) -> Json:
    return {
        "credits": {
            "availableCents": account.available_cents,
            "reservedCents": account.reserved_cents,
            "currency": "usd",
            "recentEntries": [ledger_entry(e) for e in recent],
        }
    }


def pending_payment(state: SimState, invoice: Invoice) -> Json:
    milestone = state.milestones[invoice.milestone_id]
    job = state.jobs[invoice.job_id]
    return {
        "id": invoice.id,
        "status": state.payment_status(invoice).value,
        "invoiceKind": invoice.kind,
        "viewerRole": "EMPLOYER",
        "amountUsd": usd(invoice.amount_usd),
        "createdAt": iso(invoice.created_at),
        "invoiceNumber": invoice.number,
        "job": {"id": job.id, "title": job.title},
        "milestone": {"id": milestone.id, "name": milestone.name},
    }


# --- jobs and proposals -------------------------------------------------------------------


def my_job(state: SimState, found: Job) -> Json:
    """`GET /jobs/mine`: one of the account's jobs, drafts included, with its proposal counts."""
    on_job = [p for p in state.proposals.values() if p.job_id == found.id]
    return {
        "id": found.id,
        "title": found.title,
        "status": found.status.value,
        "published": found.status.published,
        "acceptingApplicants": found.status.accepting_applicants,
        "createdAt": iso(found.created_at),
        "updatedAt": iso(found.updated_at),
        "jobUrl": state.link(f"/jobs/{found.id}"),
        # derived: "unreviewed" counts the proposals whose status is UNREVIEWED.
        "proposalCounts": {
            "total": len(on_job),
            "unreviewed": sum(p.status is ProposalStatus.UNREVIEWED for p in on_job),
        },
    }


def interview(found: Proposal) -> Json:
    """`GET /proposals/{id}/interview`: the transcript, a minute between turns."""
    messages = found.interview_messages or []
    return {
        "proposalId": found.id,
        "interviewId": f"int_{found.id}",
        "score": found.interview_score,
        "summary": found.interview_summary,
        "messages": [
            {
                "id": f"imsg_{found.id}_{n}",
                "role": role,
                "content": content,
                "sentAt": iso(found.created_at + timedelta(minutes=n)),
            }
            for n, (role, content) in enumerate(messages)
        ],
    }


def proposal(state: SimState, found: Proposal, *, compact: bool = False) -> Json:
    person = found.freelancer
    body: Json = {
        "id": found.id,
        "jobId": found.job_id,
        "jobTitle": state.jobs[found.job_id].title,
        "createdAt": iso(found.created_at),
        "updatedAt": iso(found.updated_at),
        "status": {"raw": found.status.value, "label": found.status.label},
        "bid": {
            "amountUsd": usd(found.bid_amount_usd),
            "unit": found.bid_unit,
            "labelerHourlyRateUsd": usd(found.labeler_hourly_rate_usd),
        },
        "candidate": {
            "id": person.id,
            "profileSlug": person.profile_slug,
            "displayName": person.display_name,
            "firstName": person.first_name,
            "lastNameInitial": person.last_name_initial,
            "profileTitle": person.profile_title,
            "profilePhotoUrl": None,
            "countryCode": person.country_code,
            "country": person.country,
            "talentType": found.talent_type,
            "highestEarningsUsd": usd(found.highest_earnings_usd),
            "reviewCount": found.review_count,
        },
        "metrics": {
            "interviewScore": found.interview_score,
            "matchScore": json_number(found.match_score),
        },
    }
    if compact:
        return body
    contract = state.contracts.get(found.contract_id) if found.contract_id else None
    return {
        **body,
        "aiInterview": {
            "score": found.interview_score,
            "summary": found.interview_summary,
            "transcriptAvailable": found.interview_messages is not None,
        },
        "verification": {
            "location": {"status": "VERIFIED", "method": "ip", "checkedAt": iso(found.created_at)},
            "identity": {"verified": True},
        },
        "openLabel": None,
        # unconfirmed: the shape of `contract` once hired.
        "contract": None
        if contract is None
        else {"id": contract.id, "status": contract.status.value},
    }


# --- contracts and milestones ---------------------------------------------------------------


def milestone(found: Milestone) -> Json:
    return {
        "id": found.id,
        "name": found.name,
        "description": found.description,
        "status": found.status.value,
        "amountUsd": usd(found.amount_usd),
        "volume": usd(found.volume),
        "milestoneNumber": found.number,
        "dueDate": iso(found.due_date),
        "pendingApproval": found.pending_approval,
        "needsReview": found.needs_review,
        "invoiceId": found.invoice_id,
        "createdAt": iso(found.created_at),
    }


def freelancer(person: Person) -> Json:
    """Post-hire identity stays masked: first name + last initial and a profile path."""
    return {
        "userId": person.id,
        "displayName": person.display_name,
        "country": person.country,
        "profilePath": person.profile_path,
    }


def contract(state: SimState, found: Contract, *, full: bool) -> Json:
    listed = [m for m in state.milestones_of(found) if m.status.listed]
    body: Json = {
        "id": found.id,
        "title": found.title,
        "jobId": found.job_id,
        "proposalId": found.proposal_id,
        "status": found.status.value,
        "paymentType": found.payment_type.value,
        "rateUsd": usd(found.rate_usd),
        # derived: the sum of the milestones still on the timeline.
        "estimatedTotalUsd": usd(sum((m.amount_usd for m in listed), Decimal(0))),
        "estimatedVolume": usd(found.estimated_volume),
        "hasActiveMilestone": any(m.status is MilestoneStatus.ACTIVE_FUNDED for m in listed),
        "startDate": iso(found.start_date),
        "endDate": iso(found.end_date),
        "createdAt": iso(found.created_at),
        "updatedAt": iso(found.updated_at),
        "freelancer": freelancer(found.freelancer),
        "milestones": [milestone(m) for m in listed],
    }
    if full:
        body["jobDmConversationId"] = found.conversation_id
        body["budget"] = budget(found, listed)
    return body


def budget(found: Contract, listed: list[Milestone]) -> Json:
    """Usage against funded volume (§9.1); the state as `budgets.budget_of` works it out."""
    active = next((m for m in listed if m.status is MilestoneStatus.ACTIVE_FUNDED), None)
    now = budget_of(found, listed)
    consumed = now.consumed_volume
    hours = consumed if found.payment_type is PaymentType.PAY_PER_HOUR else Decimal(0)
    labels = consumed if found.payment_type is PaymentType.PAY_PER_LABEL else Decimal(0)
    return {
        "contractId": found.id,
        "paymentType": found.payment_type.value,
        "state": now.state,
        "fundedVolume": usd(now.funded_volume),
        "fundedAmountUsd": usd(now.funded_amount_usd),
        "consumed": {
            "seconds": json_number(hours * 3600),
            "hours": json_number(hours),
            "labels": json_number(labels),
            "tasks": 0,
        },
        "consumedVolume": json_number(consumed),
        "remainingVolume": usd(now.remaining_volume),
        "consumedFraction": json_number(now.consumed_fraction),
        "activeMilestone": None
        if active is None
        else {
            "id": active.id,
            "name": active.name,
            "amountUsd": usd(active.amount_usd),
            "volume": usd(active.volume),
            "status": active.status.value,
        },
        "lastUsageAt": None,
    }


# --- approvals, events, webhooks ---------------------------------------------------------------


def approval(found: Approval) -> Json:
    return {
        "id": found.id,
        "type": found.type.value,
        "status": found.status,
        "contractId": found.contract_id,
        "milestoneId": found.milestone_id,
        "jobId": found.job_id,
        "proposalId": found.proposal_id,
        "approvalUrl": found.url,
        "expiresAt": iso(found.expires_at),
        "resolvedAt": iso(found.resolved_at),
        "result": found.result,
        "createdAt": iso(found.created_at),
    }


def event(found: Event) -> Json:
    return {
        "id": str(found.id),
        "type": found.type.value,
        "apiVersion": "v1",
        "createdAt": iso(found.created_at),
        "resourceId": found.resource_id,
        "jobId": found.job_id,
        "data": found.data,
    }


def webhook(found: Webhook) -> Json:
    return {
        "id": found.id,
        "url": found.url,
        "eventTypes": [t.value for t in found.event_types],
        "status": found.status.value,
        "createdAt": iso(found.created_at),
        "disabledAt": iso(found.disabled_at),
        "disabledReason": found.disabled_reason,
    }
