"""`python -m bot doctor` against the simulators: a healthy setup passes, and each broken
precondition gets its own ✗ line (or ⚠ for a warning) and the right exit status."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.doctor import channels_to_check, run_doctor, settings_checks
from bot.sandbox.slack import SlackSim
from bot.store import SqliteStore
from tests.support.opentrain_sim import OpenTrainSimHandle
from tests.support.redis_server import RedisServer, free_port
from tests.support.slack_sim import SIGNING_SECRET, MakeSlackSim

SLACK_TOKEN = "xoxb-doctor-test-7f3a91"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def slack(make_slack_sim: MakeSlackSim) -> SlackSim:
    return await make_slack_sim(bot_token=SLACK_TOKEN)


def healthy(ot: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path) -> dict[str, Any]:
    return {
        "slack_bot_token": SLACK_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "ot_api_token": ot.full_token,
        "ot_api_base_url": ot.origin,
        "database_url": f"sqlite:///{tmp_path / 'cosign.db'}",
        "default_channel": "C0HIRING",
    }


async def doctor(values: dict[str, Any]) -> tuple[int, str]:
    lines: list[str] = []
    code = await run_doctor(Settings.model_validate(values), out=lines.append)
    return code, "\n".join(lines)


async def run_cli(env: dict[str, str]) -> tuple[int, str, str]:
    """`python -m bot doctor` as a separate process (the simulators keep serving meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def as_env(values: dict[str, Any]) -> dict[str, str]:
    return {key.upper(): str(value) for key, value in values.items()}


async def test_a_healthy_setup_passes_every_check(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path
) -> None:
    code, output = await doctor(healthy(opentrain_sim, slack, tmp_path))
    assert code == 0, output
    assert "✗" not in output and "⚠" not in output
    for line in (
        "✓ SLACK_BOT_TOKEN: set",
        "✓ OpenTrain token: valid",
        "✓ Claimed account",
        "✓ Token scopes: proposals:write, payments:write, payments:read",
        "✓ Job activity scopes: jobs:read, proposals:read, messages:read, messages:write",
        "✓ Features: public_api_hiring, public_api_payments_write",
        "✓ Credit balance: $5,000.00 available",
        "✓ Webhook: not used",
        "✓ Slack token: valid",
        "✓ Slack scopes: all 15 scopes app_manifest.yaml asks for",
        "✓ Channel for DEFAULT_CHANNEL: the bot is a member of #hiring",
        "✓ Store: sqlite",
        "All required checks pass.",
    ):
        assert line in output, output


async def test_the_cli_passes_a_healthy_setup_with_webhooks_and_prints_no_secret(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path
) -> None:
    created = await opentrain_sim.api().post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/opentrain/webhook", "eventTypes": ["approval.confirmed"]},
    )
    assert created.status_code in (200, 201), created.text
    webhook_secret = created.json()["secret"]
    values = {
        **healthy(opentrain_sim, slack, tmp_path),
        "ot_webhook_secret": webhook_secret,
        "agent_tokens": "ci:agent-token-5d2e8c-0123456789",
    }
    code, stdout, stderr = await run_cli(as_env(values))
    assert code == 0, stdout + stderr
    assert "✓ Webhook: ACTIVE subscription" in stdout
    assert "All required checks pass." in stdout
    for secret in (SLACK_TOKEN, SIGNING_SECRET, opentrain_sim.full_token, webhook_secret):
        assert secret not in stdout + stderr
    assert "agent-token-5d2e8c-0123456789" not in stdout + stderr


async def test_the_cli_fails_on_a_broken_setup_and_prints_no_secret(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path
) -> None:
    bad_token = "ot_pat_not_a_real_token_91c2"
    redis_url = f"redis://:hunter2-redis-pass@127.0.0.1:{free_port()}/0"
    values = {
        **healthy(opentrain_sim, slack, tmp_path),
        "ot_api_token": bad_token,
        "redis_url": redis_url,
    }
    code, stdout, stderr = await run_cli(as_env(values))
    assert code == 1, stdout + stderr
    assert "✗ OpenTrain token: OpenTrain rejects the token" in stdout
    assert "✗ Store: redis at 127.0.0.1:" in stdout
    assert "2 required check(s) fail." in stdout
    for secret in (bad_token, "hunter2-redis-pass", redis_url, SLACK_TOKEN, SIGNING_SECRET):
        assert secret not in stdout + stderr


Breakage = Callable[[OpenTrainSimHandle, SlackSim, dict[str, Any]], Awaitable[None]]


