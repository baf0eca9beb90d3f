"""Broker delivery benchmark: are N quick fine-tune jobs each delivered exactly once, and how fast?

Runs a real `voicesmith worker` (two jobs at once) on a temporary data directory, sends N jobs from
4 threads at once (as concurrent API requests would), and waits until every job has ended. The jobs
run the test-only slow pipeline with one instant step, so the figures are the job machinery's own
(broker, claim, heartbeat thread, database writes), not training. The heartbeat timeout is set to an
hour so the supervisor's re-dispatch cannot hide a message the broker lost: every job must arrive
through its one message.

Brokers: the embedded SQLite transport, and Redis if `redis-server` is installed.
Prints one JSON line: {"sqlite": {...}, "redis": {...}}.

    .venv/bin/python bench/bench_jobs.py [--jobs 50]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench_server import free_port

ROOT = Path(__file__).resolve().parents[1]
VOICESMITH = Path(sys.executable).with_name("voicesmith")


def _make_jobs(n: int, data: Path) -> list[str]:
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Dataset, DatasetFile, FineTune, Organization

    ids = []
    with session_scope() as s:
        s.add(Organization(id="bench", name="bench", credits_balance=10**12, credits_reserved=n))
        s.flush()
        s.add(Dataset(id="ds_bench", org_id="bench", name="bench", report_status="ready"))
        s.flush()
        s.add(DatasetFile(id="file_bench", dataset_id="ds_bench", filename="a.wav", size=1, sha256="0" * 64,
                          blob_key="datasets/ds_bench/a"))
        for _ in range(n):
            ft_id = f"ft_{uuid.uuid4().hex[:12]}"
            s.add(FineTune(id=ft_id, org_id="bench", dataset_id="ds_bench", name="b", language="en",
                           model_id="sonic-2", engine_model="kokoro-82m-v1.0", credits_reserved=1))
            workdir = data / "work" / ft_id
            workdir.mkdir(parents=True)
            (workdir / "slow_pipeline.json").write_text('{"steps": 1, "step_s": 0}')
            ids.append(ft_id)
    return ids


def _rows(ids: list[str]) -> list:
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import FineTune

    with session_scope() as s:
        return s.query(FineTune).filter(FineTune.id.in_(ids)).all()


def run(broker: str, n: int, timeout_s: float) -> dict:
    from voicesmith.config import get_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench_jobs_"))
    data = tmp / "data"
    log = tmp / "pipeline.log"
    env_vars = {"VOICESMITH_DATA": str(data), "VOICESMITH_HEARTBEAT_TIMEOUT_S": "3600"}
    redis = None
    if broker == "redis":
        port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no"], stdout=subprocess.DEVNULL)
        env_vars["VOICESMITH_BROKER_URL"] = f"redis://127.0.0.1:{port}/0"
        time.sleep(0.5)
    os.environ.update(env_vars)
    os.environ.pop("VOICESMITH_DATABASE_URL", None)
    if broker != "redis":
        os.environ.pop("VOICESMITH_BROKER_URL", None)
    get_settings.cache_clear()
    from voicesmith.service import background
    from voicesmith.store.db import migrate

    migrate()
    ids = _make_jobs(n, data)
    env = {**os.environ, **env_vars,
           "VOICESMITH_WORKER_APP": "slow_worker",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "worker"), str(ROOT)]), "SLOW_PIPELINE_LOG": str(log)}
    worker = subprocess.Popen([str(VOICESMITH), "worker", "--concurrency", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        t0 = time.monotonic()
        chunks = [ids[i::4] for i in range(4)]
        threads = [threading.Thread(target=lambda c=c: [background.enqueue_fine_tune(i) for i in c]) for c in chunks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        send_s = time.monotonic() - t0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rows = _rows(ids)
            if all(r.status in ("completed", "failed") for r in rows):
                break
            time.sleep(0.5)
        total_s = time.monotonic() - t0
        rows = _rows(ids)
        ended = [r for r in rows if r.status in ("completed", "failed")]
        starts = log.read_text().split("\n") if log.exists() else []
        runs_per_job = [sum(1 for line in starts if line.startswith(r.id + " ")) for r in rows]
        latency = [(r.started_at - r.dispatched_at).total_seconds() for r in rows if r.started_at and r.dispatched_at]
        return {
            "jobs": n,
            "delivered": len(ended),
            "ran_twice": sum(1 for c in runs_per_job if c > 1),
            "never_ran": sum(1 for c in runs_per_job if c == 0),
            "wrong_outcome": sum(1 for r in ended if r.error_code != "test_pipeline"),
            "send_s": round(send_s, 2),
            "all_ended_s": round(total_s, 1),
            "jobs_per_s": round(len(ended) / total_s, 2),
            "queue_to_claim_p50_s": round(statistics.median(latency), 2) if latency else None,
        }
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        if redis is not None:
            redis.terminate()
            redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    brokers = ["sqlite"] + (["redis"] if shutil.which("redis-server") else [])
    print(json.dumps({b: run(b, args.jobs, args.timeout) for b in brokers}))


if __name__ == "__main__":
    main()
