"""The broker: the Celery application, its queues and task names, and sending a task by name.

The service layer sends work through here (service/background.py); the worker (voicesmith/worker/)
registers the tasks on `app` and consumes them. Neither side imports the other: a message is a task
name and one id.

Broker: `settings.broker_url`. The embedded default is kombu's SQLAlchemy transport on a SQLite file
in the data directory (`sqla+sqlite:///<data>/broker.db`), which needs no server; scale-out sets
`VOICESMITH_BROKER_URL=redis://...`. There is no result backend: the database is the job's truth
(status, progress, heartbeat), and the broker is only a doorbell that says "look at job X".

Pool: prefork, not solo. Each job runs in a pool process, so a native crash or an out-of-memory kill
in the speech models takes down that process, not the worker that talks to the broker; the worker
notices, starts a fresh pool process and keeps consuming. The memory a job's models held goes back to
the OS when a pool process grows past worker_max_memory_per_child and is replaced. Solo would run the
job inside the consuming process: one crash kills the whole worker, and a 15-minute job blocks the
broker connection (Redis visibility timeouts, warm shutdown) for its whole length. The cost of
prefork is one extra process per worker, nothing else. `voicesmith serve` runs one fine-tune at a
time (concurrency 1): a fine-tune already uses every core, two at once would each take twice as long.

Fine-tunes are long and CPU-bound, so a worker reserves one message at a time per pool process
(prefetch 1) and acknowledges it only when the job has ended (acks_late, reject_on_worker_lost).
That makes Redis hand a dead worker's message to another worker; kombu's SQLite transport does not
(a message taken by a SIGKILLed worker stays invisible forever, measured), which is why liveness
comes from the database heartbeat and the sweep in supervisor.py, on every broker. Duplicate delivery
is harmless because a job is claimed in the database before it runs (service/training.py).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from celery import Celery

from voicesmith.config import get_settings

log = logging.getLogger(__name__)

FINE_TUNE_QUEUE = "voicesmith.fine_tune"
ANALYSIS_QUEUE = "voicesmith.analysis"
FINE_TUNE_TASK = "voicesmith.run_fine_tune"
ANALYSIS_TASK = "voicesmith.analyze_dataset"
QUEUE_OF = {FINE_TUNE_TASK: FINE_TUNE_QUEUE, ANALYSIS_TASK: ANALYSIS_QUEUE}

# Give up quickly: the caller is usually an HTTP request, and the supervisor's sweep re-sends fine-tunes.
_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.0, "interval_step": 0.5, "interval_max": 1.0}


def is_sqlite_broker(url: str) -> bool:
    return url.startswith("sqla+sqlite:")


def _prepare_sqlite_broker(url: str) -> dict:
    """Create the broker file in WAL mode and return the transport options it needs.

    WAL is a property of the file, so setting it once here applies to every process that opens it
    later: readers no longer block the one writer, and the API can enqueue while workers poll.
    """
    path = url.split("///", 1)[-1]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    # Passed through to SQLAlchemy's create_engine (the transport forwards every option it does not
    # know, which is also why `polling_interval` cannot be set here: create_engine rejects it).
    return {"connect_args": {"timeout": 30, "check_same_thread": False}}


def make_app() -> Celery:
    settings = get_settings()
    broker = settings.broker_url
    transport_options: dict = {}
    if is_sqlite_broker(broker):
        transport_options = _prepare_sqlite_broker(broker)
    elif broker.startswith(("redis://", "rediss://")):
        # A message not acknowledged within this time is handed to another worker. Fine-tunes can run
        # for hours on big datasets; the claim in the database makes the extra delivery harmless,
        # and a long timeout keeps it rare.
        transport_options = {"visibility_timeout": 6 * 3600}

    app = Celery("voicesmith", broker=broker)
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_routes={task: {"queue": queue} for task, queue in QUEUE_OF.items()},
        task_default_queue=FINE_TUNE_QUEUE,
        task_serializer="json",
        accept_content=["json"],
        # A pool process that grew past this (KiB) after a job is replaced by a fresh one.
        worker_max_memory_per_child=settings.worker_max_memory_kb,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        # Celery would otherwise cancel long jobs it cannot re-deliver on connection loss; the
        # database claim decides who runs a job, so let the running one finish.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # How long a worker whose pool process died waits for a result that process might still have
        # sent before it frees the slot. We have no results, and the default (10 s) keeps the slot,
        # and so the re-dispatched job, waiting for nothing.
        worker_lost_wait=1.0,
        enable_utc=True,
    )
    return app


app = make_app()
_senders: dict[str, Celery] = {}


def sending_app() -> Celery:
    """The app to send with: `app`, unless the settings now name another broker (tests switch data
    directories within one process), then an app made for that broker."""
    url = get_settings().broker_url
    if app.conf.broker_url == url:
        return app
    if url not in _senders:
        _senders[url] = make_app()
    return _senders[url]


def declare_queues() -> None:
    """Create the queues before worker processes start, on the SQLite broker (a file this process can always
    open). Its transport creates its tables when a queue is first declared: two workers starting together on a
    new data directory would both create them, and the loser logs a lost broker connection and a Celery
    deprecation warning before it reconnects. Redis needs nothing created."""
    celery_app = sending_app()
    if not is_sqlite_broker(celery_app.conf.broker_url):
        return
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in (FINE_TUNE_QUEUE, ANALYSIS_QUEUE):
            channel.queue_declare(queue=queue)


def send(task: str, object_id: str) -> bool:
    """Send `task` for one object to its queue; False (logged, never raised) when the broker fails.

    The job's row is already committed when this is called, and the sweep sends any fine-tune that no
    worker picked up: the request that created the job must not fail because the doorbell did not ring.
    """
    try:
        sending_app().send_task(task, args=[object_id], queue=QUEUE_OF[task], retry=True,
                                retry_policy=_RETRY_POLICY)
    except Exception:  # noqa: BLE001 (any broker failure: logged, and the sweep covers it)
        log.exception("could not send %s for %s to the broker", task, object_id)
        return False
    return True
