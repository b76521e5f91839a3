"""The agent API's wire models: validation rules, the response mapping, the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from bot.agent_models import (
    ApprovalResponse,
    EndRequest,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    ValidationContext,
    approval_response,
    error_body,
)
from bot.agent_openapi import openapi_document
from bot.cosign import CardPlacement
from bot.opentrain import ApprovalType
from bot.tracked_approvals import Requester, TrackedApproval, TrackedStatus

TODAY = date(2026, 5, 1)
CONTEXT = ValidationContext(today=TODAY, max_amount=Decimal("10000"))
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)

HOST = "app.opentrain.ai"


def hire(**changes: Any) -> dict[str, Any]:
    milestone = {"name": "Batch 1", "description": "10k boxes", "amount": Decimal("450.50")}
    body: dict[str, Any] = {"proposalId": "prop_ada", "milestone": milestone}
    for key, value in changes.items():
        if key.startswith("milestone_"):
            milestone[key.removeprefix("milestone_")] = value
        else:
            body[key] = value
    return body


def problems(model: type, body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body, context=CONTEXT)
    return {
        ".".join(str(p) for p in error["loc"]): f"{error['type']}: {error['msg']}"
        for error in raised.value.errors()
    }


# --- hire ---------------------------------------------------------------------------------


def test_a_full_hire_request_parses_into_exact_terms() -> None:
    body = hire(
        milestone_dueDate="2026-05-01",
        confirmNotFitOverride=True,
        channel="C0HIRING",
        note="  Ada's sample was the best  ",
    )
    request = HireRequest.model_validate(body, context=CONTEXT)
    assert request.proposal_id == "prop_ada"
    assert request.milestone.amount == Decimal("450.50")
    assert request.milestone.due_date == TODAY  # today is not the past
    assert request.confirm_not_fit_override is True
    assert request.channel == "C0HIRING"
    assert request.note == "Ada's sample was the best"


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(450, Decimal("450.00")), ("450.5", Decimal("450.50")), (Decimal("0.01"), Decimal("0.01"))],
)
def test_amounts_are_json_numbers_or_strings(amount: object, expected: Decimal) -> None:
    request = HireRequest.model_validate(hire(milestone_amount=amount), context=CONTEXT)
    assert request.milestone.amount == expected


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        (0, "more than $0"),
        (Decimal("-5"), "more than $0"),
        (Decimal("1.005"), "two decimals"),
        (Decimal("10000.01"), "at most $10,000.00"),
        ("ten", "not an amount"),
        ("NaN", "not an amount"),
        (True, "JSON number or a string"),
        (450.5, "JSON number or a string"),  # a float may already have lost cents
        (None, "JSON number or a string"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(amount: object, problem: str) -> None:
    found = problems(HireRequest, hire(milestone_amount=amount))
    assert problem in found["milestone.amount"]


@pytest.mark.parametrize(
    "due", ["2026-04-30", "07/01/2026", "2026-07-01T00:00:00Z", 20260701, "2026-02-30"]
)
def test_due_dates_must_be_iso_days_not_in_the_past(due: object) -> None:
    assert "milestone.dueDate" in problems(HireRequest, hire(milestone_dueDate=due))


def test_unknown_fields_are_refused_at_every_level() -> None:
    found = problems(HireRequest, hire(approvalUrl="https://evil.example", milestone_ammount=9))
    assert found["approvalUrl"].startswith("extra_forbidden")
    assert found["milestone.ammount"].startswith("extra_forbidden")


def test_snake_case_keys_are_not_the_wire_names() -> None:
    body = {"proposal_id": "prop_ada", "milestone": hire()["milestone"]}
    found = problems(HireRequest, body)
    assert found["proposalId"].startswith("missing")
    assert found["proposal_id"].startswith("extra_forbidden")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"milestone_name": ""}, "milestone.name"),
        ({"milestone_name": "   "}, "milestone.name"),
        ({"milestone_name": "n" * 201}, "milestone.name"),
        ({"milestone_description": "d" * 3001}, "milestone.description"),
        ({"note": "x" * 501}, "note"),
        ({"note": ""}, "note"),
        ({"proposalId": "../prop"}, "proposalId"),
        ({"proposalId": "p" * 129}, "proposalId"),
        ({"proposalId": 12}, "proposalId"),
        ({"channel": "#general"}, "channel"),
        ({"channel": "U0ANA"}, "channel"),
        ({"channel": "D0DM"}, "channel"),
        ({"confirmNotFitOverride": "true"}, "confirmNotFitOverride"),
    ],
)
def test_field_limits(changes: dict[str, Any], field: str) -> None:
    assert field in problems(HireRequest, hire(**changes))


def test_the_longest_allowed_values_pass() -> None:
    body = hire(milestone_name="n" * 200, milestone_description="d" * 3000, note="x" * 500)
    body["proposalId"] = "p" * 128
    assert HireRequest.model_validate(body, context=CONTEXT).note == "x" * 500


def test_validation_without_the_context_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="ValidationContext"):
        HireRequest.model_validate(hire())


# --- the other requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (MilestoneRequest, "milestoneId"),
        (EndRequest, "contractId"),
        (HandOverRequest, "approvalId"),
    ],
)
def test_id_requests(model: type, key: str) -> None:
    parsed = model.model_validate({key: "x_1", "channel": "G0SECRET"}, context=CONTEXT)
    assert parsed.channel == "G0SECRET" and parsed.note is None
    assert key in problems(model, {})
    assert "approvalUrl" in problems(model, {key: "x_1", "approvalUrl": "https://x"})


# --- responses -----------------------------------------------------------------------------


def tracked(**changes: Any) -> TrackedApproval:
    base = TrackedApproval(
        approval_id="apr_1",
        type=ApprovalType.MILESTONE_FUND,
        approval_url="https://app.opentrain.ai/approvals/apr_1",
        expires_at=NOW + timedelta(hours=72),
        created_at=NOW,
        job_id="job_1",
        contract_id="ctr_1",
        milestone_id="ms_1",
        requester=Requester(kind="agent", id="planner", note="sprint 3"),
        channel_id="C0HIRING",
        card_ts="1.000001",
        card_permalink="https://slack.example/archives/C0HIRING/p1000001",
        next_check_at=NOW,
        adopted_at=NOW,
    )
    return base.evolve(**changes)


def test_a_pending_approval_with_its_card() -> None:
    placement = CardPlacement("C0HIRING", "1.000001", "https://slack.example/p1")
    body = approval_response(tracked(), placement, opentrain_host=HOST).model_dump(
        mode="json", by_alias=True
    )
    assert body["approval"] == {
        "id": "apr_1",
        "type": "milestone_fund",
        "status": "pending",
        "approvalUrl": "https://app.opentrain.ai/approvals/apr_1",
        "expiresAt": "2026-05-04T12:00:00Z",
        "createdAt": "2026-05-01T12:00:00Z",
        "resolvedAt": None,
        "jobId": "job_1",
        "proposalId": None,
        "contractId": "ctr_1",
        "milestoneId": "ms_1",
        "result": None,
    }
    assert body["tracked"] == {
        "status": "pending",
        "requester": {"kind": "agent", "id": "planner", "note": "sprint 3"},
        "outcome": None,
    }
    assert body["card"] == {
        "channel": "C0HIRING",
        "ts": "1.000001",
        "permalink": "https://slack.example/p1",
        "error": None,
        "hint": None,
    }


def test_the_card_falls_back_to_the_tracked_record_and_explains_errors() -> None:
    placement = CardPlacement(None, None, error="not_in_channel")
    card = approval_response(tracked(), placement, opentrain_host=HOST).card
    assert (card.channel, card.ts) == ("C0HIRING", "1.000001")
    assert card.error == "not_in_channel" and card.hint and "/invite" in card.hint


def test_outcomes_and_statuses_without_an_opentrain_equivalent() -> None:
    confirmed = tracked(
        status=TrackedStatus.CONFIRMED, resolved_at=NOW, result={"invoiceId": "inv_1"}
    )
    response = approval_response(confirmed, CardPlacement(None, None), opentrain_host=HOST)
    assert response.approval.status == "confirmed"
    assert response.tracked.outcome is not None
    assert response.tracked.outcome.result == {"invoiceId": "inv_1"}

    replaced = tracked(status=TrackedStatus.SUPERSEDED, superseded_by="apr_2", resolved_at=NOW)
    response = approval_response(replaced, CardPlacement(None, None), opentrain_host=HOST)
    assert response.approval.status is None
    assert response.tracked.status == "superseded"
    assert response.tracked.outcome is not None
    assert response.tracked.outcome.superseded_by == "apr_2"


def test_the_error_envelope() -> None:
    body = error_body("nope", "CONFLICT", "rid", {"reason": "milestone_not_funded"})
    assert body == {
        "error": "nope",
        "code": "CONFLICT",
        "requestId": "rid",
        "details": {"reason": "milestone_not_funded"},
    }
    assert error_body("x", "NOT_FOUND", "rid")["details"] == {}


# --- OpenAPI ------------------------------------------------------------------------------


def resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_the_openapi_document_is_complete_and_consistent() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/agent/v1/hire",
        "/agent/v1/fund",
        "/agent/v1/payout",
        "/agent/v1/end",
        "/agent/v1/approvals",
        "/agent/v1/approvals/{approvalId}",
        "/agent/v1/requests/{requestId}",
        "/agent/v1/openapi.json",
    }
    for ref in refs(document):
        assert resolve(document, ref), ref
    schemas = document["components"]["schemas"]
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    hire_schema = schemas["HireRequest"]
    assert hire_schema["additionalProperties"] is False
    assert set(hire_schema["required"]) == {"proposalId", "milestone"}
    assert "200" in document["paths"]["/agent/v1/end"]["post"]["responses"]


def test_a_link_off_the_opentrain_host_is_never_relayed() -> None:
    phishing = tracked().evolve(
        approval_url="https://app.opentrain.ai.evil.example/approvals/apr_1"
    )
    response = approval_response(phishing, CardPlacement(None, None), opentrain_host=HOST)
    assert response.approval.approval_url is None
    genuine = approval_response(tracked(), CardPlacement(None, None), opentrain_host=HOST)
    assert genuine.approval.approval_url == "https://app.opentrain.ai/approvals/apr_1"


def test_responses_validate_against_the_published_schema() -> None:
    document = openapi_document()
    schema = {
        "$ref": "#/components/schemas/ApprovalResponse",
        "components": document["components"],
    }
    response = approval_response(tracked(), CardPlacement(None, None), opentrain_host=HOST)
    body = response.model_dump(mode="json", by_alias=True)
    jsonschema.validate(body, schema)
    broken = {**body, "card": {**body["card"], "ts": 5}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    assert ApprovalResponse.model_validate(body) == response


def test_every_request_takes_a_callback_url_and_the_document_says_so() -> None:
    url = "https://agent.example.com/cosign/callback?key=abc"
    for model, body in [
        (HireRequest, hire()),
        (MilestoneRequest, {"milestoneId": "ms_1"}),
        (EndRequest, {"contractId": "ctr_1"}),
        (HandOverRequest, {"approvalId": "apr_1"}),
    ]:
        parsed = model.model_validate({**body, "callbackUrl": url}, context=CONTEXT)
        assert parsed.callback_url == url
        assert model.model_validate(body, context=CONTEXT).callback_url is None
        too_long = {**body, "callbackUrl": url + "x" * 2048}
        assert problems(model, too_long)["callbackUrl"].startswith("string_too_long")
    schemas = openapi_document()["components"]["schemas"]
    for name in ("HireRequest", "MilestoneRequest", "EndRequest", "HandOverRequest"):
        [shape, _] = schemas[name]["properties"]["callbackUrl"]["anyOf"]
        assert shape["format"] == "uri" and shape["maxLength"] == 2048
        assert "X-Cosign-Signature" in shape["description"]
