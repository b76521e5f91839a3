"""The wire models parse every example payload OpenTrain's docs show (tests/fixtures/opentrain)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.opentrain.account import (
    AuthMe,
    Capabilities,
    Credits,
    LedgerEntry,
    MessageSent,
    MessagesPage,
    PendingPayment,
    Webhook,
    WebhookCreated,
)
from bot.opentrain.models import (
    Approval,
    ApprovalRequested,
    ApprovalStatus,
    ApprovalType,
    Contract,
    ContractEnded,
    HireTerms,
    Milestone,
    MyJobsPage,
    Proposal,
    UpdatesPage,
)
from bot.opentrain.wire import (
    json_body,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "opentrain"


def load(name: str) -> Any:
    # Exactly how the client decodes answers: no float ever holds a number.
    return json.loads((FIXTURES / name).read_text(), parse_float=Decimal)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def one(model: type[BaseModel], key: str | None = None) -> Callable[[Any], BaseModel]:
    return lambda payload: model.model_validate(payload[key] if key else payload)


def each(model: type[BaseModel], key: str) -> Callable[[Any], list[BaseModel]]:
    return lambda payload: [model.model_validate(item) for item in payload[key]]


# Every response example the docs show, with the model the client parses it into.
RESPONSES: dict[str, Callable[[Any], Any]] = {
    "approval-202-anatomy.json": one(ApprovalRequested),
    "approvals-get-confirmed.json": one(Approval, "approval"),
    "hire-202.json": one(ApprovalRequested),
    "milestone-fund-202.json": one(ApprovalRequested),
    "milestone-approve-202.json": one(ApprovalRequested),
    "contract-end-202-concept.json": one(ApprovalRequested),
    "contract-end-200.json": one(ContractEnded),
    "contracts-list.json": each(Contract, "contracts"),
    "contract-get.json": one(Contract, "contract"),
    "contract-get-guide.json": one(Contract, "contract"),
    "milestone-create-201.json": one(Milestone, "milestone"),
    "proposal-get.json": one(Proposal, "proposal"),
    "proposal-get-guide.json": one(Proposal, "proposal"),
    "credits.json": one(Credits, "credits"),
    "credits-ledger.json": each(LedgerEntry, "entries"),
    "payments-pending.json": each(PendingPayment, "payments"),
    "updates-poll.json": one(UpdatesPage),
    "auth-me.json": one(AuthMe),
    "capabilities.json": one(Capabilities),
    "webhook-create.json": one(WebhookCreated),
    "webhooks-list.json": each(Webhook, "webhooks"),
    "webhook-get.json": one(Webhook, "webhook"),
    "webhook-delete.json": one(Webhook, "webhook"),
    "messages-list-conversations.json": one(MessagesPage),
    "messages-send-201.json": one(MessageSent),
}
APPROVAL_RESULTS = {
    "approval-result-proposal_hire.json": ApprovalType.PROPOSAL_HIRE,
    "approval-result-milestone_fund.json": ApprovalType.MILESTONE_FUND,
    "approval-result-milestone_approve.json": ApprovalType.MILESTONE_APPROVE,
    "approval-result-contract_end.json": ApprovalType.CONTRACT_END,
}
# Covered elsewhere: request bodies here (hire) and in the transport tests (the
# bytes the client sends), error bodies in test_opentrain_errors.py, and the
# agent-auth scope sets by the claim heuristic below.
REQUEST_BODIES = {
    "hire-request-body.json",
    "hire-request-body-guide.json",
    "milestone-create-request-body.json",
    "webhook-create-request-body.json",
    "messages-send-request-body.json",
}
ERROR_BODIES = {
    "error-envelope-example.json",
    "error-account_claim_required.json",
    "agent-auth-error-anonymous_not_enabled.json",
}
SCOPE_SETS = {"agent-identity-register.json", "agent-oauth-token.json"}
# Endpoints the bot never calls (claim ceremony, top-ups, marketplace feed, pre-hire
# threads); kept so the simulator can serve the documented shapes.
NOT_CALLED_BY_THE_BOT = {
    "agent-claim-start.json",
    "credits-top-up-create-201.json",
    "credits-top-up-get.json",
    "jobs-changes.json",
    "proposal-conversation.json",
}


def test_every_fixture_is_accounted_for() -> None:
    on_disk = {path.name for path in FIXTURES.glob("*.json")}
    accounted = (
        set(RESPONSES)
        | set(APPROVAL_RESULTS)
        | REQUEST_BODIES
        | ERROR_BODIES
        | SCOPE_SETS
        | NOT_CALLED_BY_THE_BOT
    )
    assert on_disk == accounted


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_every_documented_response_parses(name: str) -> None:
    parsed = RESPONSES[name](load(name))
    assert parsed


@pytest.mark.parametrize(("name", "approval_type"), sorted(APPROVAL_RESULTS.items()))
def test_confirmed_results_of_every_type_are_kept(name: str, approval_type: ApprovalType) -> None:
    result = load(name)
    payload = load("approvals-get-confirmed.json")["approval"]
    approval = Approval.model_validate({**payload, "type": approval_type.value, "result": result})
    assert approval.type is approval_type
    assert approval.result == result


# --- approvals ---------------------------------------------------------------------


def test_hire_202_is_a_pending_proposal_hire() -> None:
    requested = ApprovalRequested.model_validate(load("hire-202.json"))
    approval = requested.approval
    assert approval.type is ApprovalType.PROPOSAL_HIRE
    assert approval.status is ApprovalStatus.PENDING
    assert approval.status_raw == "pending"
    assert approval.contract_id is None
    assert approval.proposal_id == "<PROPOSAL_ID>"
    assert approval.approval_url == "https://app.opentrain.ai/approvals/<APPROVAL_ID>"
    assert approval.expires_at == at("2026-06-15T10:00:00")
    assert approval.expires_at.tzinfo is UTC
    assert requested.message.startswith("Hire request recorded.")


def test_fund_202_without_proposal_id_key_parses() -> None:
    approval = ApprovalRequested.model_validate(load("milestone-fund-202.json")).approval
    assert approval.type is ApprovalType.MILESTONE_FUND
    assert approval.proposal_id is None
    assert approval.milestone_id == "<MILESTONE_ID>"


def test_confirmed_approval_carries_result_and_resolution_time() -> None:
    approval = Approval.model_validate(load("approvals-get-confirmed.json")["approval"])
    assert approval.status is ApprovalStatus.CONFIRMED
    assert approval.status.is_terminal
    assert approval.resolved_at == at("2026-06-12T14:30:00")
    assert approval.result == {"invoiceId": "<INVOICE_ID>"}


def test_unknown_approval_type_and_status_parse_and_keep_the_raw_value() -> None:
    payload = load("hire-202.json")["approval"]
    approval = Approval.model_validate({**payload, "type": "team_invite", "status": "superseded"})
    assert approval.type is ApprovalType.UNKNOWN
    assert approval.status is ApprovalStatus.UNKNOWN
    assert approval.status_raw == "superseded"


def test_timestamps_with_offsets_become_utc_and_other_shapes_are_read_tolerantly() -> None:
    payload = load("hire-202.json")["approval"]
    shifted = Approval.model_validate({**payload, "expiresAt": "2026-06-15T12:00:00+02:00"})
    assert shifted.expires_at == at("2026-06-15T10:00:00")
    assert shifted.expires_at.tzinfo is UTC
    # Without a zone: UTC, like every documented example.
    naive = Approval.model_validate({**payload, "expiresAt": "2026-06-15T10:00:00"})
    assert naive.expires_at == at("2026-06-15T10:00:00")
    # A plain date: midnight UTC, as OpenTrain stores a `dueDate` it was sent.
    dated = Approval.model_validate({**payload, "expiresAt": "2026-06-15"})
    assert dated.expires_at == at("2026-06-15T00:00:00")
    for wrong in ("next tuesday", "2026-13-45", ""):
        with pytest.raises(ValidationError):
            Approval.model_validate({**payload, "expiresAt": wrong})


def test_a_milestone_due_as_a_plain_date_reads() -> None:
    contract = load("contract-get.json")["contract"]
    milestones = [{**m, "dueDate": "2026-07-15"} for m in contract["milestones"]]
    read = Contract.model_validate({**contract, "milestones": milestones})
    assert {m.due_date for m in read.milestones} == {at("2026-07-15T00:00:00")}


# --- contracts, milestones, proposals -------------------------------------------------


def test_contract_detail_has_money_as_decimal_and_the_budget() -> None:
    contract = Contract.model_validate(load("contract-get.json")["contract"])
    assert contract.status == "active"
    assert contract.rate_usd == Decimal("300")
    assert isinstance(contract.rate_usd, Decimal)
    assert contract.estimated_volume is None
    assert contract.start_date == at("2026-06-12T09:30:00")
    assert contract.freelancer is not None
    assert contract.freelancer.display_name == "Maria G."
    assert contract.job_dm_conversation_id == "<CONVERSATION_ID>"
    [milestone] = contract.milestones
    assert milestone.status == "ACTIVE_FUNDED"
    assert milestone.amount_usd == Decimal("300")
    assert milestone.due_date == at("2026-07-01T00:00:00")
    assert milestone.invoice_id == "<INVOICE_ID>"
    assert contract.budget is not None
    assert contract.budget.state == "OK"
    assert contract.budget.funded_amount_usd == Decimal("300")
    assert contract.budget.active_milestone is not None
    assert contract.budget.active_milestone.status == "ACTIVE_FUNDED"


def test_contract_list_entries_have_no_conversation_or_budget() -> None:
    [contract] = [Contract.model_validate(c) for c in load("contracts-list.json")["contracts"]]
    assert contract.job_dm_conversation_id is None
    assert contract.budget is None
    assert len(contract.milestones) == 1


def test_guide_contract_with_sparse_milestones_and_odd_payment_type_parses() -> None:
    contract = Contract.model_validate(load("contract-get-guide.json")["contract"])
    assert contract.payment_type == "FIXED"  # not in the reference enum: kept as sent
    [milestone] = contract.milestones
    assert milestone.name == "Batch 1"
    assert milestone.amount_usd == Decimal("450")
    assert milestone.milestone_number is None


def test_created_milestone_is_unfunded() -> None:
    milestone = Milestone.model_validate(load("milestone-create-201.json")["milestone"])
    assert milestone.status == "NOT_FUNDED"
    assert milestone.milestone_number == 2
    assert milestone.invoice_id is None
    assert milestone.due_date == at("2026-07-15T00:00:00")


def test_contract_end_200_is_a_direct_end() -> None:
    ended = ContractEnded.model_validate(load("contract-end-200.json"))
    assert ended.ok
    assert ended.contract_id == "<CONTRACT_ID>"
    assert ended.status == "ended"


def test_proposal_keeps_fractional_dollars_exact() -> None:
    proposal = Proposal.model_validate(load("proposal-get.json")["proposal"])
    assert proposal.bid is not None
    assert proposal.bid.amount_usd == Decimal("0.06")  # a float would be 0.0599999…
    assert proposal.status is not None
    assert proposal.status.raw == "SHORTLISTED"
    assert proposal.candidate is not None
    assert proposal.candidate.display_name == "Maria G."
    assert proposal.metrics is not None
    assert proposal.metrics.match_score == Decimal("0.91")
    assert proposal.verification is not None
    assert proposal.verification.location is not None
    assert proposal.verification.location.checked_at == at("2026-06-11T15:38:00")
    assert proposal.contract is None


# --- credits, payments, feed ------------------------------------------------------------


def test_credits_stay_integer_cents_with_decimal_dollars_derived() -> None:
    credits = Credits.model_validate(load("credits.json")["credits"])
    assert credits.available_cents == 5000
    assert credits.available_usd == Decimal("50")
    assert credits.reserved_usd == Decimal("25")
    [entry] = credits.recent_entries
    assert entry.type == "HOLD"
    assert entry.amount_cents == -2500
    assert entry.joboffer_id == "<PROPOSAL_ID>"


def test_ledger_entries_link_what_caused_them() -> None:
    top_up, hold = (LedgerEntry.model_validate(e) for e in load("credits-ledger.json")["entries"])
    assert (top_up.type, top_up.amount_cents, top_up.top_up_id) == ("TOP_UP", 10000, "<TOP_UP_ID>")
    assert (hold.type, hold.contract_id) == ("HOLD", "<CONTRACT_ID>")


def test_pending_payment() -> None:
    [payment] = [
        PendingPayment.model_validate(p) for p in load("payments-pending.json")["payments"]
    ]
    assert payment.status == "PENDING_FUNDING"
    assert payment.amount_usd == Decimal("300")
    assert payment.invoice_number == 1042
    assert payment.job is not None
    assert payment.job.title == "Spanish tweet sentiment labeling"
    assert payment.milestone is not None
    assert payment.milestone.name == "First labeling batch"


def test_updates_page() -> None:
    page = UpdatesPage.model_validate(load("updates-poll.json"))
    assert page.next_cursor == "1043"
    assert page.has_more is False
    received, confirmed = page.events
    assert received.type == "proposal.received"
    assert confirmed.type == "approval.confirmed"
    assert confirmed.api_version == "v1"
    assert confirmed.resource_id == "<APPROVAL_ID>"
    assert confirmed.data == {"approvalId": "<APPROVAL_ID>", "status": "confirmed"}
    assert confirmed.created_at == at("2026-06-12T10:05:00")


# --- auth and capabilities ----------------------------------------------------------------


def test_auth_me_scopes_and_write_implies_read() -> None:
    me = AuthMe.model_validate(load("auth-me.json"))
    assert me.scopes == {"jobs:read", "jobs:write", "proposals:read", "payments:read"}
    assert me.has_scope("payments:read")
    assert not me.has_scope("payments:write")
    assert not me.has_scope("proposals:write")
    assert me.account.member_role == "OWNER"


def test_auth_me_from_the_docs_is_claimed_because_a_human_email_is_bound() -> None:
    # Only pre-claim scopes, but an owner's email: an app-minted token of a claimed account.
    assert AuthMe.model_validate(load("auth-me.json")).claimed


def _agent_me(scopes: list[str]) -> AuthMe:
    payload = load("auth-me.json")
    actor = {**payload["actor"], "email": None}
    return AuthMe.model_validate(
        {**payload, "actor": actor, "token": {"id": "t", "scopes": scopes}}
    )


def test_claim_heuristic_against_the_documented_agent_scope_sets() -> None:
    pre_claim = load("agent-identity-register.json")["scopes"]
    post_claim = load("agent-oauth-token.json")["scopes"]
    assert not _agent_me(pre_claim).claimed
    assert _agent_me(post_claim).claimed
    assert _agent_me([*pre_claim, "payments:write"]).claimed


def test_claim_read_under_every_way_auth_me_might_show_it() -> None:
    """§3 documents no claim flag: a flag wins when sent; the exact pre-claim token set
    means an agent's registration token even with a (placeholder) email."""
    pre_claim = load("agent-identity-register.json")["scopes"]
    payload = load("auth-me.json")
    token = {"id": "t", "scopes": pre_claim}
    with_email = AuthMe.model_validate({**payload, "token": token})
    assert not with_email.claimed
    for key in ("claimed", "isClaimed"):
        flagged = {**payload, "token": token, "account": {**payload["account"], key: True}}
        assert AuthMe.model_validate(flagged).claimed
        unflagged = {**payload, "account": {**payload["account"], key: False}}
        assert not AuthMe.model_validate(unflagged).claimed


