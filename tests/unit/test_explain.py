"""Every failure → words a person can act on, with OpenTrain's requestId and never internals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.cards import explanation_message
from bot.explain import UNEXPECTED, Explanation, NotPossible, explain
from bot.opentrain import OpenTrainError, OpenTrainUnavailable
from bot.opentrain.errors import error_from_response
from bot.parsing import UsageError
from bot.roles import AccessDenied

REQUEST_ID = "9d1f3a8e-1111-4222-8333-444455556666"
CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


def opentrain_error(
    status: int, headers: dict[str, str] | None = None, **details: Any
) -> OpenTrainError:
    """The error the client raises for OpenTrain's envelope with these `details`."""
    code = CODES.get(status) or {409: "CONFLICT", 429: "RATE_LIMITED"}.get(status, "INTERNAL_ERROR")
    body = {
        "error": "Human-readable text",
        "code": code,
        "requestId": REQUEST_ID,
        "details": details,
    }
    return error_from_response(status, json.dumps(body), headers or {})


def rendered(explanation: Explanation, **options: Any) -> str:
    return json.dumps(explanation_message(explanation, **options).as_kwargs())


# --- OpenTrain's reasons -----------------------------------------------------------------


def test_account_claim_required_links_the_claim_page() -> None:
    error = opentrain_error(
        403,
        reason="account_claim_required",
        claimUrl="https://app.opentrain.ai/claim",
        action="hire AI trainers",
    )
    explanation = explain(error)
    assert "not claimed" in explanation.text and "human must claim" in explanation.text
    assert explanation.link_url == "https://app.opentrain.ai/claim"
    assert explanation.link_label == "Claim the account"
    assert explanation.request_id == REQUEST_ID
    assert not explanation.hire_anyway


def test_payment_method_required_links_billing() -> None:
    error = opentrain_error(
        409,
        reason="payment_method_required",
        billingUrl="https://app.opentrain.ai/settings/billing",
    )
    explanation = explain(error)
    assert "payment method" in explanation.text and "card" in explanation.text
    assert explanation.link_url == "https://app.opentrain.ai/settings/billing"
    assert explanation.link_label == "Open billing"
    assert explanation.request_id == REQUEST_ID


def test_missing_scope_names_the_scopes_and_where_to_mint_a_token() -> None:
    error = opentrain_error(403, requiredScopes=["payments:write", "proposals:write"])
    explanation = explain(error)
    assert "`payments:write`, `proposals:write`" in explanation.text
    assert "Settings → API keys" in explanation.text and "OT_API_TOKEN" in explanation.text
    assert explanation.request_id == REQUEST_ID


def test_missing_scope_given_as_one_string() -> None:
    assert "`payments:write`" in explain(opentrain_error(403, requiredScopes="payments:write")).text


def test_feature_off_names_the_feature() -> None:
    explanation = explain(opentrain_error(403, featureKey="public_api_payments_write"))
    assert "`public_api_payments_write` is not enabled" in explanation.text
    assert explanation.request_id == REQUEST_ID


def test_already_accepted_points_at_the_existing_contract() -> None:
    explanation = explain(opentrain_error(409, reason="already_accepted"))
    assert "already hired" in explanation.text and "contract" in explanation.text
    assert not explanation.hire_anyway
    assert explanation.request_id == REQUEST_ID


def test_not_fit_offers_hire_anyway() -> None:
    explanation = explain(opentrain_error(409, reason="not_fit_confirmation_required"))
    assert explanation.hire_anyway
    assert "Not a fit" in explanation.text and "Hire anyway" in explanation.text
    assert explanation.request_id == REQUEST_ID
    message = rendered(explanation, hire_anyway_value="draft1")
    assert '"action_id": "hire-anyway"' in message and '"value": "draft1"' in message


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("milestone_not_fundable", "already funded"),
        ("milestone_not_funded", "not funded yet"),
        ("milestone_cancelled", "cancelled"),
        ("contract_ended", "already ended"),
        ("contract_rate_missing", "no rate"),
    ],
)
def test_state_conflicts_in_plain_words(reason: str, words: str) -> None:
    explanation = explain(opentrain_error(409, reason=reason))
    assert words in explanation.text
    assert reason not in explanation.text  # words, not codes
    assert explanation.request_id == REQUEST_ID
    assert explanation.link_url is None and not explanation.hire_anyway


