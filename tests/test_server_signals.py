"""Stopping `voicesmith serve` at any moment of its start-up exits 0, with no abort and no traceback.

Before it serves, the server loads the speech engine (onnxruntime, espeak-ng) on a worker thread: about 3 s
here, tens of seconds on a busy machine. A SIGTERM or Ctrl-C then must not tear the process down under that
thread (a C++ runtime aborting: exit 134, "terminate called ..."), nor wait for the whole warm-up: the warm-up
is cut short after the step under way. The timing varies from run to run, so the warm-up cases run twice. The
embedded worker is left out (--no-worker) to keep that cheap; test_server.py covers stopping it.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.worker.jobs_support import VOICESMITH, free_port

WARM_UP_BEGINS = "loading the speech engine"
WARM_UP_CUT_SHORT = "warm-up cut short"


class Serving:
    """A `voicesmith serve --no-worker` process whose output (stdout and stderr) is read line by line."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "VOICESMITH_DATA": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1",
               "XDG_CONFIG_HOME": str(tmp_path / "config")}  # where serve saves its first key
        self.proc = subprocess.Popen([str(VOICESMITH), "serve", "--port", str(self.port), "--no-worker"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for_line(self, fragment: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            assert line is not None, f"serve ended before printing {fragment!r}:\n{''.join(self.seen)}"
            self.seen.append(line)
            if fragment in line:
                return

    def wait_until_serving(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}"
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve did not answer within {timeout:.0f} s")

    def stop(self, *signals: signal.Signals, timeout: float = 120) -> tuple[int, str]:
        """Send the signals (a fraction of a second apart, like an impatient user); the exit code and everything
        the process printed."""
        for i, sig in enumerate(signals):
            if i:
                time.sleep(0.3)
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        return code, "".join(self.seen)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _assert_clean_exit(code: int, output: str) -> None:
    assert code == 0, f"exit {code}:\n{output[-4000:]}"
    for sign in ("Aborted", "terminate called", "Traceback"):
        assert sign not in output, output[-4000:]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGINT, signal.SIGINT)], ids=["SIGTERM", "SIGINT-twice"])
def test_stop_while_the_speech_engine_loads(tmp_path: Path, signals: tuple[signal.Signals, ...]) -> None:
    server = Serving(tmp_path)
    try:
        server.wait_for_line(WARM_UP_BEGINS)
        code, output = server.stop(*signals)
    finally:
        server.kill()
    _assert_clean_exit(code, output)
    # The model takes over a second to load: the signal arrived during it, and the rest was skipped.
    assert WARM_UP_CUT_SHORT in output, output[-4000:]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("sig", [signal.SIGINT], ids=["SIGINT"])  # SIGTERM once serving: every live_server test
def test_stop_as_soon_as_it_serves(tmp_path: Path, sig: signal.Signals) -> None:
    server = Serving(tmp_path)
    try:
        server.wait_until_serving()
        code, output = server.stop(sig)
    finally:
        server.kill()
    _assert_clean_exit(code, output)