def test_capabilities_flags_default_to_off_and_ignore_unknown_ones() -> None:
    capabilities = Capabilities.model_validate(load("capabilities.json"))
    assert capabilities.enabled
    assert capabilities.capabilities.hiring
    assert capabilities.capabilities.payments_write
    assert capabilities.rollout_mode == "ALL"
    sparse = Capabilities.model_validate({"capabilities": {"hiring": True, "teleport": True}})
    assert sparse.capabilities.hiring
    assert not sparse.capabilities.payments_write


# --- webhooks and messages -------------------------------------------------------------------


def test_webhook_secret_is_secret() -> None:
    created = WebhookCreated.model_validate(load("webhook-create.json"))
    assert created.secret.get_secret_value() == "whsec_<SECRET>"
    assert "whsec_" not in repr(created)
    assert "whsec_" not in str(created)
    assert created.webhook.event_types == [
        "proposal.received",
        "message.received",
        "approval.confirmed",
    ]


def test_disabled_webhook_says_why() -> None:
    _, disabled = (Webhook.model_validate(w) for w in load("webhooks-list.json")["webhooks"])
    assert disabled.status == "DISABLED"
    assert disabled.disabled_at == at("2026-06-10T14:20:00")
    assert disabled.disabled_reason == "Disabled after repeated delivery failures"


