"""The processes behind `voicesmith serve` and `voicesmith worker`: the API server and the job workers.

serve:  migrate, make the first API key, start the embedded worker processes, the job supervisor
        thread, and uvicorn in this process.
worker: the worker processes and the supervisor only (scale-out, with a shared database and broker).

Each Celery worker is a child process in its own process group, started with PDEATHSIG, so it dies
with this process however this process ends (even SIGKILL); Celery's pool processes die with their
worker the same way. A worker that exits unexpectedly is restarted. On SIGTERM/SIGINT the workers
are stopped (the running job is interrupted, not awaited: its state is in the database and its
checkpoints on disk) and their jobs are released for immediate re-dispatch at the next start.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import uvicorn

from voicesmith import admin
from voicesmith.broker import ANALYSIS_QUEUE, FINE_TUNE_QUEUE, declare_queues
from voicesmith.client import credentials
from voicesmith.config import get_settings
from voicesmith.service.synthesis import cancel_warm_up
from voicesmith.service.training import release_worker_jobs
from voicesmith.store.db import migrate
from voicesmith.worker.supervisor import Supervisor

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_STOP_GRACE_S = 3.0
# The embedded worker yields the CPU to the API server's speech synthesis when both are busy.
_EMBEDDED_NICE = 5
_RESTART_BACKOFF_MAX_S = 60.0
_STABLE_AFTER_S = 300.0


@dataclass(frozen=True)
class WorkerSpec:
    """One Celery worker process: which queues it consumes, how many jobs at once."""

    role: str  # fine_tune | analysis
    queues: str
    concurrency: int
    nice: int = 0


class _Shutdown(BaseException):
    """Raised by our SIGTERM handler: unwinds serve()/worker() through their cleanup."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Shutdown()


def _libc_prctl():  # noqa: ANN202 (ctypes function or None)
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


class WorkerProcess:
    """A Celery worker child that is restarted if it dies, until stop()."""

    def __init__(self, spec: WorkerSpec, log_level: str) -> None:
        self.spec = spec
        self.log_level = log_level
        self.node = ""
        self.proc: subprocess.Popen | None = None
        self._started_at = 0.0
        self._backoff = 1.0
        self.restart_at = 0.0  # monotonic time before which a dead worker is not restarted

    def _command(self) -> list[str]:
        return [
            # --quiet: no banner; `voicesmith serve` prints its own short one.
            sys.executable, "-m", "celery", "--quiet", "-A", get_settings().worker_app, "worker",
            "-Q", self.spec.queues,
            "-c", str(self.spec.concurrency),
            "-P", "prefork",
            "-n", self.node,
            "-l", self.log_level,
            # Gossip, mingle and Celery's event heartbeats are for monitoring tools; the database
            # heartbeat is what voicesmith relies on, and on the SQLite broker they are polling cost.
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]

    def spawn(self) -> None:
        # A fresh node name per start: a dead worker's jobs are released by exactly its name.
        self.node = f"{self.spec.role}-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        prctl, parent, nice = _libc_prctl(), os.getpid(), self.spec.nice

        def child_setup() -> None:  # runs in the child between fork and exec: no imports, no locks
            if prctl is not None:
                prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before PDEATHSIG was armed
                os._exit(1)
            if nice:
                os.nice(nice)

        # Celery prints its banner on stdout; keep stdout for what serve itself says (the first key).
        self.proc = subprocess.Popen(self._command(), stdout=sys.stderr.fileno(), start_new_session=True,
                                     preexec_fn=child_setup)
        self._started_at = time.monotonic()
        log.info("started %s worker %s (pid %d, %d job(s) at once)", self.spec.role, self.node, self.proc.pid,
                 self.spec.concurrency)

    def poll_and_restart(self) -> None:
        """If the worker died on its own, release its jobs and schedule a restart (with backoff)."""
        if self.proc is None or self.proc.poll() is None:
            return
        code = self.proc.returncode
        self._kill_group()
        self._release_jobs(refund_attempt=False)
        lived = time.monotonic() - self._started_at
        self._backoff = 1.0 if lived > _STABLE_AFTER_S else min(_RESTART_BACKOFF_MAX_S, self._backoff * 2)
        log.warning("%s worker %s exited with %s after %.0f s; restarting in %.0f s",
                    self.spec.role, self.node, code, lived, self._backoff)
        self.proc = None
        self.restart_at = time.monotonic() + self._backoff

    def begin_stop(self) -> None:
        """Ask the worker to stop: SIGTERM to its whole group. The Celery worker stops consuming, and
        its pool processes (Celery resets their SIGTERM to the default) stop at once instead of
        finishing a long job: the job's state is in the database and its checkpoints on disk."""
        if self.proc is not None and self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)

    def finish_stop(self, deadline: float) -> None:
        """Wait for the worker until `deadline` (monotonic), kill what is left, release its jobs."""
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.info("%s worker %s still shutting down; killing it", self.spec.role, self.node)
        self._kill_group()
        self.proc.wait()
        self._release_jobs(refund_attempt=True)
        self.proc = None

    def _signal_group(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)  # start_new_session: the group id is the worker's pid
        except ProcessLookupError:
            pass

    def _kill_group(self) -> None:
        # Anything left in the group (a pool process mid-job) goes too; the job's state is in the DB.
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)

    def _release_jobs(self, *, refund_attempt: bool) -> None:
        if self.spec.role != "fine_tune":
            return
        try:
            released = release_worker_jobs(self.node, refund_attempt=refund_attempt)
        except Exception:  # noqa: BLE001 (then the heartbeat timeout does it)
            log.exception("could not release the jobs of %s", self.node)
            return
        if released:
            log.info("released %d fine-tune(s) of %s for re-dispatch", released, self.node)


