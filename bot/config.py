"""Settings: every knob the bot reads from the environment, in one class.

Names are fixed by DESIGN.md §10 (other tools set them); secrets are `SecretStr`
so they never show up in a repr, a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.durations import parse_duration

SLACK_MEMBER_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
# Agent names show on cards and in audit entries; shorter tokens and secrets are guessable.
AGENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MIN_AGENT_TOKEN_CHARS = 24
MIN_WEBHOOK_SECRET_CHARS = 16


class QuietHours:
    """An approver-local window (may span midnight) in which non-final reminders wait."""

    def __init__(self, start: time, end: time) -> None:
        self.start = start
        self.end = end

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        try:
            start_text, end_text = text.strip().split("-")
            return cls(time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip()))
        except ValueError as exc:
            raise ValueError(f"expected HH:MM-HH:MM, got {text!r}") from exc

    def contains(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, case_sensitive=False
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_team_id: str | None = None  # when set, requests from any other workspace are refused
    # >1 speeds up the notifier's pacing to match a time-scaled Slack simulator (benchmarks).
    slack_rate_limit_scale: float = Field(default=1.0, gt=0)
    # With REDIS_URL, replicas take their Slack turns in buckets shared through Redis
    # (bot/pacing_redis.py); off, each process paces alone (the benchmark's baseline).
    slack_shared_pacing: bool = True

    # OpenTrain
    ot_api_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OT_API_TOKEN", "OPENTRAIN_API_TOKEN")
    )
    ot_api_base_url: str = "https://app.opentrain.ai"
    ot_webhook_secret: SecretStr | None = None
    ot_poll_interval_seconds: float = Field(default=10.0, gt=0)
    # Per-request timeout of OpenTrain calls; co-sign requests retry a timeout with the same body.
    ot_timeout_seconds: float = Field(default=30.0, gt=0)
    # How often pending approvals whose next check is due are read (expiry, fallback polling).
    due_check_interval_seconds: float = Field(default=5.0, gt=0)
    # How often the outbox is drained besides the wake-ups new effects give it (retries).
    outbox_interval_seconds: float = Field(default=2.0, gt=0)
    # How often approvers' reminder times are checked (reminders are due to the minute at most).
    reminder_interval_seconds: float = Field(default=30.0, gt=0)

    # Serving and storage
    port: int = Field(default=3000, ge=0, le=65535)
    database_url: str = "sqlite:///cosign.db"
    redis_url: SecretStr | None = None
    # Start even when Redis may evict keys (maxmemory-policy other than noeviction): the bot
    # then risks losing approvals and repeating posts (bot/store/redis_health.py).
    redis_allow_eviction: bool = False
    # Ended approvals, done effects and audit entries older than this are pruned (hourly).
    retention_days: int = Field(default=400, ge=1)

    # Routing, access, reminders
    default_channel: str | None = None
    agent_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    allowed_requesters: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Who changes approvers, routes and policies: Slack user / user-group ids; empty means
    # the workspace's admins and owners (README "Who can do what").
    admins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    allow_guests: bool = False  # guests (restricted accounts) may act like members
    allow_external_users: bool = False  # Slack Connect users of other teams may act
    agent_policy_file: Path | None = None  # YAML spend policy per agent (bot/policy.py)
    policy_channel: str | None = None  # where "ask" policy cards go; default DEFAULT_CHANNEL
    # Agents' callbackUrl may be plain http and reach loopback/private addresses (development,
    # tests). Off, such a URL is refused: no agent can make the bot call into its own network.
    callback_allow_private: bool = False
    reminder_offsets: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: [timedelta(hours=24), timedelta(hours=2)]
    )
    quiet_hours: Annotated[str, NoDecode] = "20:00-08:00"
    # Nobody acted this long after a card was posted: the next approver tier hears (off: unset).
    escalate_after: Annotated[timedelta | None, NoDecode] = None
    digest_channel: str | None = None
    digest_time: time | None = None

    log_level: str = "INFO"
    sandbox_clock_url: str | None = None

    # Money sanity bound for amounts typed by people or agents (USD).
    max_amount_usd: Decimal = Decimal("100000")

    @field_validator("agent_tokens", mode="before")
    @classmethod
    def _parse_agent_tokens(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        tokens: dict[str, str] = {}
        pairs = filter(None, (p.strip() for p in value.split(",")))
        for position, pair in enumerate(pairs, start=1):
            name, sep, token = (part.strip() for part in pair.partition(":"))
            if not sep or not name or not token:
                raise ValueError("AGENT_TOKENS must look like name:token,name2:token2")
            if not AGENT_NAME.fullmatch(name):
                raise _bad_agent_name(position)
            if name in tokens:  # a dict would keep only the last one, silently
                raise ValueError(f'agent "{name}" is named twice')
            tokens[name] = token
        return tokens

    @field_validator("agent_tokens")
    @classmethod
    def _check_agent_tokens(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        owner_of: dict[str, str] = {}  # token → agent
        for position, (name, token) in enumerate(value.items(), start=1):
            if not AGENT_NAME.fullmatch(name):
                raise _bad_agent_name(position)
            secret = token.get_secret_value().strip()
            if len(secret) < MIN_AGENT_TOKEN_CHARS:
                raise ValueError(
                    f'agent "{name}": the token must be at least {MIN_AGENT_TOKEN_CHARS} characters'
                )
            # One token, two agents: requests would be credited to (and capped as) either one.
            if secret in owner_of:
                raise ValueError(
                    f'agents "{owner_of[secret]}" and "{name}" have the same token; '
                    "each agent needs its own"
                )
            owner_of[secret] = name
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _check_signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is set but empty; set the app's Signing Secret or leave it unset")
        return value

    @field_validator("ot_webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_WEBHOOK_SECRET_CHARS:
            raise ValueError(
                f"must be at least {MIN_WEBHOOK_SECRET_CHARS} characters "
                "(the whsec_… secret `python -m bot webhooks register` prints)"
            )
        return value

    @field_validator("allowed_requesters", "admins", mode="before")
    @classmethod
    def _parse_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("allowed_requesters", "admins")
    @classmethod
    def _check_slack_ids(cls, value: list[str]) -> list[str]:
        # A typo ("ana", "@ana") would silently match nobody: refuse it at startup.
        for item in value:
            if not SLACK_MEMBER_ID.match(item):
                raise ValueError(f"{item!r} is not a Slack user (U…/W…) or user group (S…) id")
        return value

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _parse_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            offsets = [parse_duration(item) for item in value.split(",") if item.strip()]
            return sorted(offsets, reverse=True)
        return value

    @field_validator("escalate_after", mode="before")
    @classmethod
    def _parse_escalate_after(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip().lower()
            return None if text in ("", "off") else parse_duration(text)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value

    @field_validator("ot_api_base_url")
    @classmethod
    def _check_opentrain_url(cls, value: str) -> str:
        # The bot sends its OpenTrain token here, and shows approval links only on this host.
        # Problems are described, never quoted: a mistyped URL may hold a password.
        if any(not 0x21 <= ord(char) <= 0x7E for char in value):
            raise ValueError("must be a URL without spaces or control characters")
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError for a malformed port
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.netloc.endswith(":"):  # an empty port: links would never match the host
            raise ValueError("is not a valid URL")
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an origin such as https://app.opentrain.ai")
        if "@" in parts.netloc:
            raise ValueError("must not contain a user name or password")
        if scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError("must use https:// (http:// only on localhost, 127.x.y.z or [::1])")
        if parts.path not in ("", "/"):
            raise ValueError(
                "must be the origin only, without a path (the bot adds /api/public/v1)"
            )
        if "?" in value or "#" in value:
            raise ValueError("must not have a query (?…) or fragment (#…)")
        return value

    @property
    def quiet_window(self) -> QuietHours:
        return QuietHours.parse(self.quiet_hours)

    def secret_values(self) -> list[str]:
        """Every configured secret (and a Redis URL's password), for redaction."""
        values = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.ot_api_token,
            self.ot_webhook_secret,
            self.redis_url,
            *self.agent_tokens.values(),
        ]
        secrets = [value.get_secret_value() for value in values if value is not None]
        if self.redis_url is not None:
            secrets.append(urlsplit(self.redis_url.get_secret_value()).password or "")
        # Masking a two-letter "secret" would garble every line; such a value is no secret.
        return [secret for secret in secrets if len(secret) >= 4]

    @property
    def has_slack_credentials(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def opentrain_host(self) -> str:
        """The only host whose approval links the bot will ever show (anti-phishing)."""
        return urlsplit(self.ot_api_base_url).netloc.lower()


def _bad_agent_name(position: int) -> ValueError:
    # The name is not quoted: a mistyped entry may hold (part of) a token.
    return ValueError(
        f"agent #{position}: a name may only use letters, digits, _ and - (at most 64 characters)"
    )


def _is_loopback(host: str) -> bool:
    """localhost, 127.x.y.z or ::1: where plain http never leaves the machine (simulators)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False
