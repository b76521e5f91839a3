"""The doctor's Slack checks: the token, its scopes against the manifest, the channels."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from slack_sdk.errors import SlackApiError

from bot.channels import INVITE, Access, Channels
from bot.config import Settings
from bot.doctor.check import TIMEOUT_S, Check
from bot.routing import describe_key
from bot.slack_gateway import open_gateway
from bot.slack_ids import is_channel_id

MANIFEST = Path(__file__).resolve().parents[2] / "app_manifest.yaml"


async def slack_checks(
    settings: Settings, channels: Mapping[str, str], *, manifest: Path = MANIFEST
) -> list[Check]:
    """Token, granted scopes against the manifest, and membership of `channels`
    (channel id → why the bot needs it, e.g. "DEFAULT_CHANNEL")."""
    if settings.slack_bot_token is None:
        return []  # the settings check already says so
    client = open_gateway(settings, timeout=TIMEOUT_S).calls
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        return [
            Check(
                "Slack token",
                False,
                f"Slack rejects the token ({error})",
                "Set SLACK_BOT_TOKEN to the Bot User OAuth Token (xoxb-…) from OAuth & "
                "Permissions; reinstall the app if it was revoked.",
            )
        ]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [
            Check(
                "Slack token",
                False,
                f"Slack could not be reached at {settings.slack_api_url} ({type(exc).__name__})",
                "Check the network, or SLACK_API_URL if you changed it.",
            )
        ]
    bot_name = str(auth.get("user") or "the bot")
    checks = [
        Check(
            "Slack token",
            True,
            f"valid — @{bot_name} in {auth.get('team')} ({auth.get('team_id')})",
        )
    ]
    team_id = str(auth.get("team_id") or "")
    if settings.slack_team_id and settings.slack_team_id != team_id:
        checks.append(
            Check(
                "SLACK_TEAM_ID",
                False,
                f"is {settings.slack_team_id}, but the token belongs to {team_id}, so every "
                "request would be refused",
                "Set SLACK_TEAM_ID to the workspace the app is installed in, or unset it.",
            )
        )
    checks.append(_scopes(dict(auth.headers), manifest))
    for channel_id, why in channels.items():
        checks.append(await _membership(Channels(client), channel_id, why))
    return checks


def _manifest_scopes(manifest: Path) -> list[str]:
    """The bot scopes `app_manifest.yaml` asks for."""
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    scopes = data["oauth_config"]["scopes"]["bot"]
    return [str(scope) for scope in scopes]


def _scopes(headers: Mapping[str, Any], manifest: Path) -> Check:
    try:
        wanted = _manifest_scopes(manifest)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        return Check(
            "Slack scopes",
            False,
            f"cannot read the scopes the app needs from {manifest} ({type(exc).__name__})",
            "Run doctor from a checkout that has app_manifest.yaml.",
            required=False,
        )
    header = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        return Check(
            "Slack scopes",
            False,
            "Slack did not say which scopes the token has",
            required=False,
        )
    granted = {scope.strip() for scope in header.split(",") if scope.strip()}
    missing = [scope for scope in wanted if scope not in granted]
    if missing:
        return Check(
            "Slack scopes",
            False,
            "missing " + ", ".join(missing),
            "Add them under OAuth & Permissions → Bot Token Scopes (or update the app from "
            "app_manifest.yaml), then reinstall the app to the workspace.",
        )
    return Check("Slack scopes", True, f"all {len(wanted)} scopes app_manifest.yaml asks for")


async def _membership(channels: Channels, channel_id: str, why: str) -> Check:
    """The one membership rule (bot/channels.py): the bot must be in, or able to join, each
    channel it posts cards to; doctor only looks, it joins nothing."""
    name = f"Channel for {why}"
    try:
        check = await channels.check(channel_id)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(name, False, f"{channel_id} cannot be checked ({type(exc).__name__})")
    match check.access:
        case Access.DIRECT:
            return Check(name, True, f"{channel_id} is a direct message with the bot")
        case Access.MEMBER:
            return Check(name, True, f"the bot is a member of {check.shown}")
        case Access.JOINABLE:
            return Check(
                name, True, f"{check.shown} is public: the bot joins it before its first card"
            )
    fix = (
        f"Unarchive it, or send {why} to another channel."
        if check.error == "is_archived"
        else f"Check the id; in a private channel, invite the bot first: {INVITE}."
    )
    return Check(name, False, f"{channel_id}: {check.problem}", fix)


def channels_to_check(settings: Settings, routes: Mapping[str, str]) -> dict[str, str]:
    """Channel id → why the bot must be there: DEFAULT_CHANNEL and every stored route."""
    reasons: dict[str, list[str]] = {}
    if settings.default_channel and is_channel_id(settings.default_channel):
        reasons.setdefault(settings.default_channel, []).append("DEFAULT_CHANNEL")
    for key, channel_id in sorted(routes.items()):
        reasons.setdefault(channel_id, []).append(describe_key(key))
    return {channel_id: ", ".join(why) for channel_id, why in reasons.items()}