async def bad_ot_token(ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]) -> None:
    values["ot_api_token"] = "ot_pat_sim_revoked"


async def unclaimed(ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]) -> None:
    # An agent-registered account that no human has claimed, with its pre-claim token.
    await ot.patch_account(claimed=False)
    values["ot_api_token"] = ot.state.seeded["preclaimToken"]


async def missing_ot_scope(ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]) -> None:
    values["ot_api_token"] = await ot.token(
        ["jobs:read", "proposals:read", "proposals:write", "payments:read"]
    )


async def hiring_off(ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]) -> None:
    await ot.patch_account(features={"public_api_hiring": False})


async def secret_without_subscription(
    ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]
) -> None:
    values["ot_webhook_secret"] = "whsec_set_but_nothing_subscribed"


async def subscription_without_secret(
    ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]
) -> None:
    response = await ot.api().post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/opentrain/webhook", "eventTypes": ["approval.confirmed"]},
    )
    assert response.status_code in (200, 201), response.text


async def bad_slack_token(ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]) -> None:
    values["slack_bot_token"] = "xoxb-revoked-token"


async def missing_slack_scope(
    ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]
) -> None:
    slack.config.scopes = slack.config.scopes - {"channels:history"}


async def default_channel_private_without_the_bot(
    ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]
) -> None:
    values["default_channel"] = "C0PRIVATE"


async def redis_unreachable(
    ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]
) -> None:
    values["redis_url"] = f"redis://127.0.0.1:{free_port()}/0"


async def opentrain_failing(
    ot: OpenTrainSimHandle, slack: SlackSim, values: dict[str, Any]
) -> None:
    await ot.fault(path="/auth/me", status=500)  # every attempt: a 500 is asked again


BROKEN: list[tuple[Breakage, str, int]] = [
    (bad_ot_token, "✗ OpenTrain token: OpenTrain rejects the token", 1),
    # An unclaimed account's token only holds the pre-claim scopes, so both lines fail.
    (unclaimed, "✗ Claimed account: the account has not been claimed by a human", 2),
    (missing_ot_scope, "✗ Token scopes: missing payments:write", 1),
    (hiring_off, "✗ Features: off: public_api_hiring", 1),
    (secret_without_subscription, "✗ Webhook: OT_WEBHOOK_SECRET is set, but OpenTrain has", 1),
    (subscription_without_secret, "✗ Webhook: OpenTrain delivers to http://127.0.0.1:9/", 1),
    (bad_slack_token, "✗ Slack token: Slack rejects the token (invalid_auth)", 1),
    (missing_slack_scope, "✗ Slack scopes: missing channels:history", 1),
    (
        default_channel_private_without_the_bot,
        "✗ Channel for DEFAULT_CHANNEL: C0PRIVATE: I cannot see that channel",
        1,
    ),
    (redis_unreachable, "✗ Store: redis at 127.0.0.1:", 1),
    (opentrain_failing, "✗ OpenTrain token: OpenTrain could not be asked: INTERNAL_ERROR", 1),
]


@pytest.mark.parametrize(
    ("break_it", "expected", "failures"), BROKEN, ids=[case[0].__name__ for case in BROKEN]
)
async def test_each_broken_precondition_fails_with_its_own_line(
    opentrain_sim: OpenTrainSimHandle,
    slack: SlackSim,
    tmp_path: Path,
    break_it: Breakage,
    expected: str,
    failures: int,
) -> None:
    values = healthy(opentrain_sim, slack, tmp_path)
    await break_it(opentrain_sim, slack, values)
    code, output = await doctor(values)
    assert code == 1, output
    assert expected in output, output
    assert output.count("✗") == failures, output  # nothing else is blamed
    lines = output.splitlines()
    failing = next(i for i, line in enumerate(lines) if expected in line)
    assert lines[failing + 1].startswith("      fix: "), output
    if break_it is opentrain_failing:
        assert "run the check again in a minute" in lines[failing + 1]


async def test_a_token_without_the_messages_scopes_is_only_a_warning(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path
) -> None:
    values = healthy(opentrain_sim, slack, tmp_path)
    values["ot_api_token"] = await opentrain_sim.token(
        ["jobs:read", "proposals:write", "payments:write", "payments:read"]
    )
    code, output = await doctor(values)
    assert code == 0, output
    assert "⚠ Job activity scopes: missing messages:read, messages:write" in output, output