def test_an_unknown_conflict_names_its_reason() -> None:
    explanation = explain(opentrain_error(409, reason="something_new"))
    assert "`something_new`" in explanation.text and explanation.request_id == REQUEST_ID


def test_not_found_names_what_and_which() -> None:
    explanation = explain(opentrain_error(404, resource="approvals", approvalId="appr_x"))
    assert explanation.text == "OpenTrain has no approval `appr_x` for this account — check the id."
    assert explanation.request_id == REQUEST_ID
    bare = explain(opentrain_error(404))
    assert bare.text == "OpenTrain has no item for this account — check the id."


def test_rate_limits_say_when_to_try_again() -> None:
    from_body = explain(opentrain_error(429, retryAfterSeconds=90))
    assert "rate limiting" in from_body.text and "in 1 min" in from_body.text
    from_header = explain(opentrain_error(429, headers={"retry-after": "7.2"}))
    assert "in 8 s" in from_header.text and from_header.request_id == REQUEST_ID
    assert "in a minute" in explain(opentrain_error(429)).text


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_outages_in_plain_words(status: int) -> None:
    explanation = explain(opentrain_error(status))
    assert "OpenTrain is unavailable right now" in explanation.text
    assert explanation.request_id == REQUEST_ID


def test_a_proxy_page_instead_of_an_envelope_is_an_outage_too() -> None:
    error = error_from_response(502, "<html>Bad gateway</html>", {"x-request-id": "rid-1"})
    explanation = explain(error)
    assert "OpenTrain is unavailable right now (HTTP 502)" in explanation.text
    assert explanation.request_id == "rid-1"
    assert "html" not in explanation.text.lower()


def test_no_answer_at_all() -> None:
    explanation = explain(OpenTrainUnavailable("OpenTrain timed out (ReadTimeout, 4 attempts)"))
    assert "did not answer in time" in explanation.text
    assert "never creates a second one" in explanation.text
    assert "ReadTimeout" not in explanation.text


def test_unauthorized_and_bad_request() -> None:
    assert "OT_API_TOKEN" in explain(opentrain_error(401)).text
    assert "(field `amount`)" in explain(opentrain_error(400, field="amount")).text
    assert "refused this for the bot's token" in explain(opentrain_error(403)).text


def test_opentrains_own_message_is_never_shown() -> None:
    for status, details in [(409, {"reason": "contract_ended"}), (500, {}), (404, {})]:
        assert "Human-readable text" not in explain(opentrain_error(status, **details)).text


# --- our own failures -------------------------------------------------------------------


def test_usage_errors_say_what_to_type() -> None:
    explanation = explain(
        UsageError("`fund` needs a milestone id.", "/opentrain fund <milestoneId>")
    )
    assert explanation.text == "`fund` needs a milestone id.\nType: `/opentrain fund <milestoneId>`"
    assert explanation.request_id is None


def test_access_and_impossible_requests_use_their_own_words() -> None:
    assert explain(AccessDenied("You are not allowed.")).text == "You are not allowed."
    assert explain(NotPossible("Approval a1 is not tracked.")).text == "Approval a1 is not tracked."


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("boom at /srv/bot/secret.py line 3 with xoxb-123"),
        KeyError("proposalId"),
        ValueError("invalid literal for int() with base 10: 'x'"),
        ZeroDivisionError("division by zero"),
    ],
)
def test_unexpected_errors_say_nothing_internal(error: Exception) -> None:
    explanation = explain(error)
    assert explanation == Explanation(UNEXPECTED)
    message = rendered(explanation)
    for internal in ("boom", "xoxb", "proposalId", "int()", "division", "Traceback"):
        assert internal not in message


def test_rendered_explanations_carry_the_request_id_and_escape_typed_text() -> None:
    message = rendered(explain(opentrain_error(409, reason="contract_ended")))
    assert REQUEST_ID in message
    typed = rendered(
        explain(UsageError("“<!channel>” is not an /opentrain command.", "/opentrain help"))
    )
    assert "<!channel>" not in typed and "&lt;!channel&gt;" in typed


