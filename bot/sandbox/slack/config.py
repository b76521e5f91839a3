"""The simulator's settings, changeable at runtime through `POST /_sim/config`."""

from __future__ import annotations

from dataclasses import dataclass

# What app_manifest.yaml grants (tests/unit/test_manifest.py keeps the two equal).
# A method whose scope is missing answers `missing_scope`, like Slack; tests
# narrow the set through `POST /_sim/config` to see that.
DEFAULT_SCOPES = frozenset(
    {
        "chat:write",
        "chat:write.public",
        "commands",
        "im:write",
        "users:read",
        "usergroups:read",
        "links:read",
        "links:write",
        "reactions:write",
        "channels:read",
        "groups:read",
        "channels:history",
        "channels:join",
        "groups:history",
        "im:history",
    }
)

# Slack gives up on an app that has not answered within three seconds.
SLACK_ACK_TIMEOUT_MS = 3000.0


@dataclass
class SimConfig:
    signing_secret: str
    bot_token: str
    app_token: str = "xapp-sandbox"  # the app-level token Socket Mode connects with
    bot_url: str | None = None
    scopes: frozenset[str] = DEFAULT_SCOPES
    rate_limits: bool = False
    rate_limit_scale: float = 1.0
    # Hosts the app registered for unfurling; links to them in user messages
    # produce `link_shared` events.
    unfurl_domains: tuple[str, ...] = ()
    # Slower answers count as timed out; tests lower it instead of waiting 3 s.
    ack_timeout_ms: float = SLACK_ACK_TIMEOUT_MS
    # How long the driver waits for the bot at all, to record late answers too.
    delivery_timeout_s: float = 10.0
    verification_token: str = "sandbox-verification-token"
