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
        raise RuntimeError("the model file /srv/models/kokoro.pth is corrupt")

    ft_id = jobs_env.create_fine_tune()
    assert run_fine_tune(ft_id, "test-node", broken).status == "failed"
    row = jobs_env.fine_tune(ft_id)
    assert (row["status"], row["error_code"]) == ("failed", "training_error")
    # In words, never the exception's text (it may name server paths): the details are in the worker's log.
    assert row["error"].startswith("Training failed: an internal error (RuntimeError)"), row["error"]
    assert "/srv/" not in row["error"]
    assert (row["credits_charged"], row["org_reserved"], row["org_balance"]) == (0, 0, 10 * 1_000_000)


def test_the_trainer_gets_this_servers_measured_pace(jobs_env: JobsEnv) -> None:
    # One earlier fine-tune that ran twice as slowly as the reference machine in every stage.
    done = jobs_env.create_fine_tune()
    jobs_env.update_fine_tune(done, status="completed", attempts=1, report={
        "planned_work_s": {"ingest": 1.0, "prepare": 10.0, "adapt": 100.0, "evaluate": 50.0},
        "timings_s": {"ingest": 2.0, "segment_transcribe": 18.0, "split_profile": 2.0, "adapt": 200.0, "evaluate": 100.0}})
    seen = []

    def trainer(request, progress, should_cancel, workdir):  # noqa: ANN001, ANN202 (a Trainer)
        seen.append(request.pace)
        raise RuntimeError("stop here")

    run_fine_tune(jobs_env.create_fine_tune(), "test-node", trainer)
    assert seen == [{"ingest": 2.0, "prepare": 2.0, "adapt": 2.0, "evaluate": 2.0}]
