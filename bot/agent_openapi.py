"""The agent API's OpenAPI 3.1 document (`GET /agent/v1/openapi.json`), from its models."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.agent_models import (
    ApprovalResponse,
    ContractEndedResponse,
    EndRequest,
    ErrorResponse,
    HandOverRequest,
    HireRequest,
    MilestoneRequest,
    PolicyRequestResponse,
)

# --- OpenAPI ------------------------------------------------------------------------------

SCHEMA_REF = "#/components/schemas/{model}"

REQUESTS: dict[str, type[BaseModel]] = {
    "hire": HireRequest,
    "fund": MilestoneRequest,
    "payout": MilestoneRequest,
    "end": EndRequest,
    "approvals": HandOverRequest,
}
SUMMARIES = {
    "hire": "Hire from a proposal (co-signed): OpenTrain call, card, tracking",
    "fund": "Fund a milestone (co-signed)",
    "payout": "Release a funded milestone (co-signed)",
    "end": "End a contract (co-signed when it holds escrow, else ends at once)",
    "approvals": "Hand over an approval the agent created itself (re-read by id)",
}
# Every status each endpoint answers besides its success, from the code: the endpoint wrapper
# (bot/agent_api.py: 401, 429, 500, 503), the desk's refusals (bot/agent_desk.py) and OpenTrain's
# passed through (bot/agent_http.py `opentrain_refusal`). tests/e2e/test_agent_api_docs.py sends
# what provokes each and checks it is listed here.
UNAUTHORIZED = "Missing or wrong bearer token; nothing was done"
RATE_LIMITED = (
    "Over the agent's requests per minute, or too many failed tokens from this address; "
    "Retry-After says when to try again"
)
INTERNAL = "The bot failed (its logs have the details under requestId); repeating is safe"
STORE_DOWN = "The bot's database is unavailable; Retry-After says when to try again"
ERRORS = {
    "400": (
        "Invalid body (not JSON, unknown field, bad amount, date in the past, …) or a "
        "callbackUrl refused (details.field callbackUrl, details.reason callback_url_…); "
        "nothing was done"
    ),
    "401": UNAUTHORIZED,
    "403": (
        "Refused by the agent's spend policy (details.reason policy_denied), or by OpenTrain "
        "(details.source opentrain, e.g. account_claim_required); nothing was done"
    ),
    "404": (
        "OpenTrain does not show the bot this proposal, milestone, contract or approval "
        "(details.resource)"
    ),
    "413": "Body over 64 KiB",
    "422": (
        "The card's channel cannot take it (CHANNEL_UNAVAILABLE, details.reason is Slack's "
        "error); nothing reached OpenTrain"
    ),
    "429": f"{RATE_LIMITED}; or OpenTrain's rate limit, passed through",
    "500": f"{INTERNAL}; or OpenTrain's 500, passed through",
    "502": "OpenTrain rejected the bot's own token, or answered something unreadable",
    "503": (
        "OpenTrain unreachable, the bot's database unavailable, or another request of this "
        "agent still being decided; Retry-After says when to try again"
    ),
}
PASSED_THROUGH = "OpenTrain refused (status, code and details passed through)"
READ_ERRORS = {"401": UNAUTHORIZED, "429": RATE_LIMITED, "500": INTERNAL, "503": STORE_DOWN}
WAIT_SECONDS = {
    "name": "waitSeconds",
    "in": "query",
    "required": False,
    "description": (
        "Hold the request until the approval is no longer pending, or this many seconds passed "
        "(0, the default: answer at once); the answer is the same either way. Waiting costs no "
        "OpenTrain request: the bot waits on its own outcomes."
    ),
    "schema": {"type": "integer", "minimum": 0, "maximum": 60, "default": 0},
}


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI 3.1 document, generated from the models above."""
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        *((model, "validation") for model in dict.fromkeys(REQUESTS.values())),
        (ApprovalResponse, "serialization"),
        (ContractEndedResponse, "serialization"),
        (PolicyRequestResponse, "serialization"),
        (ErrorResponse, "serialization"),
    ]
    _, schemas = models_json_schema(models, by_alias=True, ref_template=SCHEMA_REF)

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return {
            "content": {
                "application/json": {"schema": {"$ref": SCHEMA_REF.format(model=model.__name__)}}
            }
        }

    def error(description: str) -> dict[str, Any]:
        return {"description": description, **ref(ErrorResponse)}

    paths: dict[str, Any] = {}
    for name, request in REQUESTS.items():
        responses: dict[str, Any] = {
            "202": {
                "description": (
                    "A card was requested and the approval is tracked (ApprovalResponse); or, "
                    "over a spend limit with overLimit: ask, the request waits for an admin "
                    "(PolicyRequestResponse, status awaiting_policy_approval)"
                ),
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": SCHEMA_REF.format(model="ApprovalResponse")},
                                {"$ref": SCHEMA_REF.format(model="PolicyRequestResponse")},
                            ]
                        }
                    }
                },
            },
            **{status: error(text) for status, text in ERRORS.items()},
            "4XX": error(PASSED_THROUGH),
            "5XX": error("OpenTrain failing (its status passed through)"),
        }
        if name == "end":
            responses["200"] = {
                "description": "Ended at once (nothing funded)",
                **ref(ContractEndedResponse),
            }
        paths[f"/agent/v1/{name}"] = {
            "post": {
                "operationId": name,
                "summary": SUMMARIES[name],
                "requestBody": {"required": True, **ref(request)},
                "responses": responses,
            }
        }

    def get(
        operation: str,
        summary: str,
        parameter: str,
        found: dict[str, Any],
        refusals: dict[str, str],
        query: tuple[dict[str, Any], ...] = (),
    ) -> dict[str, Any]:
        errors = {**READ_ERRORS, **refusals}
        return {
            "get": {
                "operationId": operation,
                "summary": summary,
                "parameters": [
                    {
                        "name": parameter,
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    *query,
                ],
                "responses": {
                    "200": found,
                    **{status: error(errors[status]) for status in sorted(errors)},
                },
            }
        }

    paths["/agent/v1/approvals/{approvalId}"] = get(
        "getApproval",
        "The tracked status, outcome and card of an approval; optionally held until it ends",
        "approvalId",
        {
            "description": (
                "Tracked by the bot: as soon as it is no longer pending, or once waitSeconds "
                "passed (still pending)"
            ),
            **ref(ApprovalResponse),
        },
        {
            "400": (
                "Not an approval id, or waitSeconds not a whole number from 0 to 60 "
                "(details.parameter names it)"
            ),
            "404": "The bot does not track this approval (answered at once, whatever waitSeconds)",
        },
        query=(WAIT_SECONDS,),
    )
    paths["/agent/v1/requests/{requestId}"] = get(
        "getRequest",
        "A request over a spend limit: awaiting an admin, allowed, refused, expired",
        "requestId",
        {"description": "This agent's request", **ref(PolicyRequestResponse)},
        {"404": "No such request of this agent"},
    )
    paths["/agent/v1/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document (no token needed)",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OpenTrain co-sign bot — agent API",
            "version": "1",
            "description": (
                "Ask for OpenTrain co-signs through the bot: it makes the call with its own "
                "token, posts the approval card in Slack and tracks the outcome."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
