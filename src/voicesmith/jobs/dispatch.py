"""Sending jobs to the workers. Called by the service layer after its transaction has committed.

A send that fails (broker down, full disk) is logged, not raised: the job's row is already committed,
and the supervisor's sweep sends any fine-tune that no worker picked up. The request that created the
job must not fail because the doorbell did not ring.
"""

from __future__ import annotations

import logging

from voicesmith.jobs.celery_app import ANALYSIS_QUEUE, ANALYSIS_TASK, FINE_TUNE_QUEUE, FINE_TUNE_TASK, sending_app

log = logging.getLogger(__name__)

# Give up quickly: the caller is usually an HTTP request, and the sweep retries fine-tunes later.
_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.5, "interval_max": 1.0}


def _send(task: str, queue: str, object_id: str) -> bool:
    try:
        sending_app().send_task(task, args=[object_id], queue=queue, retry=True, retry_policy=_RETRY_POLICY)
    except Exception:  # noqa: BLE001 (any broker failure: logged, and the sweep covers it)
        log.exception("could not send %s for %s to the broker", task, object_id)
        return False
    return True


def send_fine_tune(fine_tune_id: str) -> bool:
    """Send the message only (the caller has already recorded dispatched_at)."""
    return _send(FINE_TUNE_TASK, FINE_TUNE_QUEUE, fine_tune_id)


def enqueue_fine_tune(fine_tune_id: str) -> None:
    """Ask a worker to run this fine-tune (its row must be committed, status created)."""
    from voicesmith.service.training import mark_dispatched

    # Recorded before the send, so a sweeper never re-sends a job whose first message is in flight.
    mark_dispatched(fine_tune_id)
    send_fine_tune(fine_tune_id)


def enqueue_dataset_analysis(dataset_id: str) -> None:
    """Ask a worker to analyse the dataset's files that have no analysis yet and rebuild its report."""
    _send(ANALYSIS_TASK, ANALYSIS_QUEUE, dataset_id)
