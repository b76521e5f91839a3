"""The outbox drain's lanes: one queue per channel or DM, each worked in order by its own task.

Effects for one channel keep their order (the card before its update and reply);
different channels proceed side by side, at most LANES_AT_ONCE at a time. A lane
stops taking effects once its claim's lease is about to lapse, leaving the rest
for the next claim, here or in another process.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.clock import Clock
from bot.outbox import Effect

LANES_AT_ONCE = 20
# A lane starts no new effect once less than this is left of its claim's lease, so each
# delivery ends before another process may claim it.
LEASE_MARGIN = timedelta(minutes=2)


class Lanes:
    """The effects one drain holds: a queue per lane, each worked in order by its own task."""

    def __init__(self, work: Callable[[Effect], Awaitable[None]], clock: Clock) -> None:
        self._work = work
        self._clock = clock
        self._queues: dict[str, deque[Effect]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(LANES_AT_ONCE)
        self._progressed = asyncio.Event()
        self.in_hand = 0  # claimed, and neither worked nor left for a later claim yet
        self.claimed = 0

    @property
    def idle(self) -> bool:
        return not self._queues

    def add(self, lane: str, item: Effect) -> None:
        self.in_hand += 1
        self.claimed += 1
        queue = self._queues.get(lane)
        if queue is not None:
            queue.append(item)
            return
        self._queues[lane] = deque([item])
        task = asyncio.get_running_loop().create_task(self._run(lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def progress(self) -> None:
        """Until a lane works or leaves an effect, or ends."""
        self._progressed.clear()
        await self._progressed.wait()

    async def close(self) -> None:
        """Cancel lanes still running (the drain itself failed or was cancelled)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, lane: str) -> None:
        queue = self._queues[lane]
        try:
            async with self._slots:
                while queue:
                    item = queue.popleft()
                    # The claim pushed `due_at` to the end of our lease.
                    if self._clock.now() >= item.due_at - LEASE_MARGIN:
                        # The rest of this lane is left for the next claim, here or elsewhere.
                        self._settle(1 + len(queue))
                        queue.clear()
                        return
                    await self._work(item)
                    self._settle(1)
        finally:
            del self._queues[lane]
            self._progressed.set()

    def _settle(self, count: int) -> None:
        self.in_hand -= count
        self._progressed.set()
