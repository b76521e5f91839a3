"""`python -m bot.sandbox.opentrain --port 8701 --seed demo [--host 127.0.0.1]`"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import get_args

from bot.sandbox.opentrain.config import ClaimSignal, SimConfig
from bot.sandbox.opentrain.seed import SCENARIOS
from bot.sandbox.opentrain.server import OpenTrainSim
from bot.sandbox.opentrain.vocabulary import DECLINED


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox.opentrain", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument("--seed", default="demo", choices=SCENARIOS)
    parser.add_argument(
        "--public-url", default=None, help="origin used in approvalUrl and other links"
    )
    parser.add_argument(
        "--webhook-time-scale", type=float, default=1.0, help="multiplies webhook retry delays"
    )
    # The unconfirmed behaviours (bot/sandbox/opentrain/config.py; PATCH /_sim/config at run time).
    parser.add_argument("--superseded-status", default=DECLINED, help="a replaced hire's status")
    parser.add_argument(
        "--no-event-on-lazy-expiry",
        action="store_true",
        help="an approval expired by a read fires no approval.confirmed event",
    )
    parser.add_argument(
        "--rate-limit-per-minute", type=int, default=None, help="per-token Public API limit"
    )
    parser.add_argument("--webhook-duplicates", action="store_true", help="deliver each twice")
    parser.add_argument("--webhook-reorder", action="store_true", help="deliver newest first")
    parser.add_argument(
        "--auth-me-claim-signal",
        default="email",
        choices=get_args(ClaimSignal),
        help="how /auth/me shows an unclaimed account",
    )
    return parser.parse_args()


def _config(arguments: argparse.Namespace) -> SimConfig:
    return SimConfig(
        superseded_status=arguments.superseded_status,
        emit_event_on_lazy_expiry=not arguments.no_event_on_lazy_expiry,
        rate_limit_per_minute=arguments.rate_limit_per_minute,
        webhook_duplicates=arguments.webhook_duplicates,
        webhook_reorder=arguments.webhook_reorder,
        auth_me_claim_signal=arguments.auth_me_claim_signal,
    )


async def _serve(arguments: argparse.Namespace) -> None:
    sim = OpenTrainSim(
        seed=arguments.seed,
        public_url=arguments.public_url,
        webhook_time_scale=arguments.webhook_time_scale,
        config=_config(arguments),
    )
    origin = await sim.start(arguments.host, arguments.port)
    token = sim.state.seeded["fullToken"]
    print(f"OpenTrain simulator  {origin}")
    print(f"API base             {sim.api_base}")
    print(f"full-access token    {token}")
    print(f"state                {origin}/_sim/state")
    print(f'try: curl -s -H "Authorization: Bearer {token}" {sim.api_base}/auth/me')
    print("Ctrl-C to stop.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_arguments()))


if __name__ == "__main__":
    main()
