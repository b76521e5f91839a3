"""`python -m bot.sandbox.opentrain --port 8701 --seed demo [--host 127.0.0.1]`"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from bot.sandbox.opentrain.seed import SCENARIOS
from bot.sandbox.opentrain.server import OpenTrainSim


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
    return parser.parse_args()


async def _serve(arguments: argparse.Namespace) -> None:
    sim = OpenTrainSim(
        seed=arguments.seed,
        public_url=arguments.public_url,
        webhook_time_scale=arguments.webhook_time_scale,
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
