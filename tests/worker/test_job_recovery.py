"""Killed workers: the heartbeat goes stale, the sweep dispatches the job again, and the next worker
resumes from the checkpoint in the job's workdir (the test-only slow pipeline checkpoints each step).

Kill 1: SIGKILL the pool process running the job (the Celery worker itself survives).
Kill 2: SIGKILL the whole `voicesmith worker` (the machine went away); its Celery worker and pool
        processes must die with it, and a worker started afterwards finishes the job.
"""

from __future__ import annotations

import os
import signal

import psutil
from tests.worker.jobs_support import HEARTBEAT_TIMEOUT_S, JobsEnv, wait_for

from voicesmith.service import background


def _running_pid(jobs: JobsEnv, ft_id: str, attempt: int) -> int:
    row = wait_for(lambda: (r := jobs.fine_tune(ft_id))["attempts"] == attempt and r["worker_id"] and r, 60,
                   f"attempt {attempt} to claim the job")
    return int(row["worker_id"].split("/")[1])  # worker_id is node/pid/nonce


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def test_killed_workers_job_is_redispatched_and_resumed(jobs_env: JobsEnv) -> None:
    ft_id = jobs_env.create_fine_tune(steps=60, step_s=0.25)
    runner = jobs_env.start_worker()
    background.enqueue_fine_tune(ft_id)

    # Kill 1: the pool process, mid-job.
    pool_pid = _running_pid(jobs_env, ft_id, attempt=1)
    wait_for(lambda: jobs_env.fine_tune(ft_id)["progress"] >= 0.2, 60, "progress before the first kill")
    os.kill(pool_pid, signal.SIGKILL)
    killed_at_progress = jobs_env.fine_tune(ft_id)["progress"]

    # Re-dispatched after the heartbeat timeout, claimed again by a new pool process.
    new_pool_pid = _running_pid(jobs_env, ft_id, attempt=2)
    assert new_pool_pid != pool_pid
    wait_for(lambda: jobs_env.fine_tune(ft_id)["progress"] >= 0.5, 60, "progress before the second kill")

    # Kill 2: the whole worker; PDEATHSIG takes its Celery workers and their pool processes along.
    tree = _tree(runner.pid)
    assert len(tree) >= 4, [p.cmdline() for p in tree]  # runner, 2 Celery workers, their pool processes
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, f"processes outlived their worker: {[p.pid for p in alive]}"

    jobs_env.start_worker()
    row = jobs_env.wait_status(ft_id, ("failed", "completed"), 60 + 4 * HEARTBEAT_TIMEOUT_S)
    assert (row["status"], row["error_code"]) == ("failed", "test_pipeline")
    assert row["attempts"] == 3
    runs = row["report"]["runs"]
    assert len(runs) == 3 and len(jobs_env.pipeline_starts(ft_id)) == 3
    # Each attempt resumed where the checkpoint said, not from zero.
    assert runs[0]["from_step"] == 0
    assert runs[1]["from_step"] >= int(killed_at_progress * 60) - 1 > 0
    assert runs[2]["from_step"] >= 30
    assert (row["credits_charged"], row["org_reserved"]) == (0, 0)
