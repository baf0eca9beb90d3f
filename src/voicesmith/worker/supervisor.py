"""The periodic sweep that keeps jobs alive whatever happens to workers and messages.

Brokers lose messages in ways acks_late cannot fix: with kombu's SQLAlchemy transport on SQLite a
message taken by a worker that is then SIGKILLed stays invisible forever, and any broker loses the
job of a machine that vanished. The sweep does not trust the broker: it reads the database and
sends again every fine-tune that nobody is running (never picked up, or its heartbeat went stale),
and every dataset whose analysis stalled. `voicesmith serve` and every `voicesmith worker` run one;
the compare-and-set in service/training.py makes sure only one of them sends a given job.
"""

from __future__ import annotations

import logging
import random
import threading

from voicesmith.config import get_settings
from voicesmith.service import background, dataset_analysis, training

log = logging.getLogger(__name__)


def sweep_interval_s() -> float:
    return max(0.5, min(10.0, get_settings().heartbeat_timeout_s / 3))


def analysis_stale_after_s() -> float:
    # Analysing one long file can take minutes without a visible write; be patient before re-sending.
    return max(60.0, 10 * get_settings().heartbeat_timeout_s)


def sweep_once() -> training.SweepResult:
    result = training.sweep()
    for fine_tune_id in result.failed:
        log.warning("fine-tune %s ended by the sweep (cancelled while unattended, or out of attempts)",
                    fine_tune_id)
    for fine_tune_id in result.dispatch:
        log.info("fine-tune %s has no live worker: dispatching it again", fine_tune_id)
        background.send_fine_tune(fine_tune_id)
    for dataset_id in dataset_analysis.sweep_pending(analysis_stale_after_s()):
        log.info("dataset %s analysis stalled: dispatching it again", dataset_id)
        background.enqueue_dataset_analysis(dataset_id)
    return result


class Supervisor:
    """Runs sweep_once() every few seconds on a daemon thread until stop()."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicesmith-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = sweep_interval_s()
        # The first sweep runs at once: jobs released by the previous shutdown are sent right away.
        # Jitter, so the sweepers of several processes do not all wake in the same instant.
        while True:
            try:
                sweep_once()
            except Exception:  # noqa: BLE001 (database briefly unavailable: try again next round)
                log.exception("job sweep failed")
            if self._stop.wait(interval * random.uniform(0.8, 1.2)):
                return
