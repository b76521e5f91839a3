"""A `redis-server` that keeps what it acknowledged across a crash, for restart tests.

The session's `redis_server` runs without persistence, so its `restart()` is a
wipe. Production Redis for several replicas runs with an append-only file; this
one fsyncs every write (`appendfsync always`), so `restart()` — a SIGKILL and a
fresh start on the same port — comes back with every acknowledged write.
"""

from __future__ import annotations

import subprocess

from tests.support.redis_server import RedisServer


class DurableRedisServer(RedisServer):
    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.log),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_ready()
