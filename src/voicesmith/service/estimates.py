"""How long a fine-tune will take on this server, before it starts and while it runs.

A budget plans a known amount of work per stage, in seconds on the reference machine (engine/budgets.py: `planned_work`). Each
completed fine-tune records its plan beside the time each stage took, so this server's pace per stage is the
median of its recent runs: a slower or busier machine, or a faster one, is measured rather than assumed. Until
this server has completed a fine-tune, the estimate is the reference machine's, and says so.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy import func, select

from voicesmith.engine.fine_tune import BUDGET_NAMES, STAGE_WORK, expected_training_seconds, measured_pace
from voicesmith.service.datasets import owned as owned_dataset
from voicesmith.store.db import session_scope
from voicesmith.store.models import DatasetFile, FineTune

RECENT_RUNS = 5  # enough to smooth one run that shared the machine; few enough to follow a hardware change


@dataclass(frozen=True)
class Pace:
    per_stage: dict[str, float] | None  # seconds here per reference second; None: nothing measured yet
    runs: int  # completed fine-tunes it was measured on


@dataclass(frozen=True)
class Estimate:
    audio_seconds: float | None  # None while the dataset's files are still being analysed
    budgets: dict[str, float | None]  # expected seconds of training per budget
    pace: Pace
    active: int  # fine-tunes created or training on this server now: a new one may wait for them


def server_pace() -> Pace:
    """The median pace per stage of this server's last completed fine-tunes. Resumed runs are left out: their
    timings miss the stages a checkpoint skipped."""
    with session_scope() as session:
        reports = session.scalars(
            select(FineTune.report)
            .where(FineTune.status == "completed", FineTune.attempts <= 1, FineTune.report.is_not(None))
            .order_by(FineTune.finished_at.desc())
            .limit(4 * RECENT_RUNS)
        ).all()
    paces = [p for p in (measured_pace(r) for r in reports if isinstance(r, dict)) if p][:RECENT_RUNS]
    if not paces:
        return Pace(None, 0)
    per_stage = {stage: statistics.median(values) for stage in STAGE_WORK
                 if (values := [p[stage] for p in paces if stage in p])}
    return Pace(per_stage, len(paces))


def for_dataset(org_id: str, dataset_id: str) -> Estimate:
    """The expected training time of each budget on this dataset at this server's pace."""
    with session_scope() as session:
        owned_dataset(session, org_id, dataset_id)
        analyses = session.scalars(select(DatasetFile.analysis).where(DatasetFile.dataset_id == dataset_id)).all()
        active = session.scalar(select(func.count()).select_from(FineTune).where(
            FineTune.status.in_(("created", "training")), FineTune.deleted.is_(False)))
    pace = server_pace()
    if not analyses or any(not isinstance(a, dict) for a in analyses):
        return Estimate(None, {name: None for name in BUDGET_NAMES}, pace, active)
    audio_s = sum(float(a.get("duration_seconds") or 0.0) for a in analyses)
    budgets = {name: round(expected_training_seconds(name, audio_s, pace.per_stage)) for name in BUDGET_NAMES}
    return Estimate(round(audio_s, 1), budgets, pace, active)
