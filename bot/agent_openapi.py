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
ERRORS = {
    "400": "Invalid body (unknown field, bad amount, date in the past, …) or a callbackUrl "
    "refused (details.field callbackUrl, details.reason callback_url_…); nothing was done",
    "401": "Missing or wrong bearer token; nothing was done",
    "403": "Refused by the agent's spend policy (details.reason policy_denied); nothing was done",
    "413": "Body over 64 KiB",
    "429": "Over the agent's requests per minute (Retry-After), or too many failed tokens",
}
PASSED_THROUGH = "OpenTrain refused (status, code and details passed through)"


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
            "5XX": error("OpenTrain unreachable or failing (502/503), or a bot error (500)"),
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
        operation: str, summary: str, parameter: str, found: dict[str, Any], missing: str
    ) -> dict[str, Any]:
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
                    }
                ],
                "responses": {"200": found, "401": error(ERRORS["401"]), "404": error(missing)},
            }
        }

    paths["/agent/v1/approvals/{approvalId}"] = get(
        "getApproval",
        "The tracked status, outcome and card of an approval",
        "approvalId",
        {"description": "Tracked by the bot", **ref(ApprovalResponse)},
        "The bot does not track this approval",
    )
    paths["/agent/v1/requests/{requestId}"] = get(
        "getRequest",
        "A request over a spend limit: awaiting an admin, allowed, refused, expired",
        "requestId",
        {"description": "This agent's request", **ref(PolicyRequestResponse)},
        "No such request of this agent",
    )
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
