"""The seam between a fine-tune job and the engine that trains it.

A `Trainer` turns a request (the dataset's audio files and the job's options) into voices and a report,
reporting progress and polling for cancellation, and resumes from `workdir` when run again. The worker
uses the engine's pipeline; tests inject a fake trainer to drive the job machinery (kills, cancels,
re-dispatch) without minutes of training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from voicesmith.engine.fine_tune import (
    AudioFile,
    Cancelled,
    DatasetRejected,
    FineTuneRequest,
    FineTuneResult,
    ProgressUpdate,
    run_fine_tune,
)

__all__ = ["AudioFile", "Cancelled", "DatasetRejected", "FineTuneRequest", "FineTuneResult", "ProgressUpdate", "Trainer",
           "engine_trainer"]


class Trainer(Protocol):
    def __call__(
        self,
        request: FineTuneRequest,
        progress: Callable[[ProgressUpdate], None],
        should_cancel: Callable[[], bool],
        workdir: Path,
    ) -> FineTuneResult:
        """Train (or resume from `workdir`). Raises DatasetRejected for unusable data, Cancelled on cancel."""
        ...


engine_trainer: Trainer = run_fine_tune
