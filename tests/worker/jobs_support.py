"""Helpers for the job tests: a private data directory (database + SQLite broker), real `voicesmith
worker` processes, and fine-tunes created directly in the database (the API is not under test here)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
VOICESMITH = Path(sys.executable).with_name("voicesmith")
HEARTBEAT_TIMEOUT_S = 3.0
COST = 1_000_000


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JobsEnv:
    data_dir: Path
    env: dict[str, str]
    pipeline_log: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    # Processes ---------------------------------------------------------------------------------
    def start(self, *args: str, extra_env: dict[str, str] | None = None, name: str = "worker") -> subprocess.Popen:
        log = open(self.data_dir / f"{name}-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([str(VOICESMITH), *args], env={**self.env, **(extra_env or {})},
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def cli(self, *args: str) -> str:
        """Run a short `voicesmith` command against this data dir; its stdout."""
        return subprocess.run([str(VOICESMITH), *args], env=self.env, capture_output=True, text=True,
                              check=True, timeout=120).stdout.strip()

    def wait_http_up(self, base_url: str, proc: subprocess.Popen) -> None:
        def up() -> bool:
            assert proc.poll() is None, f"the server exited with {proc.returncode}\n{self.logs()}"
            try:
                return httpx.get(base_url + "/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 120, "the server to answer", interval=0.5)

    def start_worker(self, concurrency: int = 1, **kwargs) -> subprocess.Popen:  # noqa: ANN003
        return self.start("worker", "--concurrency", str(concurrency), **kwargs)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.data_dir.glob("*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    # Database ----------------------------------------------------------------------------------
    def create_fine_tune(self, files: int = 1, steps: int = 20, step_s: float = 0.25) -> str:
        """An organisation with a reservation, a dataset with `files` (tiny, fake) files, a created
        fine-tune: what service.fine_tunes.create leaves behind, minus the enqueue. `steps` and
        `step_s` configure the slow pipeline for this job (through its workdir)."""
        from voicesmith.store.blobs import get_blob_store
        from voicesmith.store.db import session_scope
        from voicesmith.store.models import Dataset, DatasetFile, FineTune, Organization

        org_id, ds_id, ft_id = (f"{p}_{uuid.uuid4().hex[:10]}" for p in ("org", "ds", "ft"))
        with session_scope() as s:
            s.add(Organization(id=org_id, name=org_id, credits_balance=10 * COST, credits_reserved=COST))
            s.flush()
            s.add(Dataset(id=ds_id, org_id=org_id, name="d", report_status="ready"))
            s.flush()
            for i in range(files):
                key = f"datasets/{ds_id}/f{i}"
                info = get_blob_store().put_bytes(key, b"RIFF-not-really-audio")
                s.add(DatasetFile(id=f"file_{ds_id}_{i}", dataset_id=ds_id, filename=f"clip{i}.wav", size=info.size,
                                  sha256=info.sha256, blob_key=key))
            s.add(FineTune(id=ft_id, org_id=org_id, dataset_id=ds_id, name="t", language="en", model_id="sonic-2",
                           engine_model="kokoro-82m-v1.0", credits_reserved=COST))
        workdir = self.data_dir / "work" / ft_id
        workdir.mkdir(parents=True)
        (workdir / "slow_pipeline.json").write_text(json.dumps({"steps": steps, "step_s": step_s}))
        return ft_id

    def fine_tune(self, ft_id: str) -> dict:
        from voicesmith.store.db import session_scope
        from voicesmith.store.models import FineTune, Organization

        with session_scope() as s:
            ft = s.query(FineTune).filter_by(id=ft_id).one()
            org = s.get(Organization, ft.org_id)
            row = {c.name: getattr(ft, c.name) for c in FineTune.__table__.columns}
            row["org_balance"], row["org_reserved"] = org.credits_balance, org.credits_reserved
            return row

    def update_fine_tune(self, ft_id: str, **values: object) -> None:
        from voicesmith.store.db import session_scope
        from voicesmith.store.models import FineTune

        with session_scope() as s:
            s.query(FineTune).filter_by(id=ft_id).update(values)

    def pipeline_starts(self, ft_id: str) -> list[str]:
        if not self.pipeline_log.exists():
            return []
        return [line for line in self.pipeline_log.read_text().splitlines() if line.startswith(ft_id + " ")]

    def wait_status(self, ft_id: str, statuses: tuple[str, ...], timeout: float) -> dict:
        try:
            return wait_for(lambda: (r := self.fine_tune(ft_id))["status"] in statuses and r, timeout,
                            f"fine-tune {ft_id} to reach {statuses}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; now {self.fine_tune(ft_id)}\n--- logs ---\n{self.logs()}") from None


def _reset_process_state() -> None:
    from voicesmith.config import get_settings

    get_settings.cache_clear()


@contextlib.contextmanager
def make_jobs_env(root: Path, **settings: str) -> Iterator[JobsEnv]:
    """A private data dir whose fine-tunes run the fake trainer (slow_pipeline.py) in real worker processes.

    The test process itself uses the same settings (database, broker) to create and inspect jobs.
    `settings` adds environment variables (e.g. VOICESMITH_BROKER_URL) for both.
    """
    data = root / "data"
    data.mkdir(parents=True)
    pipeline_log = root / "pipeline.log"
    ours = {
        "VOICESMITH_DATA": str(data),
        "VOICESMITH_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        **settings,
    }
    env = {k: v for k, v in os.environ.items()
           if k not in ("VOICESMITH_BROKER_URL", "VOICESMITH_DATABASE_URL", "VOICESMITH_BLOB_DIR")}
    env.update(ours)
    env.update({
        "VOICESMITH_WORKER_APP": "slow_worker",
        "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p),
        "SLOW_PIPELINE_LOG": str(pipeline_log),
    })
    with pytest.MonkeyPatch.context() as mp:
        for name in ("VOICESMITH_BROKER_URL", "VOICESMITH_DATABASE_URL", "VOICESMITH_BLOB_DIR"):
            mp.delenv(name, raising=False)
        for name, value in ours.items():
            mp.setenv(name, value)
        _reset_process_state()
        from voicesmith.store.db import migrate

        migrate()
        jobs = JobsEnv(data, env, pipeline_log)
        try:
            yield jobs
        finally:
            jobs.stop_all()
    _reset_process_state()