def test_messages_pages_in_both_modes() -> None:
    listed = MessagesPage.model_validate(load("messages-list-conversations.json"))
    [conversation] = listed.conversations
    assert conversation.bucket == "proposal"
    assert conversation.last_message is not None
    assert conversation.last_message.content == "Thanks — I can start Monday."
    assert listed.next_cursor is None
    message = load("messages-send-201.json")["message"]
    thread = MessagesPage.model_validate({"messages": [message], "nextCursor": "c2"})
    assert [m.id for m in thread.messages] == ["<MESSAGE_ID>"]
    assert thread.next_cursor == "c2"


def test_sent_message() -> None:
    sent = MessageSent.model_validate(load("messages-send-201.json"))
    assert sent.message.is_from_viewer
    assert sent.message.content.startswith("Hi Maria")
    assert sent.message.attachment_count == 0


# --- request bodies ----------------------------------------------------------------------------


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("name", ["hire-request-body.json", "hire-request-body-guide.json"])
def test_hire_body_matches_the_documented_example_byte_for_byte(name: str) -> None:
    example = load(name)["milestone"]
    terms = HireTerms(
        name=example["name"],
        description=example["description"],
        amount=Decimal(example["amount"]).quantize(Decimal("0.01")),
        due_date=date.fromisoformat(example["dueDate"]),
    )
    assert terms.request_body() == compact(load(name))


