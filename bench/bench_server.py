"""Starting a `voicesmith serve` for a benchmark: a free port, a key, and waiting until it answers.

Imported by the bench scripts (run as `python bench/NAME.py`, so this folder is on the path).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, org: str, timeout_s: float = 300,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, str]:
    """`voicesmith serve --no-worker` on `data` with an API key of `org`: (process, base URL, key).

    `env` is the server's environment (default: this process's); the per-key rate limit is off: throughput is what
    the benchmarks measure.
    """
    env = {**(os.environ if env is None else env), "VOICESMITH_DATA": str(data), "VOICESMITH_RATE_LIMIT_PER_MIN": "0"}
    key = subprocess.run([sys.executable, "-m", "voicesmith", "keys", "create", "--org", org, "--data", str(data)],
                         capture_output=True, text=True, env=env, check=True).stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "voicesmith", "serve", "--no-worker", "--host", "127.0.0.1",
                             "--port", str(port), "--data", str(data)],
                            stdout=open(data / "serve.log", "wb"), stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return proc, base, key
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start:\n" + (data / "serve.log").read_text()[-3000:])
