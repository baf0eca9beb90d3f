"""Scale-out: Redis as the broker, `voicesmith worker` as its own process, `voicesmith serve --no-worker`.

Through the HTTP API: create a dataset, upload real speech, wait for its quality report (analysed by
the standalone worker's analysis queue, over Redis), start a fine-tune and watch it end (run by the
standalone worker's fine-tune queue with the test-only pipeline). Skips only if redis-server is not
installed (`./run test` installs it).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis
from tests.worker.jobs_support import free_port, make_jobs_env, wait_for


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; ./run test does it)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        wait_for(lambda: _pings(client), 20, "redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _speech_clip(speech_data: Path) -> Path:
    with open(speech_data / "manifest.tsv") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t")
                if r["speaker"] == "allison_en" and 4.0 <= float(r["seconds"]) <= 8.0]
    return speech_data / sorted(rows, key=lambda r: r["path"])[0]["path"]


def test_job_runs_through_redis_on_a_standalone_worker(tmp_path: Path, redis_url: str, speech_data: Path) -> None:
    # A one-clip dataset is enough to train in this test: the pipeline is the test-only one.
    with make_jobs_env(tmp_path, VOICESMITH_BROKER_URL=redis_url, VOICESMITH_MIN_USABLE_SPEECH_S="1") as jobs:
        worker = jobs.start_worker()
        port = free_port()
        server = jobs.start("serve", "--no-worker", "--port", str(port), name="serve")
        base = f"http://127.0.0.1:{port}"
        key = jobs.cli("keys", "create", "--org", "redis")
        headers = {"X-API-Key": key, "Cartesia-Version": "2025-04-16"}
        jobs.wait_http_up(base, server)
        # The server runs no Celery worker of its own: every job below goes over Redis to `worker`.
        assert not [p for p in psutil.Process(server.pid).children(recursive=True) if "celery" in " ".join(p.cmdline())]

        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            ds = api.post("/datasets", json={"name": "redis", "description": ""})
            assert ds.status_code == 200, ds.text
            ds_id = ds.json()["id"]
            clip = _speech_clip(speech_data)
            with open(clip, "rb") as fh:
                up = api.post(f"/datasets/{ds_id}/files", files={"file": ("clip.wav", fh, "audio/wav")},
                              data={"purpose": "fine_tune"})
            assert up.status_code == 204, up.text

            def report_done() -> dict | None:
                body = api.get(f"/datasets/{ds_id}/report").json()
                return body if body["status"] != "pending" else None

            report = wait_for(report_done, 120, "the dataset report (analysis over Redis)", interval=0.5)
            assert report["status"] == "ready", report
            assert report["report"]["ok_to_train"] is True and report["files"][0]["analysis"]["usable_seconds"] > 1

            ft = api.post("/fine-tunes", json={"name": "r", "description": "", "language": "en",
                                               "model_id": "sonic-2", "dataset": ds_id})
            assert ft.status_code == 200, ft.text
            ft_id = ft.json()["id"]
            row = jobs.wait_status(ft_id, ("failed", "completed"), 90)
            assert api.get(f"/fine-tunes/{ft_id}").json()["status"] == "failed"

        assert (row["error_code"], row["attempts"]) == ("test_pipeline", 1)
        assert row["worker_id"].startswith("fine_tune-")
        assert row["report"]["files"] == ["clip.wav"]
        assert worker.poll() is None and server.poll() is None
        # Both stop cleanly on SIGTERM, leaving no process behind.
        tree = [p for proc in (worker, server) for p in psutil.Process(proc.pid).children(recursive=True)]
        jobs.stop_all()
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert not alive
