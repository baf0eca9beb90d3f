"""service/estimates.py in-process: this server's pace from its completed fine-tunes, and a dataset's estimate."""

from __future__ import annotations

import pytest
from tests.worker.jobs_support import JobsEnv

from voicesmith.engine.fine_tune import expected_training_seconds
from voicesmith.service import estimates, training
from voicesmith.service.errors import NotFound
from voicesmith.store.db import session_scope
from voicesmith.store.models import DatasetFile, FineTune

WORK = {"ingest": 1.0, "prepare": 10.0, "adapt": 100.0, "evaluate": 50.0}


def _timings(factor: float) -> dict:
    # As run_fine_tune records them: segmenting/transcribing and the split are separate entries of "prepare".
    return {"ingest": 1.0 * factor, "segment_transcribe": 8.0 * factor, "split_profile": 2.0 * factor,
            "adapt": 100.0 * factor, "evaluate": 50.0 * factor}


def _completed(jobs: JobsEnv, factor: float | None, attempts: int = 1) -> str:
    """A fine-tune as training.complete leaves it (the voices do not matter here)."""
    ft_id = jobs.create_fine_tune()
    report = {"similarity": 0.8} if factor is None else {"planned_work_s": WORK, "timings_s": _timings(factor)}
    jobs.update_fine_tune(ft_id, status="completed", progress=1.0, report=report, attempts=attempts,
                          finished_at=training.utcnow())
    return ft_id


def _dataset_of(ft_id: str) -> tuple[str, str]:
    with session_scope() as s:
        ft = s.query(FineTune).filter_by(id=ft_id).one()
        return ft.org_id, ft.dataset_id


def _analyse(dataset_id: str, seconds: list[float]) -> None:
    with session_scope() as s:
        for f, duration in zip(s.query(DatasetFile).filter_by(dataset_id=dataset_id).order_by(DatasetFile.seq), seconds):
            f.analysis = {"duration_seconds": duration, "verdict": "ok"}


def test_with_no_completed_fine_tune_the_pace_is_the_reference(jobs_env: JobsEnv) -> None:
    _completed(jobs_env, None)  # a report from before plans were recorded: not measurable
    assert estimates.server_pace() == estimates.Pace(None, 0)


def test_the_pace_is_the_median_of_recent_first_attempts(jobs_env: JobsEnv) -> None:
    for factor in (2.0, 3.0, 10.0):
        _completed(jobs_env, factor)
    _completed(jobs_env, 0.01, attempts=2)  # resumed: its timings miss the stages a checkpoint skipped
    pace = estimates.server_pace()
    assert pace.runs == 3
    assert pace.per_stage == pytest.approx({"ingest": 3.0, "prepare": 3.0, "adapt": 3.0, "evaluate": 3.0})


def test_a_datasets_estimate_scales_each_budget_by_the_measured_pace(jobs_env: JobsEnv) -> None:
    ft_id = _completed(jobs_env, 2.0)
    org_id, dataset_id = _dataset_of(jobs_env.create_fine_tune(files=2))
    before = estimates.for_dataset(org_id, dataset_id)
    assert before.audio_seconds is None and set(before.budgets.values()) == {None}  # not analysed yet
    _analyse(dataset_id, [40.0, 50.0])
    estimate = estimates.for_dataset(org_id, dataset_id)
    assert estimate.audio_seconds == 90.0 and estimate.pace.runs == 1
    for name, seconds in estimate.budgets.items():
        assert seconds == round(2.0 * expected_training_seconds(name, 90.0, None))
    assert estimate.budgets["tiny"] < estimate.budgets["default"] < estimate.budgets["max"]
    # The fine-tune created for the dataset (and never claimed) is one this server is busy with.
    assert estimate.active == 1
    with pytest.raises(NotFound):
        estimates.for_dataset(_dataset_of(ft_id)[0], dataset_id)  # another organisation's dataset