async def test_no_credits_is_only_a_warning(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path
) -> None:
    await opentrain_sim.patch_account(availableCents=0)
    code, output = await doctor(healthy(opentrain_sim, slack, tmp_path))
    assert code == 0, output
    assert "⚠ Credit balance: $0.00 available" in output
    assert "A human can add a card or credits in OpenTrain billing." in output


async def test_every_routed_channel_is_checked(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path
) -> None:
    values = healthy(opentrain_sim, slack, tmp_path)
    store = await SqliteStore.open(tmp_path / "cosign.db")
    try:
        await store.set_route("type:milestone_fund", "C0GENERAL")
        await store.set_route("job:job_lidar", "C0PRIVATE")
    finally:
        await store.close()
    slack.state.channels["C0GENERAL"].members.discard(slack.state.bot_user_id)
    code, output = await doctor(values)
    assert code == 1, output
    # One rule (bot/channels.py): a public channel is joined before the first card.
    assert "✓ Channel for fund requests: #general is public: the bot joins it" in output
    assert "✗ Channel for job job_lidar: C0PRIVATE: I cannot see that channel" in output
    assert slack.state.bot_user_id not in slack.state.channels["C0GENERAL"].members
    assert "✓ Channel for DEFAULT_CHANNEL: the bot is a member of #hiring" in output


async def test_a_reachable_redis_is_reported_with_its_version(
    opentrain_sim: OpenTrainSimHandle, slack: SlackSim, tmp_path: Path, redis_url: str
) -> None:
    code, output = await doctor({**healthy(opentrain_sim, slack, tmp_path), "redis_url": redis_url})
    assert code == 0, output
    assert "✓ Store: redis 7." in output and ", writable" in output
    assert "✓ Redis eviction policy: maxmemory-policy noeviction" in output
    # The suite's Redis keeps nothing across a restart: a warning, never a failure.
    assert "⚠ Redis persistence: no persistence (appendonly no, no save rules)" in output
    assert "fix: Set `appendonly yes` (redis.conf) or run `CONFIG SET appendonly yes`" in output


async def test_an_evicting_redis_fails_unless_eviction_is_allowed(
    opentrain_sim: OpenTrainSimHandle,
    slack: SlackSim,
    tmp_path: Path,
    throwaway_redis: RedisServer,
) -> None:
    with throwaway_redis.client() as client:
        client.config_set("maxmemory-policy", "allkeys-lru")
        client.config_set("appendonly", "yes")
    values = {**healthy(opentrain_sim, slack, tmp_path), "redis_url": throwaway_redis.url}
    code, output = await doctor(values)
    assert code == 1, output
    assert "✗ Redis eviction policy: maxmemory-policy is allkeys-lru" in output
    assert "fix: Set `maxmemory-policy noeviction` (redis.conf) or run `CONFIG SET" in output
    assert "✓ Redis persistence: append-only file on (appendonly yes)" in output

    code, output = await doctor({**values, "redis_allow_eviction": True})
    assert code == 0, output
    assert "⚠ Redis eviction policy: maxmemory-policy is allkeys-lru" in output
    assert "(REDIS_ALLOW_EVICTION=true: the bot starts anyway)" in output


def test_settings_needed_depend_on_the_mode() -> None:
    settings = Settings.model_validate(
        {"slack_bot_token": "xoxp-a-user-token", "default_channel": "#hiring"}
    )
    serve = {check.name: check for check in settings_checks(settings, "serve")}
    socket = {check.name: check for check in settings_checks(settings, "socket")}
    assert not serve["SLACK_BOT_TOKEN"].ok
    assert serve["SLACK_BOT_TOKEN"].detail == "set, but it does not start with xoxb-"
    assert not serve["SLACK_SIGNING_SECRET"].ok and "SLACK_APP_TOKEN" not in serve
    assert not socket["SLACK_APP_TOKEN"].ok and "SLACK_SIGNING_SECRET" not in socket
    assert not serve["OT_API_TOKEN"].ok and serve["OT_API_TOKEN"].detail == "not set"
    assert not serve["DEFAULT_CHANNEL"].ok and "not a channel id" in serve["DEFAULT_CHANNEL"].detail


def test_channels_to_check_names_why_each_is_needed() -> None:
    settings = Settings.model_validate({"default_channel": "C0HIRING"})
    routes = {"job:job_1": "C0HIRING", "type:proposal_hire": "C0OTHER"}
    assert channels_to_check(settings, routes) == {
        "C0HIRING": "DEFAULT_CHANNEL, job job_1",
        "C0OTHER": "hire requests",
    }