class WorkerGroup:
    """The worker processes of this machine, watched by one long-lived thread.

    All children are spawned from that thread: PDEATHSIG fires when the spawning *thread* exits,
    so it must live as long as the children should.
    """

    def __init__(self, specs: list[WorkerSpec], log_level: str) -> None:
        self.workers = [WorkerProcess(spec, log_level) for spec in specs]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicesmith-workers", daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=30)

    @staticmethod
    def _spawn(worker: WorkerProcess) -> None:
        try:
            worker.spawn()
        except OSError:
            log.exception("could not start the %s worker; retrying", worker.spec.role)
            worker.proc, worker.restart_at = None, time.monotonic() + _RESTART_BACKOFF_MAX_S / 4

    def _run(self) -> None:
        try:
            for worker in self.workers:
                self._spawn(worker)
        finally:
            self._ready.set()
        while not self._stop.wait(1.0):
            for worker in self.workers:
                if self._stop.is_set():
                    break
                if worker.proc is None:
                    if time.monotonic() >= worker.restart_at:
                        self._spawn(worker)
                else:
                    worker.poll_and_restart()
        # All at once: Celery's warm shutdown of an idle worker takes several seconds of polling
        # cadence, and nothing is gained by waiting for it longer than the grace period.
        for worker in self.workers:
            worker.begin_stop()
        deadline = time.monotonic() + _STOP_GRACE_S
        for worker in self.workers:
            worker.finish_stop(deadline)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=_STOP_GRACE_S + 30)


def worker_specs(concurrency: int, *, nice: int = 0) -> list[WorkerSpec]:
    """A fine-tune worker (concurrency jobs at once) and a dataset-analysis worker.

    Analysis has its own process and queue so a dataset report is never stuck behind a fine-tune
    that runs for many minutes (the OS shares the cores when both are busy, which is rare and short).
    """
    return [
        WorkerSpec("fine_tune", FINE_TUNE_QUEUE, max(1, concurrency), nice),
        WorkerSpec("analysis", ANALYSIS_QUEUE, 1, nice),
    ]


# Libraries whose INFO lines are chatter to an operator (migration plugins, Celery's task receipts, one
# access-log line per poll): shown only with --log-level debug.
_CHATTY = ("alembic", "celery", "kombu", "uvicorn.access", "uvicorn.error", "httpx", "faster_whisper",
           "multipart", "sqlalchemy")


def configure_logging(level: str) -> None:
    """voicesmith's own messages at `level`; the libraries' at warning unless `level` is debug."""
    numeric = getattr(logging, level.upper())
    if not logging.getLogger().handlers:
        logging.basicConfig(level=numeric, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(numeric)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING))


@dataclass(frozen=True)
class KeyNotice:
    """Where the operator finds the API key: printed once when it was just created, saved for the CLI."""

    created: bool
    saved_to: str | None


