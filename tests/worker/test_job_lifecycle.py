"""Fine-tune jobs through a real broker (SQLite transport) and real `voicesmith worker` processes.

The worker runs the fake trainer (tests/worker/slow_pipeline.py): these tests are about the
job machinery (states, progress, cancel, duplicate delivery), not about training.
"""

from __future__ import annotations

import time

import pytest
from tests.worker.jobs_support import JobsEnv, wait_for

from voicesmith.service import background


@pytest.fixture(scope="module")
def jobs(shared_jobs_env: JobsEnv) -> JobsEnv:
    """One worker (two jobs at once) serves every test of this module."""
    return shared_jobs_env


def test_job_goes_created_training_failed_with_progress(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune(files=2)
    background.enqueue_fine_tune(ft_id)
    assert jobs.fine_tune(ft_id)["dispatched_at"] is not None

    seen: list[tuple[str, str | None, float]] = []

    def training_progressed() -> bool:
        row = jobs.fine_tune(ft_id)
        seen.append((row["status"], row["stage"], row["progress"]))
        return row["status"] == "training" and row["stage"] == "adapt" and 0.2 < row["progress"] < 1.0

    wait_for(training_progressed, 60, "training progress in the database")
    row = jobs.fine_tune(ft_id)
    assert row["worker_id"] and row["heartbeat_at"] and row["started_at"] and row["attempts"] == 1
    assert row["eta_seconds"] is not None and row["eta_seconds"] < 5.0

    row = jobs.wait_status(ft_id, ("completed", "failed"), 30)
    # The test pipeline can never complete a fine-tune: it ends failed/test_pipeline, with its report.
    assert (row["status"], row["error_code"]) == ("failed", "test_pipeline")
    assert row["report"]["files"] == ["clip0.wav", "clip1.wav"]
    assert row["finished_at"] is not None
    # No charge; the reservation went back to the organisation.
    assert (row["credits_charged"], row["credits_reserved"], row["org_reserved"]) == (0, 0, 0)
    progresses = [p for status, _, p in seen if status == "training"]
    assert progresses == sorted(progresses) and len(set(progresses)) >= 2
    assert len(jobs.pipeline_starts(ft_id)) == 1
    # Checkpoints are removed once the job has ended (by the worker, just after it records the end).
    wait_for(lambda: not (jobs.data_dir / "work" / ft_id).exists(), 10, "the job's workdir to be removed")


def test_cancel_stops_the_worker_within_seconds_and_releases_credits(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune(steps=400)  # 100 s if not stopped
    background.enqueue_fine_tune(ft_id)
    wait_for(lambda: jobs.fine_tune(ft_id)["progress"] > 0.01, 60, "training to start")

    # What DELETE /fine-tunes/{id} does: flag the row (service.fine_tunes.delete).
    jobs.update_fine_tune(ft_id, cancel_requested=True, deleted=True)
    asked = time.monotonic()
    row = jobs.wait_status(ft_id, ("failed", "completed"), 20)
    stopped_after = time.monotonic() - asked
    assert (row["status"], row["error_code"]) == ("failed", "cancelled")
    assert stopped_after < 5.0, f"the worker took {stopped_after:.1f} s to stop"
    assert row["progress"] < 0.5
    assert (row["credits_charged"], row["credits_reserved"], row["org_reserved"]) == (0, 0, 0)
    assert row["org_balance"] == 10 * 1_000_000


def test_duplicate_dispatch_runs_the_job_once(jobs: JobsEnv) -> None:
    # The worker runs two jobs at once, so duplicates could run side by side if the claim let them.
    ft_id = jobs.create_fine_tune(steps=12)
    for _ in range(4):
        background.enqueue_fine_tune(ft_id)
    row = jobs.wait_status(ft_id, ("failed", "completed"), 60)
    assert row["error_code"] == "test_pipeline"
    time.sleep(2.0)  # let any straggling duplicate be delivered and dropped
    assert len(jobs.pipeline_starts(ft_id)) == 1
    row = jobs.fine_tune(ft_id)
    assert row["attempts"] == 1 and row["status"] == "failed"
