"""Another process holding a SQLite database's write lock (`BEGIN EXCLUSIVE`) until told to stop.

What a second bot, a backup tool or a person with the `sqlite3` shell does to the
embedded store's file. The lock is taken in a real separate process, so the bot
meets SQLite's own cross-process locking, not a thread in the test.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

# Takes the lock, says so, and keeps it until its stdin closes (or the test dies).
_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
connection.execute("ROLLBACK")
connection.close()
"""
START_TIMEOUT = 15.0


class SqliteLock:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def take(cls, database: Path) -> SqliteLock:
        """Start the holder and return once it holds the lock."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _HOLDER,
            str(database),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
        if line.strip() != b"locked":
            process.kill()
            await process.wait()
            raise RuntimeError(f"the lock holder did not take the lock: {line!r}")
        return cls(process)

    async def release(self) -> None:
        """Roll back and end the holder (its stdin closes)."""
        if self._process.returncode is not None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        await asyncio.wait_for(self._process.wait(), START_TIMEOUT)