@pytest.mark.parametrize(
    ("reason", "status", "words"),
    [
        ("milestone_not_funded", "NOT_FUNDED", "Fund it first with `/opentrain fund ms_7`"),
        ("milestone_not_funded", None, "Fund it first with `/opentrain fund <milestoneId>`"),
        ("milestone_not_funded", "PAID", "already paid out"),
        ("milestone_not_funded", "released", "already paid out"),
        ("milestone_not_funded", "DISPUTED", "cannot be paid out while it is `DISPUTED`"),
        ("milestone_not_fundable", "ACTIVE_FUNDED", "it is already funded"),
        ("milestone_not_fundable", None, "it is already funded"),
        ("milestone_not_fundable", "COMPLETED", "already paid out"),
        ("milestone_not_fundable", "PENDING_REVIEW", "cannot be funded while it is"),
    ],
)
def test_milestone_advice_follows_the_milestones_actual_state(
    reason: str, status: str | None, words: str
) -> None:
    details: dict[str, Any] = {"reason": reason}
    if status is not None:
        details.update(milestoneStatus=status, milestoneId="ms_7")
    assert words in explain(opentrain_error(409, **details)).text


def test_the_payment_method_advice_mentions_fees_only_for_a_hire() -> None:
    error = opentrain_error(409, reason="payment_method_required")
    error.path = "/milestones/ms_1/fund"
    assert "fees" not in explain(error).text
    error.path = "/proposals/prop_1/hire"
    assert "the milestone plus fees" in explain(error).text


def milestone_refusal(reason: str, path: str, **details: Any) -> OpenTrainError:
    error = opentrain_error(409, reason=reason, **details)
    error.path = path
    return error


def test_payout_advice_names_the_milestone_from_the_path_when_it_could_not_be_read() -> None:
    # The co-sign service could not read the milestone (no milestoneId in the details), but
    # the refused request's own path says which one it was.
    error = milestone_refusal("milestone_not_funded", "/milestones/ms_123/approve")
    assert "Fund it first with `/opentrain fund ms_123`." in explain(error).text
    assert "<milestoneId>" not in explain(error).text


@pytest.mark.parametrize("path", [None, "/milestones/ms%20x%60y/approve", "/contracts/ctr_1/end"])
def test_payout_advice_keeps_the_placeholder_only_when_the_id_is_unknown(path: str | None) -> None:
    error = milestone_refusal("milestone_not_funded", path or "")
    assert "Fund it first with `/opentrain fund <milestoneId>`." in explain(error).text


def test_funding_a_funded_milestone_points_at_its_payout_when_the_id_is_known() -> None:
    known = milestone_refusal(
        "milestone_not_fundable", "/milestones/ms_7/fund", milestoneStatus="ACTIVE_FUNDED"
    )
    assert explain(known).text == (
        "That milestone cannot be funded — it is already funded. Once the work is accepted, "
        "release its payout with `/opentrain payout ms_7`."
    )
    unknown = opentrain_error(409, reason="milestone_not_fundable")
    assert explain(unknown).text == "That milestone cannot be funded — it is already funded."


def test_already_hired_names_the_contract_when_opentrain_does() -> None:
    named = explain(opentrain_error(409, reason="already_accepted", contractId="ctr_9"))
    assert "it has contract `ctr_9`. See it with `/opentrain contract ctr_9`." in named.text
    assert named.request_id == REQUEST_ID
    unnamed = explain(opentrain_error(409, reason="already_accepted"))
    assert "See it with `/opentrain contracts`." in unnamed.text


def test_not_found_without_details_names_what_the_path_asked_for() -> None:
    error = opentrain_error(404)
    error.path = "/milestones/ms_9/fund"
    assert explain(error).text == (
        "OpenTrain has no milestone `ms_9` for this account — check the id."
    )
    error = opentrain_error(404, resource="contracts")
    error.path = "/contracts/ctr_1/end"
    assert "no contract `ctr_1`" in explain(error).text
    error = opentrain_error(404)
    error.path = "/auth/me"
    assert explain(error).text == "OpenTrain has no item for this account — check the id."
