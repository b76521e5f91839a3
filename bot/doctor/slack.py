"""The doctor's Slack checks: the token, its scopes against the manifest, the channels."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.doctor.check import TIMEOUT_S, Check
from bot.routing import INVITE, describe_key

MANIFEST = Path(__file__).resolve().parents[2] / "app_manifest.yaml"
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")


async def slack_checks(
    settings: Settings, channels: Mapping[str, str], *, manifest: Path = MANIFEST
) -> list[Check]:
    """Token, granted scopes against the manifest, and membership of `channels`
    (channel id → why the bot needs it, e.g. "DEFAULT_CHANNEL")."""
    if settings.slack_bot_token is None:
        return []  # the settings check already says so
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(TIMEOUT_S),
    )
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
        checks.append(await _membership(client, channel_id, why))
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


async def _membership(client: AsyncWebClient, channel_id: str, why: str) -> Check:
    """The bot must be in each channel it posts cards to: it reads the channel back to post
    each card exactly once, and it only hears pasted approval links where it is a member."""
    name = f"Channel for {why}"
    try:
        info = await client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        detail = (
            f"{channel_id} not found — a wrong id, or a private channel the bot is not in"
            if error == "channel_not_found"
            else f"{channel_id} cannot be checked ({error})"
        )
        return Check(
            name,
            False,
            detail,
            f"Check the id; in a private channel, invite the bot first: {INVITE}.",
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(name, False, f"{channel_id} cannot be checked ({type(exc).__name__})")
    channel = info.get("channel") or {}
    shown = f"#{channel['name']}" if channel.get("name") else channel_id
    if channel.get("is_im"):
        return Check(name, True, f"{channel_id} is a direct message with the bot")
    if channel.get("is_archived"):
        return Check(
            name,
            False,
            f"{shown} is archived",
            f"Unarchive it, or send {why} to another channel.",
        )
    if not channel.get("is_member"):
        return Check(
            name,
            False,
            f"the bot is not a member of {shown}",
            f"In {shown}, type {INVITE}.",
        )
    return Check(name, True, f"the bot is a member of {shown}")


def channels_to_check(settings: Settings, routes: Mapping[str, str]) -> dict[str, str]:
    """Channel id → why the bot must be there: DEFAULT_CHANNEL and every stored route."""
    reasons: dict[str, list[str]] = {}
    if settings.default_channel and _CHANNEL_ID.fullmatch(settings.default_channel):
        reasons.setdefault(settings.default_channel, []).append("DEFAULT_CHANNEL")
    for key, channel_id in sorted(routes.items()):
        reasons.setdefault(channel_id, []).append(describe_key(key))
    return {channel_id: ", ".join(why) for channel_id, why in reasons.items()}
