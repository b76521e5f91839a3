"""app_manifest.yaml: valid for Slack's schema and limits, and scoped to what the code calls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bot.sandbox.slack.config import DEFAULT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
# A copy of Slack's published schema (slackapi/manifest-schema, MIT) from shared/slack/.
SCHEMA = ROOT / "tests" / "fixtures" / "slack" / "manifest.schema.1.0.0.json"

# Web API methods the bot calls → the bot scope each needs (Slack's method docs).
METHOD_SCOPES = {
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_getPermalink": set(),
    "chat_unfurl": {"links:write"},
    "reactions_add": {"reactions:write"},
    "conversations_open": {"im:write"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_join": {"channels:join"},
    "conversations_history": {"channels:history", "groups:history", "im:history"},
    "conversations_replies": {"channels:history", "groups:history", "im:history"},
    "users_info": {"users:read"},
    "usergroups_users_list": {"usergroups:read"},
    "views_open": set(),
    "views_update": set(),
    "views_publish": set(),
    "auth_test": set(),
}
# Scopes needed by features rather than by a method call.
FEATURE_SCOPES = {
    "commands",  # the /opentrain slash command
    "links:read",  # link_shared events for the OpenTrain host
    "chat:write.public",  # cards in public channels the bot was not invited to
}


def manifest() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "app_manifest.yaml").read_text())


def schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def called_methods() -> set[str]:
    pattern = re.compile(r"\.(" + "|".join(METHOD_SCOPES) + r")\(")
    found: set[str] = set()
    for folder in ("bot", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            if "sandbox" in path.parts:
                continue
            found.update(pattern.findall(path.read_text()))
    return found


def test_manifest_is_valid_against_slacks_schema() -> None:
    jsonschema.Draft7Validator(schema()).validate(manifest())


def test_manifest_has_what_the_bot_relies_on() -> None:
    data = manifest()
    assert data["_metadata"]["major_version"] == 1
    assert data["features"]["bot_user"]["display_name"]
    (command,) = data["features"]["slash_commands"]
    assert command["command"] == "/opentrain"
    assert command["usage_hint"] and command["should_escape"] is True
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert "link_shared" in data["settings"]["event_subscriptions"]["bot_events"]
    assert "app.opentrain.ai" in data["features"]["unfurl_domains"]


def test_manifest_stays_within_slacks_documented_limits() -> None:
    data = manifest()
    info = data["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert 1 <= len(info["description"]) <= 140
    assert 175 <= len(info["long_description"]) <= 4000
    assert len(data["features"]["bot_user"]["display_name"]) <= 80
    command = data["features"]["slash_commands"][0]
    assert len(command["command"]) <= 32 and len(command["usage_hint"]) <= 1000


def test_every_scope_the_code_needs_is_declared_and_none_is_spare() -> None:
    declared = set(manifest()["oauth_config"]["scopes"]["bot"])
    methods = called_methods()
    assert {"chat_postMessage", "chat_update", "conversations_open"} <= methods
    needed = set(FEATURE_SCOPES)
    for method in methods:
        needed |= METHOD_SCOPES[method]
    assert needed - declared == set(), "scopes the code needs but the manifest lacks"
    assert declared - needed == set(), "scopes the manifest asks for but no code uses"


def test_the_slack_simulator_grants_what_the_manifest_asks_for() -> None:
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == set(DEFAULT_SCOPES)