def _announce_key(host: str, port: int) -> KeyNotice:
    key = admin.ensure_bootstrap_key()
    base_url = f"http://{host}:{port}"
    if not key:
        saved = credentials.credentials_path()
        return KeyNotice(False, str(saved) if credentials.load(base_url) else None)
    try:
        path = credentials.save(base_url, key)
        where, saved_to = f"saved to {path} for {base_url}", str(path)
    except OSError:
        where, saved_to = "could not be saved to your config folder; copy it now", None
    # stdout, once: this is the only time the secret is shown.
    print(f"voicesmith: created the first API key (shown once; {where}):", flush=True)
    print(key, flush=True)
    return KeyNotice(True, saved_to)


def banner(host: str, port: int, key: KeyNotice) -> str:
    """What `serve` prints once it answers: where the studio, the API docs and the key are."""
    shown = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host
    base = f"http://{shown}:{port}"
    if key.created:
        key_line = "printed above, once" + (f"; saved in {key.saved_to}" if key.saved_to else "")
    elif key.saved_to:
        key_line = f"saved in {key.saved_to} (the `voicesmith` command uses it)"
    else:
        key_line = "create one with `voicesmith keys create` (the first one was printed when this data folder was new)"
    return "\n".join([
        f"voicesmith is ready on {base}",
        f"  studio:   {base}/studio/",
        f"  API docs: {base}/docs",
        f"  API key:  {key_line}",
        "  stop with Ctrl-C",
    ])


def _run_until_signal(main: Callable[[], None], cleanup: Callable[[], None]) -> None:
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        main()
    except (KeyboardInterrupt, _Shutdown):
        pass
    finally:
        # A second signal during cleanup must not cut it short and orphan the workers.
        log.info("shutting down")
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cleanup()
            log.info("stopped")
        finally:
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _api_server(host: str, port: int, log_level: str, on_ready: Callable[[], None]) -> uvicorn.Server:
    """uvicorn for the API, which also cuts the speech-engine warm-up short when told to stop.

    uvicorn serves only once the app's start-up (which loads the speech engine) has returned, and it holds a
    SIGINT/SIGTERM until then: without this, stopping a starting server waits for the whole warm-up.
    """
    class ApiServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                on_ready()

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            cancel_warm_up()
            super().handle_exit(sig, frame)
            if not self.started:
                # A second Ctrl-C while starting would make uvicorn skip the app's shutdown (and log a
                # traceback); there are no connections yet for a forced exit to drop.
                self.force_exit = False

    # log_config=None: uvicorn logs through the configuration configure_logging() set up.
    return ApiServer(uvicorn.Config("voicesmith.api.app:create_app", factory=True, host=host, port=port,
                                    log_config=None, access_log=log_level == "debug"))


def serve(host: str, port: int, with_worker: bool, log_level: str = "info") -> None:
    """The API server, plus the embedded worker unless with_worker is False."""
    configure_logging(log_level)
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    workers = WorkerGroup(worker_specs(1, nice=_EMBEDDED_NICE), log_level) if with_worker else None
    supervisor = Supervisor()

    def main() -> None:
        migrate()
        key = _announce_key(host, port)
        if workers is not None:
            declare_queues()
            workers.start()
        supervisor.start()
        # uvicorn handles SIGINT/SIGTERM itself for a graceful HTTP shutdown, then re-raises the
        # signal, which lands in our handler and unwinds into cleanup().
        _api_server(host, port, log_level, lambda: print(banner(host, port, key), flush=True)).run()

    def cleanup() -> None:
        supervisor.stop()
        if workers is not None:
            workers.stop()

    _run_until_signal(main, cleanup)


def worker(concurrency: int, log_level: str = "info") -> None:
    """A standalone worker: fine-tune and analysis worker processes plus the supervisor."""
    configure_logging(log_level)
    get_settings().data_dir.mkdir(parents=True, exist_ok=True)
    workers = WorkerGroup(worker_specs(concurrency), log_level)
    supervisor = Supervisor()

    def main() -> None:
        migrate()
        declare_queues()
        workers.start()
        supervisor.start()
        while True:
            time.sleep(3600)  # until SIGTERM/SIGINT raises out of it

    def cleanup() -> None:
        supervisor.stop()
        workers.stop()

    _run_until_signal(main, cleanup)
