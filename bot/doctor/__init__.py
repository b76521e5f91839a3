"""Preconditions, checked: what the bot needs from its settings, OpenTrain, Slack and its store.

`/opentrain status` shows `opentrain_checks` and `redis_checks`; `python -m bot doctor` runs all
of them and exits 0 only when every required check passes. Each check says
what it found and, when it fails, how to fix it. Secrets are never printed:
settings are reported as set or not, and every line is redacted once more
before it is written, in case an error message ever quotes one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.doctor.check import TIMEOUT_S, Check, Mode, verdict
from bot.doctor.opentrain import opentrain_checks
from bot.doctor.settings import settings_checks
from bot.doctor.slack import MANIFEST, channels_to_check, slack_checks
from bot.doctor.store import redis_checks, store_check
from bot.logs import redact
from bot.opentrain import OpenTrainClient

__all__ = [
    "Check",
    "channels_to_check",
    "opentrain_checks",
    "redis_checks",
    "run_doctor",
    "settings_checks",
    "slack_checks",
    "store_check",
    "verdict",
]


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
        ("Store", [store, *(await redis_checks(settings) if store.ok else [])]),
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
        timeout=TIMEOUT_S,
        max_attempts=2,
        retry_budget_seconds=TIMEOUT_S,
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
