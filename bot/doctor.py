"""Preconditions, checked: what the bot needs from its settings, OpenTrain, Slack and its store.

`/opentrain status` shows `opentrain_checks`; `python -m bot doctor` runs all
of them and exits 0 only when every required check passes. Each check says
what it found and, when it fails, how to fix it. Secrets are never printed:
settings are reported as set or not, and every line is redacted once more
before it is written, in case an error message ever quotes one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import yaml
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import format_usd
from bot.cards.links import safe_link
from bot.config import Settings
from bot.logs import redact
from bot.opentrain import Forbidden, OpenTrainClient, OpenTrainError, Unauthorized
from bot.policy import BUILT_IN, PolicyError, load_policy
from bot.routing import INVITE, describe_key
from bot.store import Store, StoreUnavailable, open_store

HIRING_SCOPES = ("proposals:write", "payments:write", "payments:read")
WEBHOOK_PATH = "/opentrain/webhook"
MANIFEST = Path(__file__).resolve().parent.parent / "app_manifest.yaml"
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
# Doctor's own calls fail fast: a person is waiting for the verdict.
_TIMEOUT_S = 10.0

Mode = Literal["serve", "socket"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None
    link: str | None = None
    required: bool = True  # a failing optional check is a warning, not a failure


def verdict(checks: list[Check]) -> bool:
    return all(check.ok for check in checks if check.required)


# --- settings ----------------------------------------------------------------------------------


def settings_checks(settings: Settings, mode: Mode) -> list[Check]:
    """Which settings `mode` needs, present and well-formed (values are never shown)."""
    checks = [
        _token(
            "SLACK_BOT_TOKEN",
            settings.slack_bot_token,
            "xoxb-",
            "Copy the Bot User OAuth Token from your Slack app's OAuth & Permissions page "
            "(without it `make run` starts the sandbox instead).",
        )
    ]
    if mode == "serve":
        checks.append(
            _token(
                "SLACK_SIGNING_SECRET",
                settings.slack_signing_secret,
                "",
                "Copy the Signing Secret from your Slack app's Basic Information page.",
            )
        )
    else:
        checks.append(
            _token(
                "SLACK_APP_TOKEN",
                settings.slack_app_token,
                "xapp-",
                "Create an app-level token with connections:write (Basic Information → "
                "App-Level Tokens) and enable Socket Mode.",
            )
        )
    checks.append(
        _token(
            "OT_API_TOKEN",
            settings.ot_api_token,
            "ot_pat_",
            "Mint a personal API token in OpenTrain (Settings → API keys).",
        )
    )
    checks.append(_opentrain_url(settings.ot_api_base_url))
    if settings.ot_webhook_secret is not None:
        checks.append(
            _token(
                "OT_WEBHOOK_SECRET",
                settings.ot_webhook_secret,
                "whsec_",
                "Use the whsec_… secret printed by `python -m bot webhooks register`.",
            )
        )
    checks += _default_channel(settings)
    checks.append(_spend_policy(settings))
    return checks


def _spend_policy(settings: Settings) -> Check:
    """AGENT_POLICY_FILE reads and validates (the bot refuses to start otherwise)."""
    name = "Agent spend policy"
    try:
        policy = load_policy(settings.agent_policy_file, settings.agent_tokens)
    except PolicyError as exc:
        return Check(name, False, str(exc), 'Fix the file; README "Who can do what" shows one.')
    if policy.source is None:
        limits = "; ".join(BUILT_IN.describe()[:3])
        return Check(name, True, f"built-in default for every agent ({limits})")
    named = ", ".join(policy.named_agents) or "no agent of its own"
    return Check(name, True, f"{policy.source}: a default and limits for {named}")


def _token(name: str, value: SecretStr | None, prefix: str, fix: str) -> Check:
    if value is None or not value.get_secret_value().strip():
        return Check(name, False, "not set", fix)
    if prefix and not value.get_secret_value().startswith(prefix):
        return Check(name, False, f"set, but it does not start with {prefix}", fix)
    return Check(name, True, f"set ({prefix}…)" if prefix else "set")


def _opentrain_url(url: str) -> Check:
    # The card's own rule for links (plain http only on localhost, where the sandbox runs).
    # Settings already refused any other form; this catches http on another loopback
    # address (127.0.0.2, [::1]), which Settings allow but cards do not link to.
    if safe_link(url) is not None:
        return Check("OT_API_BASE_URL", True, url)
    return Check(
        "OT_API_BASE_URL",
        False,
        f"{url} is not https (cards link plain http only on localhost and 127.0.0.1), "
        "so approval links on it would be refused",
        "Use https://app.opentrain.ai (the default) or your OpenTrain origin over https.",
    )


def _default_channel(settings: Settings) -> list[Check]:
    channel = settings.default_channel
    if channel is None:
        if settings.agent_tokens:
            return [
                Check(
                    "DEFAULT_CHANNEL",
                    False,
                    "not set, so agent requests that no route covers have no channel",
                    "Set it to the id of the channel cards should go to (e.g. C0123ABCD).",
                    required=False,
                )
            ]
        return []
    if not _CHANNEL_ID.fullmatch(channel):
        return [
            Check(
                "DEFAULT_CHANNEL",
                False,
                f"“{channel}” is not a channel id",
                "Use the channel's id (channel details → About → Channel ID, e.g. C0123ABCD), "
                "not its name.",
            )
        ]
    return [Check("DEFAULT_CHANNEL", True, channel)]


# --- OpenTrain -----------------------------------------------------------------------------------


async def opentrain_checks(
    client: OpenTrainClient, origin: str, *, webhook_secret_set: bool | None = None
) -> list[Check]:
    """The hiring preconditions (opentrain-api.md §0.1), in the order a human fixes them.

    With `webhook_secret_set` given, the webhook subscription is checked too.
    """
    try:
        me = await client.auth_me()
    except Unauthorized:
        return [
            Check(
                "OpenTrain token",
                False,
                "OpenTrain rejects the token (missing, expired or revoked).",
                "Set OT_API_TOKEN to a personal API token (ot_pat_…) from OpenTrain.",
            )
        ]
    except OpenTrainError as exc:
        if exc.code in ("RATE_LIMITED", "INTERNAL_ERROR"):
            fix = "OpenTrain is busy or failing right now; run the check again in a minute."
        else:
            fix = f"Check that {origin} is reachable and OT_API_BASE_URL is right."
        return [
            Check(
                "OpenTrain token",
                False,
                f"OpenTrain could not be asked: {exc.code or exc.message}.",
                fix,
            )
        ]
    checks = [Check("OpenTrain token", True, f"valid (token “{me.token.label or me.token.id}”)")]
    checks.append(
        Check("Claimed account", True, "a human owns the account")
        if me.claimed
        else Check(
            "Claimed account",
            False,
            "the account has not been claimed by a human, so it cannot hire or move money",
            "A human must claim it in OpenTrain.",
            f"{origin.rstrip('/')}/claim",
        )
    )
    missing = [scope for scope in HIRING_SCOPES if not me.has_scope(scope)]
    checks.append(
        Check("Token scopes", True, ", ".join(HIRING_SCOPES))
        if not missing
        else Check(
            "Token scopes",
            False,
            "missing " + ", ".join(missing),
            "Mint a token with these scopes in OpenTrain (Settings → API keys).",
        )
    )
    checks.append(await _features(client))
    checks.append(await _credits(client))
    if webhook_secret_set is not None:
        checks.append(await _webhook(client, webhook_secret_set))
    return checks


async def _features(client: OpenTrainClient) -> Check:
    try:
        capabilities = (await client.capabilities()).capabilities
    except Forbidden as exc:
        return Check(
            "Features",
            False,
            f"the capabilities probe is not available ({exc.feature_key or exc.code}), "
            "so hiring features cannot be confirmed",
            "Ask OpenTrain to enable public_api_hiring and public_api_payments_write.",
            required=False,
        )
    except OpenTrainError as exc:
        return Check("Features", False, f"could not be read: {exc.code}", required=False)
    off = [
        key
        for key, enabled in (
            ("public_api_hiring", capabilities.hiring),
            ("public_api_payments_write", capabilities.payments_write),
        )
        if not enabled
    ]
    if off:
        return Check(
            "Features",
            False,
            "off: " + ", ".join(off),
            "Ask OpenTrain to enable them for this account.",
        )
    return Check("Features", True, "public_api_hiring, public_api_payments_write")


async def _credits(client: OpenTrainClient) -> Check:
    try:
        credits = await client.credits()
    except OpenTrainError as exc:
        return Check("Credit balance", False, f"could not be read: {exc.code}", required=False)
    if credits.available_usd > Decimal(0):
        return Check("Credit balance", True, f"{format_usd(credits.available_usd)} available")
    return Check(
        "Credit balance",
        False,
        "$0.00 available — hires need a card on file or credits covering amount + fees",
        "A human can add a card or credits in OpenTrain billing.",
        required=False,
    )


async def _webhook(client: OpenTrainClient, secret_set: bool) -> Check:
    """Webhooks are optional (the bot polls `/updates` anyway); once used, both halves must fit:
    one ACTIVE subscription to our `/opentrain/webhook`, and its secret in OT_WEBHOOK_SECRET."""
    register = (
        "`python -m bot webhooks register --url https://<bot host>/opentrain/webhook`, then set "
        "OT_WEBHOOK_SECRET to the secret it prints"
    )
    try:
        hooks = await client.list_webhooks()
    except OpenTrainError as exc:
        if not secret_set:
            return Check("Webhook", True, "not used — the bot polls OpenTrain's /updates feed")
        return Check(
            "Webhook",
            False,
            f"OT_WEBHOOK_SECRET is set, but the subscriptions cannot be listed ({exc.code}); "
            "listing needs webhooks:manage and the public_api_webhooks feature",
            "Check the subscription with a token that may manage webhooks.",
            required=False,
        )
    ours = [hook for hook in hooks if urlsplit(hook.url).path.rstrip("/").endswith(WEBHOOK_PATH)]
    active = [hook for hook in ours if hook.status == "ACTIVE"]
    if not secret_set:
        if not ours:
            return Check("Webhook", True, "not used — the bot polls OpenTrain's /updates feed")
        return Check(
            "Webhook",
            False,
            f"OpenTrain delivers to {ours[0].url}, but OT_WEBHOOK_SECRET is not set, so the bot "
            "refuses every delivery",
            "Set OT_WEBHOOK_SECRET to the whsec_… secret shown when the subscription was "
            f"created; lost it? `python -m bot webhooks delete {ours[0].id}` and {register}.",
        )
    if not active:
        if ours:
            return Check(
                "Webhook",
                False,
                f"the subscription to {ours[0].url} is {ours[0].status}"
                + (f" ({ours[0].disabled_reason})" if ours[0].disabled_reason else ""),
                "A disabled subscription cannot be re-enabled: "
                f"`python -m bot webhooks delete {ours[0].id}`, then {register}.",
            )
        return Check(
            "Webhook",
            False,
            f"OT_WEBHOOK_SECRET is set, but OpenTrain has no subscription to …{WEBHOOK_PATH}",
            f"Run {register} (or unset OT_WEBHOOK_SECRET to rely on polling alone).",
        )
    if len(active) > 1:
        return Check(
            "Webhook",
            False,
            f"{len(active)} active subscriptions deliver to …{WEBHOOK_PATH}; only the one whose "
            "secret is OT_WEBHOOK_SECRET can be verified",
            "Keep one: `python -m bot webhooks list`, then `python -m bot webhooks delete <id>`.",
            required=False,
        )
    hook = active[0]
    return Check("Webhook", True, f"{hook.status} subscription {hook.id} → {hook.url}")


# --- Slack --------------------------------------------------------------------------------------


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
        timeout=int(_TIMEOUT_S),
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


# --- store --------------------------------------------------------------------------------------


async def store_check(settings: Settings) -> tuple[Check, dict[str, str]]:
    """Whether the store answers and takes a write; also the routes it holds."""
    uses_redis = settings.redis_url is not None
    fix = (
        "Check REDIS_URL (host, port, password; rediss:// for TLS) and that Redis is running."
        if uses_redis
        else "DATABASE_URL must name a file in a directory the bot may write, e.g. "
        "sqlite:///cosign.db."
    )
    store: Store | None = None
    try:
        store = await open_store(settings)
        description = await store.ping()
        # A key that expires on its own: proof of a write that leaves nothing behind.
        await store.claim_key(f"doctor:{uuid.uuid4().hex}", timedelta(minutes=1))
        routes = await store.list_routes()
    except (StoreUnavailable, ValueError) as exc:
        return Check("Store", False, str(exc), fix), {}
    finally:
        if store is not None:
            await store.close()
    return Check("Store", True, f"{description}, writable"), routes


# --- the whole check-up ---------------------------------------------------------------------------


async def run_doctor(
    settings: Settings,
    *,
    mode: Mode | None = None,
    manifest: Path = MANIFEST,
    out: Callable[[str], None] = print,
) -> int:
    """Print every check with ✓/✗ and a fix; 0 only when every required check passes.

    `mode` defaults to Socket Mode when SLACK_APP_TOKEN is set, else HTTP (`serve`).
    """
    mode = mode or ("socket" if settings.slack_app_token is not None else "serve")
    store, routes = await store_check(settings)
    sections: list[tuple[str, list[Check]]] = [
        ("Settings", settings_checks(settings, mode)),
        ("Store", [store]),
        (f"OpenTrain ({settings.ot_api_base_url})", await _opentrain(settings)),
        (
            "Slack",
            await slack_checks(settings, channels_to_check(settings, routes), manifest=manifest),
        ),
    ]
    secrets = settings.secret_values()
    mode_words = "Socket Mode" if mode == "socket" else "HTTP mode (serve)"
    out(f"OpenTrain co-sign bot — doctor, checking for {mode_words}")
    checks: list[Check] = []
    for title, section in sections:
        if not section:
            continue
        out(f"\n{title}")
        for check in section:
            out(redact(_line(check), secrets))
        checks += section
    ok = verdict(checks)
    failing = sum(1 for check in checks if check.required and not check.ok)
    out("\nAll required checks pass." if ok else f"\n{failing} required check(s) fail.")
    return 0 if ok else 1


async def _opentrain(settings: Settings) -> list[Check]:
    if settings.ot_api_token is None:
        return []  # the settings check already says so
    async with OpenTrainClient(
        settings.ot_api_base_url,
        settings.ot_api_token,
        timeout=_TIMEOUT_S,
        max_attempts=2,
        retry_budget_seconds=_TIMEOUT_S,
    ) as client:
        return await opentrain_checks(
            client,
            settings.ot_api_base_url,
            webhook_secret_set=settings.ot_webhook_secret is not None,
        )


def _line(check: Check) -> str:
    mark = "✓" if check.ok else ("✗" if check.required else "⚠")
    line = f"  {mark} {check.name}: {check.detail}"
    if not check.ok and check.fix:
        line += f"\n      fix: {check.fix}" + (f" ({check.link})" if check.link else "")
    return line
