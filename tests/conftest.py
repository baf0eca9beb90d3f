"""Fixtures shared by the whole suite.

- `speech_data`: the real-speech corpus (VOICESMITH_SPEECH_DATA, default <repo>/.cache/speech); skips if absent.
- `live_server`: one `voicesmith serve` subprocess per session (temp data dir, embedded worker), with an
  admin API key for org "test"; `live_server.make_key(org)` / the `make_key` fixture give keys of other orgs.
- `sdk_fine_tune_flow`: the SDK fine-tune end to end, started in the background when the session starts.
- `data_dir_switch(path)`: point this process's settings at a data directory (in-process tests).
- `dispatched`: captures job hand-offs (enqueue_fine_tune / enqueue_dataset_analysis) instead of sending them.
- `s3_server`, `redis_server_url`: moto's S3 server and a redis-server, started once per session.
- `jobs_env`: a private data dir (database + SQLite broker) whose fine-tunes run a fake trainer in real worker
  processes (tests/worker/jobs_support.py).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.worker.jobs_support import JobsEnv, make_jobs_env

REPO_ROOT = Path(__file__).resolve().parents[1]
# The suite runs Kokoro on onnxruntime: its thresholds were measured there, and `auto`'s choice depends on the
# machine (the first process on a new one also loads and times both runtimes). tests/engine/test_kokoro_runtime.py
# covers OpenVINO and `auto`. Set VOICESMITH_TTS_RUNTIME to run the suite on another runtime. Subprocesses inherit it.
os.environ.setdefault("VOICESMITH_TTS_RUNTIME", "onnxruntime")
SERVER_START_TIMEOUT_S = 180.0


# Real speech ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def speech_data() -> Path:
    root = Path(os.environ.get("VOICESMITH_SPEECH_DATA") or REPO_ROOT / ".cache" / "speech")
    if not (root / "manifest.tsv").is_file():
        pytest.skip(f"no speech data at {root} (manifest.tsv missing): run "
                    "`.venv/bin/python scripts/fetch_speech.py .cache/speech` or `./run test`, "
                    "or set VOICESMITH_SPEECH_DATA")
    return root


# In-process settings ----------------------------------------------------------------------------

def _reset_settings() -> None:
    from voicesmith.config import get_settings

    get_settings.cache_clear()


@contextlib.contextmanager
def use_data_dir(path: Path, **env: str) -> Iterator[Path]:
    """Run this process against `path` as VOICESMITH_DATA (plus extra VOICESMITH_* settings)."""
    saved = {k: os.environ.get(k) for k in ["VOICESMITH_DATA", *env]}
    os.environ["VOICESMITH_DATA"] = str(path)
    os.environ.update(env)
    _reset_settings()
    try:
        yield path
    finally:
        from voicesmith.store.db import dispose_engines

        dispose_engines()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_settings()


@pytest.fixture(scope="session")
def data_dir_switch():
    """use_data_dir as a fixture (test modules are not importable as a package)."""
    return use_data_dir


def _record(calls: list[tuple[str, str]], func_name: str, object_id: str) -> bool:
    calls.append((func_name, object_id))
    return True


def capture_job_hand_offs(mp: pytest.MonkeyPatch, calls: list[tuple[str, str]]) -> None:
    """Make the service layer's job hand-offs append (name, id) to `calls` instead of reaching a broker."""
    from voicesmith.service import background

    for name in ("enqueue_fine_tune", "enqueue_dataset_analysis"):
        mp.setattr(background, name, functools.partial(_record, calls, name))


@pytest.fixture
def dispatched(monkeypatch) -> list[tuple[str, str]]:
    """Capture the service layer's job hand-offs (name, id) instead of sending them to a broker."""
    calls: list[tuple[str, str]] = []
    capture_job_hand_offs(monkeypatch, calls)
    return calls


@pytest.fixture()
def jobs_env(tmp_path: Path) -> Iterator[JobsEnv]:
    with make_jobs_env(tmp_path) as env:
        yield env


# Live server ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def voicesmith_cli(*args: str, data_dir: Path, timeout: float = 120) -> str:
    """Run `python -m voicesmith ...` against a data directory; returns stdout (stripped)."""
    env = {**os.environ, "VOICESMITH_DATA": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "voicesmith", *args, "--data", str(data_dir)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"voicesmith {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout.strip()


@dataclass
class LiveServer:
    base_url: str
    ws_url: str
    api_key: str
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    _keys: dict[tuple[str, bool], str] = field(default_factory=dict)

    def make_key(self, org: str, admin: bool = False) -> str:
        """An API key for `org` (created with its initial credits if new), via `voicesmith keys create`."""
        if (org, admin) not in self._keys:
            args = ["keys", "create", "--org", org] + (["--admin"] if admin else [])
            self._keys[(org, admin)] = voicesmith_cli(*args, data_dir=self.data_dir)
        return self._keys[(org, admin)]

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.api_key}"}

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def _wait_until_up(server: LiveServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"voicesmith serve exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.base_url + "/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"voicesmith serve did not answer within {timeout:.0f} s:\n{server.log_tail()}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=45)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live-data")
    api_key = voicesmith_cli("keys", "create", "--org", "test", "--admin", "--description", "tests",
                             data_dir=data_dir)
    port = free_port()
    log_path = data_dir / "serve.log"
    env = {**os.environ, "VOICESMITH_DATA": str(data_dir), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicesmith", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--data", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data_dir,
        )
    server = LiveServer(base_url=f"http://127.0.0.1:{port}", ws_url=f"ws://127.0.0.1:{port}", api_key=api_key,
                        data_dir=data_dir, process=proc, log_path=log_path)
    try:
        _wait_until_up(server, SERVER_START_TIMEOUT_S)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session", autouse=True)
def sdk_fine_tune_flow(request):
    """tests/e2e/test_sdk_fine_tune.py's fine-tune, started with the session when that module is collected
    (tests/e2e/sdk_fine_tune_flow.py): its minutes of training overlap the tests before it. None otherwise."""
    wanted = any(item.nodeid.startswith("tests/e2e/test_sdk_fine_tune.py") for item in request.session.items)
    root = Path(os.environ.get("VOICESMITH_SPEECH_DATA") or REPO_ROOT / ".cache" / "speech")
    # Without the SDK or the speech data the module skips itself.
    if not wanted or importlib.util.find_spec("cartesia") is None or not (root / "manifest.tsv").is_file():
        yield None
        return
    from tests.e2e.sdk_fine_tune_flow import SdkFineTuneFlow

    yield SdkFineTuneFlow.start(request.getfixturevalue("live_server"), root)


@pytest.fixture(scope="session")
def make_key(live_server: LiveServer):
    """make_key(org, admin=False) -> API key of that org on the live server."""
    return live_server.make_key


# Object store -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible server (moto's standalone server, a subprocess on a loopback port), one per session."""
    from tests.s3_support import running_s3_server

    with running_s3_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(scope="session")
def redis_server_url():
    """A real redis-server (tests/redis_support.py), one per session; skips if redis-server is not installed."""
    from tests.redis_support import running_redis

    with running_redis() as url:
        if url is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server; ./run test does it)")
        yield url
