"""Hand work to the job system after a commit.

The jobs package may be absent (API-only installs, early development): then the work simply waits
in the database, which is the job's truth, and the jobs supervisor picks it up when it runs.
A broker error is logged and never fails the user's request for the same reason.
"""

from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)


def _call(func_name: str, object_id: str) -> bool:
    try:
        dispatch = importlib.import_module("voicesmith.jobs.dispatch")
    except ImportError as exc:
        if exc.name and not "voicesmith.jobs.dispatch".startswith(exc.name):
            log.exception("voicesmith.jobs.dispatch failed to import")
        else:
            log.info("no job dispatcher installed; %s(%s) left in the database", func_name, object_id)
        return False
    func = getattr(dispatch, func_name, None)
    if func is None:
        log.info("voicesmith.jobs.dispatch has no %s; %s left in the database", func_name, object_id)
        return False
    try:
        func(object_id)
    except Exception:
        log.exception("%s(%s) failed; the job stays queued in the database", func_name, object_id)
        return False
    return True


def enqueue_fine_tune(fine_tune_id: str) -> bool:
    return _call("enqueue_fine_tune", fine_tune_id)


def enqueue_dataset_analysis(dataset_id: str) -> bool:
    return _call("enqueue_dataset_analysis", dataset_id)
