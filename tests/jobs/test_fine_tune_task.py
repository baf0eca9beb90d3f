"""The fine-tune task with the real trainer (engine.fine_tune), in this process: how the engine's
outcomes become the job's end state. Full training runs in tests/engine and the end-to-end tests;
here the data is unusable, so the real pipeline refuses it in its first stage."""

from __future__ import annotations

import sys

import pytest
from tests.jobs.jobs_support import JobsEnv

from voicesmith.jobs import tasks


@pytest.fixture()
def jobs(jobs_env: JobsEnv, monkeypatch: pytest.MonkeyPatch) -> JobsEnv:
    monkeypatch.delenv(tasks.TEST_PIPELINE_ENV, raising=False)
    return jobs_env


def test_unusable_dataset_fails_with_the_engines_reason_and_no_charge(jobs: JobsEnv) -> None:
    ft_id = jobs.create_fine_tune(files=2)  # files that are not audio
    outcome = tasks.run_fine_tune(ft_id, "test-node")
    row = jobs.fine_tune(ft_id)
    assert outcome.status == "failed" and row["status"] == "failed"
    assert row["error_code"] == "unreadable", row["error"]
    assert "could not be read" in row["error"] or "read as audio" in row["error"]
    assert (row["credits_charged"], row["credits_reserved"], row["org_reserved"]) == (0, 0, 0)
    assert not (jobs.data_dir / "work" / ft_id).exists()


def test_without_a_trainer_the_job_fails_clearly_and_never_completes(jobs: JobsEnv,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # What a worker without the trainer installed sees: the module cannot be imported.
    monkeypatch.setitem(sys.modules, "voicesmith.engine.fine_tune", None)
    ft_id = jobs.create_fine_tune()
    assert tasks.run_fine_tune(ft_id, "test-node").status == "failed"
    row = jobs.fine_tune(ft_id)
    assert (row["status"], row["error_code"]) == ("failed", "no_trainer")
    assert "No fine-tune trainer is installed" in row["error"] and "nothing was charged" in row["error"]
    assert (row["credits_charged"], row["org_reserved"], row["org_balance"]) == (0, 0, 10 * 1_000_000)