def test_hire_body_is_stable_and_exact() -> None:
    terms = HireTerms(name="Batch 1", description="10k boxes", amount=Decimal("450.00"))
    expected = b'{"milestone":{"name":"Batch 1","description":"10k boxes","amount":450}}'
    assert terms.request_body() == expected
    assert HireTerms.model_validate(terms.model_dump()).request_body() == expected
    override = terms.model_copy(
        update={"confirm_not_fit_override": True, "amount": Decimal("450.5")}
    )
    assert b'"amount":450.5' in override.request_body()
    assert override.request_body().endswith(b',"confirmNotFitOverride":true}')


def test_hire_body_keeps_unicode_readable() -> None:
    terms = HireTerms(name="Lote 1", description="Etiquetas — señales", amount=Decimal("1"))
    assert "Etiquetas — señales".encode() in terms.request_body()


@pytest.mark.parametrize(
    ("amount", "text"),
    [("450.00", b"450"), ("450.50", b"450.5"), ("0.01", b"0.01"), ("1E+3", b"1000"), ("-2", b"-2")],
)
def test_json_body_writes_decimals_as_exact_digits(amount: str, text: bytes) -> None:
    assert json_body({"a": Decimal(amount)}) == b'{"a":' + text + b"}"


def test_json_body_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="not a JSON number"):
        json_body({"a": Decimal("NaN")})


def test_json_body_nested_values() -> None:
    body = json_body({"x": ["a", True, None, 3], "y": {"z": Decimal("0.10")}})
    assert json.loads(body) == {"x": ["a", True, None, 3], "y": {"z": 0.1}}
    assert body == b'{"x":["a",true,null,3],"y":{"z":0.1}}'


def test_my_jobs_read_with_only_ids_and_unknown_statuses() -> None:
    page = MyJobsPage.model_validate(
        {"jobs": [{"id": "job_1", "status": "SOMETHING_NEW", "extra": 1}, {"id": "job_2"}]}
    )
    assert page.next_cursor is None
    first, second = page.jobs
    assert (first.status, first.title, first.proposal_counts, first.job_url) == (
        "SOMETHING_NEW",
        None,
        None,
        None,
    )
    assert second.status is None and second.published is None
    counts = MyJobsPage.model_validate({"jobs": [{"id": "j", "proposalCounts": {}}]}).jobs[0]
    assert counts.proposal_counts is not None
    assert (counts.proposal_counts.total, counts.proposal_counts.unreviewed) == (0, 0)
