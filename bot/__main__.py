"""Command line: `python -m bot <serve|socket|sandbox|run|doctor|webhooks|audit|prune|mcp>`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.config import Settings
from bot.logs import configure_logging
from bot.policy import PolicyError, load_policy

SANDBOX_PORT = 8700


def _settings(*, check_policy: bool = True) -> Settings:
    try:
        settings = Settings()
        # The spend policy is part of the configuration: a bad file stops startup too
        # (the doctor reports it as one of its checks instead).
        if check_policy:
            load_policy(settings.agent_policy_file, settings.agent_tokens)
        return settings
    except PolicyError as exc:
        sys.exit(f"configuration error: {_one_line(str(exc))}")
    except ValidationError as exc:
        # Only where and what: pydantic's `input_value` may be a secret, so it is never shown.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {_one_line(err['msg'])}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        sys.exit(f"configuration error: {problems}")


def _one_line(message: str) -> str:
    return " ".join(message.removeprefix("Value error, ").split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP mode on $PORT (Slack events, agent API, webhooks)")
    commands.add_parser("socket", help="Socket Mode (SLACK_APP_TOKEN); HTTP routes still served")
    sandbox = commands.add_parser("sandbox", help="both simulators and the bot, on localhost")
    sandbox.add_argument("--port", type=int, default=SANDBOX_PORT, help="first of three ports")
    run = commands.add_parser("run", help="serve when Slack credentials are set, else the sandbox")
    run.add_argument(
        "--port",
        type=int,
        default=SANDBOX_PORT,
        help="the sandbox's first of three ports (serve always uses $PORT)",
    )
    commands.add_parser("doctor", help="check every precondition; exit 0 when all pass")
    webhooks = commands.add_parser("webhooks", help="manage the OpenTrain webhook subscription")
    webhook_commands = webhooks.add_subparsers(dest="webhook_command", required=True)
    register = webhook_commands.add_parser("register")
    register.add_argument("--url", required=True, help="https://<bot host>/opentrain/webhook")
    webhook_commands.add_parser("list")
    delete = webhook_commands.add_parser("delete")
    delete.add_argument("webhook_id")
    audit = commands.add_parser("audit", help="export the audit log")
    audit.add_argument("--since", default="7d", help="how far back, e.g. 24h, 7d")
    audit.add_argument("--format", choices=["jsonl", "text"], default="jsonl")
    audit.add_argument("--approval", help="only this approval id")
    prune = commands.add_parser("prune", help="remove what ended longer ago than --older-than")
    prune.add_argument("--older-than", help="e.g. 90d (default: RETENTION_DAYS); at least 1d")
    prune.add_argument("--dry-run", action="store_true", help="only count what would go")
    mcp = commands.add_parser("mcp", help="the bot's MCP tools on stdio, for a running bot")
    mcp.add_argument("--stdio", action="store_true", required=True, help="serve on stdin/stdout")
    args = parser.parse_args(argv)

    if args.command == "mcp":  # a client of a running bot: COSIGN_URL and COSIGN_AGENT_TOKEN only
        from bot.mcp_stdio import run_stdio

        return asyncio.run(run_stdio())
    settings = _settings(check_policy=args.command != "doctor")
    configure_logging(settings.log_level, settings.secret_values())
    command = args.command
    if command == "run":
        command = "serve" if settings.has_slack_credentials else "sandbox"
    match command:
        case "serve":
            from bot.runtime import serve

            serve(settings)
        case "socket":
            from bot.runtime import socket_mode

            asyncio.run(socket_mode(settings))
        case "sandbox":
            from bot.sandbox.runner import run_sandbox

            asyncio.run(run_sandbox(settings, first_port=args.port))
        case "doctor":
            from bot.doctor import run_doctor

            return int(asyncio.run(run_doctor(settings)))
        case "webhooks":
            from bot.webhook_cli import run_webhooks

            return asyncio.run(run_webhooks(settings, args))
        case "audit":
            from bot.audit_cli import run_audit

            return asyncio.run(run_audit(settings, args))
        case "prune":
            from bot.prune_cli import run_prune

            return asyncio.run(run_prune(settings, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
