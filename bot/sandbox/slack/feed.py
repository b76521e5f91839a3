"""A change sequence a viewer can long-poll (`GET /_sim/events?after=<seq>`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any


class ChangeFeed:
    """Every recorded change bumps `seq` and leaves a short note in a bounded log.

    Changes are recorded from synchronous code, which cannot take an
    `asyncio.Condition`'s lock; so waiters share one `Event` that is set and
    replaced on every change, which gives the same wake-everyone semantics.
    """

    def __init__(self, history: int = 1000) -> None:
        self.seq = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=history)
        self._changed = asyncio.Event()

    def bump(self, kind: str, **ids: Any) -> None:
        self.seq += 1
        self._log.append({"seq": self.seq, "kind": kind, **ids})
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def since(self, after: int) -> dict[str, Any]:
        changes = [entry for entry in self._log if entry["seq"] > after]
        oldest_kept = self._log[0]["seq"] if self._log else self.seq + 1
        return {"seq": self.seq, "changes": changes, "truncated": after + 1 < oldest_kept}

    async def wait_after(self, after: int, max_wait_s: float) -> None:
        """Return once `seq > after`, or after `max_wait_s` seconds, whichever is first."""
        if self.seq > after:
            return
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), max_wait_s)
