"""Hand work to the job system after a commit: the broker is only a doorbell.

The database is the job's truth. A fine-tune is marked dispatched before its message is sent, so the
supervisor's sweep (worker/supervisor.py) never re-sends a job whose first message is in flight, and
re-sends any whose message was lost. A broker error is logged (broker.send) and never fails the user's
request.
"""

from __future__ import annotations

from voicesmith import broker
from voicesmith.service import training


def send_fine_tune(fine_tune_id: str) -> bool:
    """Send the message only (the caller has already recorded dispatched_at)."""
    return broker.send(broker.FINE_TUNE_TASK, fine_tune_id)


def enqueue_fine_tune(fine_tune_id: str) -> bool:
    """Ask a worker to run this fine-tune (its row must be committed, status created)."""
    training.mark_dispatched(fine_tune_id)
    return send_fine_tune(fine_tune_id)


def enqueue_dataset_analysis(dataset_id: str) -> bool:
    """Ask a worker to analyse the dataset's files that have no analysis yet and rebuild its report."""
    return broker.send(broker.ANALYSIS_TASK, dataset_id)
