"""What a stranger on the network may cost the bot (DESIGN.md §7).

Anyone who can reach the agent API's port can send it requests without a valid token. Such a
caller must not be able to grow the store (its refusals are never audited), flood the log (lines
about it are sampled) or guess tokens as fast as the network allows (its failures are counted
per client address, and an address with too many is turned away before its token is checked).
The number of addresses a caller can come from is not bounded, so the memory kept about them is.

Pure: no I/O, and time is an injected monotonic clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

MonotonicClock = Callable[[], float]

WINDOW_SECONDS = 60.0
MAX_ADDRESSES = 10_000


class FailureLimiter:
    """Failed authentications per client address over a sliding window.

    An address with `limit` failures inside the window is blocked until the oldest of them
    leaves it; while blocked it is not asked for a token, so it cannot add failures either.
    A success does not clear the count: otherwise one valid request among guesses would reset
    the budget for the guesses.
    """

    def __init__(
        self,
        *,
        limit: int = 20,
        window: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_addresses < 1:
            raise ValueError("limit, window and max_addresses must be positive")
        self._limit = limit
        self._window = window
        self._max_addresses = max_addresses
        self._clock = clock
        # Least recently seen first, so the address given up for room is the one that went quiet.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many addresses are remembered."""
        return len(self._failures)

    def retry_after(self, address: str) -> int:
        """Whole seconds (at least 1, rounded up) until `address` is heard again; 0 if it is."""
        now = self._clock()
        failures = self._recent(address, now)
        if failures is None or len(failures) < self._limit:
            return 0
        return max(1, math.ceil(failures[0] + self._window - now))

    def blocked(self, address: str) -> bool:
        return self.retry_after(address) > 0

    def record_failure(self, address: str) -> None:
        now = self._clock()
        failures = self._recent(address, now)
        if failures is None:
            self._forget_quiet(now)
            # Only the newest `limit` failures can ever decide a block.
            failures = self._failures[address] = deque(maxlen=self._limit)
            while len(self._failures) > self._max_addresses:
                self._failures.popitem(last=False)
        failures.append(now)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        """The address's failures still inside the window (None if none); marks it seen."""
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        self._failures.move_to_end(address)
        return failures

    def _forget_quiet(self, now: float) -> None:
        # The least recently seen addresses whose last failure has left the window count for
        # nothing; dropping them as new ones arrive keeps the map near the active set.
        while self._failures:
            oldest = next(iter(self._failures.values()))
            if oldest[-1] > now - self._window:
                return
            self._failures.popitem(last=False)


@dataclass
class _Window:
    started: float
    written: int = 1  # a window starts with the line that opened it
    suppressed: int = 0


class SampledLog:
    """Whether a log line about a client address is written.

    The first `per_window` lines per address in each window are; the rest are left out, and the
    first line written in a later window says how many were. An address forgotten for room
    loses its untold count: the limit on memory wins over the exact number.
    """

    def __init__(
        self,
        *,
        per_window: int = 10,
        window: float = WINDOW_SECONDS,
        max_addresses: int = MAX_ADDRESSES,
        clock: MonotonicClock = time.monotonic,
    ) -> None:
        if per_window < 1 or window <= 0 or max_addresses < 1:
            raise ValueError("per_window, window and max_addresses must be positive")
        self._per_window = per_window
        self._window = window
        self._max_addresses = max_addresses
        self._clock = clock
        # Least recently seen first, so the address given up for room is the one that went quiet.
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def __len__(self) -> int:
        """How many addresses are remembered."""
        return len(self._windows)

    def admit(self, address: str) -> int | None:
        """None to leave this line out; else write it, saying this many were left out before."""
        now = self._clock()
        current = self._windows.get(address)
        if current is not None and now - current.started < self._window:
            self._windows.move_to_end(address)
            if current.written < self._per_window:
                current.written += 1
                return 0
            current.suppressed += 1
            return None
        untold = 0
        if current is None:
            self._forget_quiet(now)
        else:
            untold = current.suppressed
        self._windows[address] = _Window(started=now)
        self._windows.move_to_end(address)
        while len(self._windows) > self._max_addresses:
            self._windows.popitem(last=False)
        return untold

    def _forget_quiet(self, now: float) -> None:
        # An address whose window has ended with nothing left out has nothing left to tell.
        while self._windows:
            oldest = next(iter(self._windows.values()))
            if now - oldest.started < self._window or oldest.suppressed:
                return
            self._windows.popitem(last=False)
