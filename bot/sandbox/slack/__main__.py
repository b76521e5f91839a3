"""`python -m bot.sandbox.slack --port P --bot-url URL --signing-secret S`: run it standalone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

from bot.sandbox.slack.sim import SlackSim


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.slack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bot-url", help="the bot's /slack/events URL")
    parser.add_argument(
        "--signing-secret",
        default=os.environ.get("SLACK_SIGNING_SECRET"),
        help="defaults to $SLACK_SIGNING_SECRET",
    )
    parser.add_argument("--bot-token", default="xoxb-sandbox")
    parser.add_argument(
        "--app-token", default="xapp-sandbox", help="the SLACK_APP_TOKEN Socket Mode dials in with"
    )
    parser.add_argument("--seed", default="demo")
    parser.add_argument("--rate-limits", action="store_true", help="enforce Slack's rate limits")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0)
    parser.add_argument("--unfurl-domain", action="append", default=[], dest="unfurl_domains")
    parser.add_argument(
        "--permalink-base",
        help="where chat.getPermalink links, e.g. https://acme.slack.com; "
        "by default the simulator itself, whose viewer opens the message",
    )
    args = parser.parse_args(argv)
    if not args.signing_secret:
        parser.error("--signing-secret (or $SLACK_SIGNING_SECRET) is required")
    return args


async def _serve(args: argparse.Namespace) -> None:
    sim = SlackSim(
        signing_secret=args.signing_secret,
        bot_url=args.bot_url,
        bot_token=args.bot_token,
        app_token=args.app_token,
        seed=args.seed,
        rate_limits=args.rate_limits,
        rate_limit_scale=args.rate_limit_scale,
        unfurl_domains=args.unfurl_domains,
        permalink_base=args.permalink_base,
    )
    origin = await sim.start(args.host, args.port)
    print(f"Slack simulator  {origin}", flush=True)
    print(f"  Web API        {sim.api_url}", flush=True)
    print(f"  state          {origin}/_sim/state", flush=True)
    print(f"  bot URL        {sim.bot_url or '(none yet: POST /_sim/config)'}", flush=True)
    print("  Socket Mode    apps.connections.open with --app-token", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
