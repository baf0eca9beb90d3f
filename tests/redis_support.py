"""A throwaway redis-server for the tests (Debian's redis-server; `./run test` installs it)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator

import redis
from tests.worker.jobs_support import free_port


@contextlib.contextmanager
def running_redis() -> Iterator[str | None]:
    """Yields the URL of a fresh redis-server on a loopback port, or None if redis-server is not installed."""
    server = shutil.which("redis-server")
    if server is None:
        yield None
        return
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=20)
