"""The worker's Celery tasks, registered on the broker's app by name.

`voicesmith serve` and `voicesmith worker` start Celery on this module (settings.worker_app names it).
A deployment that trains with something else (or a test that drives the job machinery with a fake)
points settings.worker_app at its own module, which calls `use_trainer()` and exposes `app`.
"""

from __future__ import annotations

import logging
import os
import socket

from celery import signals

from voicesmith.broker import ANALYSIS_TASK, FINE_TUNE_TASK, app
from voicesmith.engine.settings import ONNX_THREADS_ENV, TRAIN_THREADS_ENV, usable_cores
from voicesmith.worker.analysis_job import analyze_dataset
from voicesmith.worker.fine_tune_job import run_fine_tune
from voicesmith.worker.trainer import Trainer, engine_trainer

__all__ = ["app", "use_trainer"]

log = logging.getLogger(__name__)

# Thread pools the engine sizes from the environment: the numeric libraries (read when each library
# initialises, which in a pool process happens after the fork), and the engine's own knobs for
# onnxruntime sessions and the trainer's rendering threads (engine/settings.py).
_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", ONNX_THREADS_ENV, TRAIN_THREADS_ENV)

_trainer: Trainer = engine_trainer


def use_trainer(trainer: Trainer) -> None:
    """Run this process's fine-tunes with `trainer` instead of the engine's pipeline."""
    global _trainer
    _trainer = trainer


@app.task(name=FINE_TUNE_TASK, bind=True)
def run_fine_tune_task(self, fine_tune_id: str) -> str:  # noqa: ANN001 (Celery's bound task)
    # The node name (-n) identifies this worker process; the process that started it releases
    # its jobs by that prefix when it dies.
    node = self.request.hostname or socket.gethostname()
    return run_fine_tune(fine_tune_id, node, _trainer).status


@app.task(name=ANALYSIS_TASK)
def analyze_dataset_task(dataset_id: str) -> str:
    return analyze_dataset(dataset_id)


def threads_per_job(concurrency: int) -> int:
    """The cores this machine can give each of `concurrency` simultaneous jobs (at least one)."""
    return max(1, usable_cores() // max(1, concurrency))


@signals.after_setup_logger.connect
def _quiet_celery(logger=None, loglevel=None, **_kwargs) -> None:  # noqa: ANN001 (Celery signal)
    """Celery's own INFO lines (a receipt and a result per task) only with -l DEBUG; ours at the chosen level."""
    level = loglevel if isinstance(loglevel, int) else logging.INFO
    if level > logging.DEBUG:
        for name in ("celery", "kombu"):
            logging.getLogger(name).setLevel(max(level, logging.WARNING))


@signals.celeryd_init.connect
def _limit_threads(sender=None, instance=None, **_kwargs) -> None:  # noqa: ANN001 (Celery signal)
    """Share the cores among the jobs this worker runs at once.

    Runs in the worker's main process before the pool forks, so the pool processes inherit it. With
    one job at a time the engine's own defaults already stay within the cores this process may use
    (and the trainer also backs off by the load average); with N jobs each gets cores // N. A value
    the operator set explicitly wins.
    """
    concurrency = int(getattr(instance, "concurrency", None) or 1)
    if concurrency <= 1:
        return
    threads = str(threads_per_job(concurrency))
    for name in _THREAD_ENV:
        os.environ.setdefault(name, threads)
    log.info("voicesmith worker %s: %d jobs at once, %s engine thread(s) each", sender, concurrency, threads)
