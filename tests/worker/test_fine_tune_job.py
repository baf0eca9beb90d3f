"""The fine-tune job in this process: how the trainer's outcomes become the job's end state.

With the engine's trainer, on unusable data (the real pipeline refuses it in its first stage); full
training runs in tests/engine and the end-to-end tests. With an injected trainer that breaks, the job
fails clearly and is never charged.
"""

from __future__ import annotations

from tests.worker.jobs_support import JobsEnv

from voicesmith.worker.fine_tune_job import run_fine_tune
from voicesmith.worker.trainer import engine_trainer


def test_unusable_dataset_fails_with_the_engines_reason_and_no_charge(jobs_env: JobsEnv) -> None:
    jobs = jobs_env
    ft_id = jobs.create_fine_tune(files=2)  # files that are not audio
    outcome = run_fine_tune(ft_id, "test-node", engine_trainer)
    row = jobs.fine_tune(ft_id)
    assert outcome.status == "failed" and row["status"] == "failed"
    assert row["error_code"] == "unreadable", row["error"]
    assert "could not be read" in row["error"] or "read as audio" in row["error"]
    assert (row["credits_charged"], row["credits_reserved"], row["org_reserved"]) == (0, 0, 0)
    assert not (jobs.data_dir / "work" / ft_id).exists()


def test_a_trainer_that_breaks_fails_the_job_clearly_and_never_charges(jobs_env: JobsEnv) -> None:
    def broken(request, progress, should_cancel, workdir):  # noqa: ANN001, ANN202 (a Trainer)
        raise RuntimeError("the model file is corrupt")

    ft_id = jobs_env.create_fine_tune()
    assert run_fine_tune(ft_id, "test-node", broken).status == "failed"
    row = jobs_env.fine_tune(ft_id)
    assert (row["status"], row["error_code"]) == ("failed", "training_error")
    assert "the model file is corrupt" in row["error"]
    assert (row["credits_charged"], row["org_reserved"], row["org_balance"]) == (0, 0, 10 * 1_000_000)
