"""`voicesmith serve` with its embedded worker: the first key, a job run by the embedded worker, a clean
SIGTERM that leaves no process behind and releases the interrupted job, and a restart that resumes it.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess

import httpx
import psutil
from tests.worker.jobs_support import JobsEnv, free_port, wait_for

from voicesmith.client import credentials
from voicesmith.service import background


def _serve(jobs: JobsEnv, port: int, config_home: str) -> subprocess.Popen:
    return jobs.start("serve", "--port", str(port), extra_env={"XDG_CONFIG_HOME": config_home}, name="serve")


def _stop(proc: subprocess.Popen) -> list[psutil.Process]:
    """SIGTERM the server; returns its descendants that are still alive afterwards."""
    tree = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    _, alive = psutil.wait_procs(tree, timeout=5)
    return alive


def test_serve_bootstraps_a_key_runs_jobs_and_resumes_them_after_a_restart(jobs_env: JobsEnv, tmp_path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    config_home = str(tmp_path / "config")
    server = _serve(jobs_env, port, config_home)
    jobs_env.wait_http_up(base_url, server)

    # The first key: printed once on stdout, saved for the CLI with owner-only permissions.
    out = (jobs_env.data_dir / "serve-0.log").read_text()
    lines = out.splitlines()
    key_line = next(i for i, line in enumerate(lines) if "created the first API key" in line)
    key = lines[key_line + 1].strip()
    os.environ["XDG_CONFIG_HOME"] = config_home
    try:
        assert credentials.load(base_url) == key
        assert credentials.load(f"http://localhost:{port}/") == key
        assert stat.S_IMODE(credentials.credentials_path().stat().st_mode) == 0o600
    finally:
        del os.environ["XDG_CONFIG_HOME"]
    assert httpx.get(f"{base_url}/datasets", headers={"X-API-Key": key, "Cartesia-Version": "2025-04-16"},
                     timeout=10).status_code == 200

    # The embedded worker runs a job; SIGTERM mid-job stops everything and releases the job.
    ft_id = jobs_env.create_fine_tune(steps=40, step_s=0.25)
    background.enqueue_fine_tune(ft_id)
    wait_for(lambda: jobs_env.fine_tune(ft_id)["progress"] >= 0.25, 90, "the embedded worker to make progress")
    alive = _stop(server)
    assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
    row = jobs_env.fine_tune(ft_id)
    assert row["status"] == "training" and row["heartbeat_at"] is None and row["attempts"] == 0

    # A restart sends the released job at once (no heartbeat timeout to wait for) and resumes it.
    server = _serve(jobs_env, port, config_home)
    row = jobs_env.wait_status(ft_id, ("failed", "completed"), 120)
    assert row["error_code"] == "test_pipeline" and row["attempts"] == 1
    runs = row["report"]["runs"]
    assert len(runs) == 2 and runs[1]["from_step"] >= 10
    assert "created the first API key" not in (jobs_env.data_dir / "serve-1.log").read_text()
    assert not _stop(server)


def test_serve_prints_a_short_banner_and_keeps_library_chatter_out(live_server) -> None:
    for _ in range(5):  # requests that an access log would print one line each for
        assert httpx.get(live_server.base_url + "/", timeout=10).status_code == 200
    log = live_server.log_path.read_text(errors="replace")
    port = live_server.base_url.rsplit(":", 1)[1]
    assert f"voicesmith is ready on http://localhost:{port}" in log
    assert f"studio:   http://localhost:{port}/studio/" in log and f"API docs: http://localhost:{port}/docs" in log
    assert "API key:" in log
    before_banner = [line for line in log.split("voicesmith is ready on")[0].splitlines() if line.strip()]
    if os.geteuid() == 0:  # Celery warns each worker that runs as root (as CI does): its warning, not chatter
        root_warning = ("SecurityWarning", "absolutely not recommended", "--uid option", "User information",
                        "_warn_or_raise_security_error")
        before_banner = [line for line in before_banner if not any(w in line for w in root_warning)]
    assert len(before_banner) <= 12, "\n".join(before_banner)  # was ~90 lines: migrations, worker banners
    assert '"GET / HTTP/1.1"' not in log  # no access log by default
    assert "alembic" not in log and "[tasks]" not in log and "celery@" not in log  # no library chatter
