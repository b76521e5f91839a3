"""The doctor's settings checks: what each mode needs, present and well-formed (never shown)."""

from __future__ import annotations

from pydantic import SecretStr

from bot.cards.links import safe_link
from bot.config import Settings
from bot.doctor.check import Check, Mode
from bot.policy import BUILT_IN, PolicyError, load_policy
from bot.slack_ids import is_channel_id


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
    if not is_channel_id(channel):
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
