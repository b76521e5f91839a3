"""`OpenTrainSim`: the API, the human pages (the employer's and the other side's) and the
control API on one origin, plus the webhook delivery worker, started and stopped together."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.faults import FaultSet
from bot.sandbox.opentrain import control, human, trainer_page
from bot.sandbox.opentrain.api import build_api
from bot.sandbox.opentrain.config import SimConfig
from bot.sandbox.opentrain.plumbing import API_PREFIX, api_path
from bot.sandbox.opentrain.requestlog import RequestLog
from bot.sandbox.opentrain.state import SimState
from bot.sandbox.opentrain.webhooks import WebhookDeliverer


class OpenTrainSim:
    """A stateful stand-in for OpenTrain's Public API (see the package docstring).

    `public_url` is the origin put into links (`approvalUrl`, `claimUrl`,
    `billingUrl`); it defaults to the address the server listens on.
    `webhook_time_scale` multiplies the webhook retry schedule (0.001 in tests).
    `config` switches the behaviours OpenTrain's docs leave open (see `config.py`;
    also `PATCH /_sim/config` at run time).
    """

    def __init__(
        self,
        *,
        seed: str | None = "demo",
        public_url: str | None = None,
        webhook_time_scale: float = 1.0,
        config: SimConfig | None = None,
    ) -> None:
        self.state = SimState(config=config)
        self.state.reset(seed)
        self._public_url = public_url.rstrip("/") if public_url else None
        if self._public_url:
            self.state.public_origin = self._public_url
        self.faults = FaultSet()
        self.requests = RequestLog(self.state.now, api_path)
        self._deliverer = WebhookDeliverer(self.state, time_scale=webhook_time_scale)
        self._runner: web.AppRunner | None = None
        self._origin: str | None = None
        self.app = web.Application()
        self.app.add_subapp(API_PREFIX, build_api(self.state, self.faults, self.requests))
        human.install(self.app, self.state)
        trainer_page.install(self.app, self.state)
        control.install(self.app, control.Simulator(self.state, self.faults, self.requests))
        self.app.on_startup.append(self._start_worker)
        self.app.on_cleanup.append(self._stop_worker)

    async def _start_worker(self, _app: web.Application) -> None:
        await self._deliverer.start()

    async def _stop_worker(self, _app: web.Application) -> None:
        await self._deliverer.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host:port` (0 = any free port); returns the origin."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._origin = (
            f"http://{host if host not in ('0.0.0.0', '::') else bound_host}:{bound_port}"
        )
        if self._public_url is None:
            self.state.public_origin = self._origin
        return self._origin

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def origin(self) -> str:
        if self._origin is None:
            raise RuntimeError("OpenTrainSim.start() has not been called")
        return self._origin

    @property
    def api_base(self) -> str:
        return self.origin + API_PREFIX
