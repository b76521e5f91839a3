"""`GET /_sim/state`: the whole simulated OpenTrain as JSON, for tests and the sandbox's eyes.

Every record, ids and all (including what the API never shows, like a webhook's secret),
with the request log's size and the faults still armed.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.faults import FaultSet
from bot.sandbox.opentrain import wire
from bot.sandbox.opentrain.model import Account, HireTerms
from bot.sandbox.opentrain.requestlog import RequestLog
from bot.sandbox.opentrain.state import SimState


def clock_json(state: SimState) -> dict[str, Any]:
    return {"now": wire.iso(state.now()), "offsetSeconds": state.clock.offset_seconds}


def account_json(account: Account) -> dict[str, Any]:
    owner = account.owner
    return {
        "id": account.id,
        "organizationId": account.organization_id,
        "owner": {"userId": owner.id, "fullName": owner.full_name, "email": owner.email},
        "claimed": account.claimed,
        "features": dict(account.features),
        "paymentMethodOnFile": account.payment_method_on_file,
        "availableCents": account.available_cents,
        "reservedCents": account.reserved_cents,
    }


def snapshot(state: SimState, faults: FaultSet, requests: RequestLog) -> dict[str, Any]:
    """Every entity, as the API shows it plus what only the simulator knows. Reading it
    changes nothing (no lazy expiry, no invoice settlement)."""
    return {
        **clock_json(state),
        "config": state.config.public(),
        "seeded": dict(state.seeded),
        "accounts": [account_json(a) for a in state.accounts.values()],
        "tokens": [
            {
                "token": t.secret,
                "id": t.id,
                "label": t.label,
                "scopes": list(t.scopes),
                "accountId": t.account_id,
            }
            for t in state.tokens.values()
        ],
        "jobs": [
            {
                "id": j.id,
                "accountId": j.account_id,
                "title": j.title,
                "status": j.status.value,
                "paymentType": j.payment_type.value,
                "createdAt": wire.iso(j.created_at),
            }
            for j in state.jobs.values()
        ],
        "proposals": [
            {**wire.proposal(state, p), "freelancerFullName": p.freelancer.full_name}
            for p in state.proposals.values()
        ],
        "contracts": [
            {
                **wire.contract(state, c, full=True),
                "accountId": c.account_id,
                "allMilestoneIds": list(c.milestone_ids),
            }
            for c in state.contracts.values()
        ],
        "milestones": [
            {
                **wire.milestone(m),
                "contractId": m.contract_id,
                "fundedWith": m.funding.source.value if m.funding else None,
                "heldCents": m.funding.hold_cents if m.funding else 0,
            }
            for m in state.milestones.values()
        ],
        "approvals": [
            {
                **wire.approval(a),
                "accountId": a.account_id,
                "tokenId": a.token_id,
                "terms": None if a.terms is None else _terms(a.terms),
                "paymentSource": a.payment_source.value if a.payment_source else None,
                "supersededBy": a.superseded_by,
            }
            for a in state.approvals.values()
        ],
        "invoices": [
            {
                "id": i.id,
                "accountId": i.account_id,
                "number": i.number,
                "kind": i.kind,
                "status": i.status.value,
                "amountUsd": wire.usd(i.amount_usd),
                "milestoneId": i.milestone_id,
                "createdAt": wire.iso(i.created_at),
                "settlesAt": wire.iso(i.settles_at),
            }
            for i in state.invoices.values()
        ],
        "ledger": [{**wire.ledger_entry(e), "accountId": e.account_id} for e in state.ledger],
        "events": [{**wire.event(e), "accountId": e.account_id} for e in state.events],
        "conversations": [
            {
                "id": c.id,
                "accountId": c.account_id,
                "bucket": c.bucket,
                "jobId": c.job_id,
                "proposalId": c.proposal_id,
                "participantIds": list(c.participant_ids),
                "readOnly": c.read_only,
                "blocked": c.blocked,
                "messages": [
                    {
                        "id": m.id,
                        "senderUserId": m.sender_user_id,
                        "content": m.content,
                        "createdAt": wire.iso(m.created_at),
                    }
                    for m in c.messages
                ],
            }
            for c in state.conversations.values()
        ],
        "webhooks": [
            {
                **wire.webhook(w),
                "accountId": w.account_id,
                "secret": w.secret,
                "consecutiveFailures": w.consecutive_failures,
                "attempts": [
                    {
                        "deliveryId": a.delivery_id,
                        "eventId": str(a.event_id),
                        "attempt": a.attempt,
                        "at": wire.iso(a.at),
                        "statusCode": a.status_code,
                        "ok": a.ok,
                        "error": a.error,
                    }
                    for a in w.attempts
                ],
            }
            for w in state.webhooks.values()
        ],
        "deliveries": [
            {
                "id": d.id,
                "webhookId": d.webhook_id,
                "eventId": str(d.event_id),
                "attemptsMade": d.attempts_made,
                "dueAt": wire.iso(d.due_at),
                "inFlight": d.in_flight,
            }
            for d in state.deliveries.values()
        ],
        "faults": faults.describe(),
        "requestCount": len(requests),
    }


def _terms(terms: HireTerms) -> dict[str, Any]:
    return {
        "name": terms.name,
        "description": terms.description,
        "amount": wire.usd(terms.amount),
        "dueDate": terms.due_date.isoformat() if terms.due_date else None,
        "confirmNotFitOverride": terms.confirm_not_fit_override,
    }
