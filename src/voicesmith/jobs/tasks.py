"""The worker's tasks: run a fine-tune, analyse a dataset.

A message only names the job; everything else is read from the database, and the job is claimed
there before any work starts (service/training.py), so a duplicate or late message is harmless.

Test hook: VOICESMITH_TEST_ONLY_FINE_TUNE_PIPELINE="package.module:function" swaps the trainer for a
function `(files, progress, should_cancel, workdir) -> dict`, so the tests can kill, cancel and
re-dispatch jobs without waiting for real training. It cannot fake a fine-tune: a job run through
it always ends `failed` with error_code `test_pipeline` (its dict stored as the report), never
`completed`, and produces no voices and no charge.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voicesmith.config import get_settings
from voicesmith.jobs.celery_app import ANALYSIS_TASK, FINE_TUNE_TASK, app
from voicesmith.service import checkpoints, dataset_analysis, training

log = logging.getLogger(__name__)

TEST_PIPELINE_ENV = "VOICESMITH_TEST_ONLY_FINE_TUNE_PIPELINE"
_PROGRESS_MIN_INTERVAL_S = 1.0


class NoTrainer(Exception):
    """The fine-tune engine is not installed (or does not import)."""


@dataclass(frozen=True)
class Outcome:
    status: str  # completed | failed | cancelled | lost | skipped
    detail: str = ""


def heartbeat_interval_s() -> float:
    # Several beats per timeout, so one slow database write does not make a live job look dead.
    return max(0.2, min(5.0, get_settings().heartbeat_timeout_s / 4))


def workdir_for(fine_tune_id: str) -> Path:
    """Where a fine-tune keeps its checkpoints: the same path on every attempt on this machine."""
    return get_settings().data_dir / "work" / fine_tune_id


class Watch:
    """The heartbeat thread of one running fine-tune.

    Every few seconds it proves the worker is alive and reads the user's cancel/delete flags; the
    trainer polls `should_cancel()` between steps, so a cancel stops it within seconds.
    """

    def __init__(self, fine_tune_id: str, worker_id: str) -> None:
        self.fine_tune_id = fine_tune_id
        self.worker_id = worker_id
        self.stop_requested = threading.Event()  # cancelled, deleted, or the job was lost
        self.lost = threading.Event()  # another worker owns the job now
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{fine_tune_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def should_cancel(self) -> bool:
        return self.stop_requested.is_set()

    def note(self, pulse: training.Pulse) -> None:
        if not pulse.owned:
            self.lost.set()
        if pulse.should_stop:
            self.stop_requested.set()

    def _run(self) -> None:
        interval = heartbeat_interval_s()
        while not self._done.wait(interval):
            try:
                self.note(training.heartbeat(self.fine_tune_id, self.worker_id))
            except Exception:  # noqa: BLE001 (a database hiccup: beat again next time)
                log.exception("heartbeat for %s failed", self.fine_tune_id)


class ProgressWriter:
    """Turns the trainer's progress callbacks into (throttled) database writes."""

    def __init__(self, watch: Watch) -> None:
        self._watch = watch
        self._last_write = 0.0
        self._last_stage: str | None = None

    def __call__(self, update: object) -> None:
        stage = getattr(update, "stage", None)
        progress = float(getattr(update, "progress", 0.0) or 0.0)
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_write < _PROGRESS_MIN_INTERVAL_S and progress < 1.0:
            return
        self._last_write, self._last_stage = now, stage
        try:
            owned = training.record_progress(
                self._watch.fine_tune_id,
                self._watch.worker_id,
                stage=stage,
                progress=progress,
                eta_seconds=getattr(update, "eta_seconds", None),
            )
        except Exception:  # noqa: BLE001 (progress is advisory; the heartbeat decides liveness)
            log.exception("progress write for %s failed", self._watch.fine_tune_id)
            return
        if not owned:
            self._watch.note(training.Pulse(owned=False, stop_requested=True))


def _load_test_pipeline(spec: str) -> Callable:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr or "run")


def _load_engine():  # noqa: ANN202 (the engine module)
    try:
        return importlib.import_module("voicesmith.engine.fine_tune")
    except ImportError as exc:
        raise NoTrainer(
            "No fine-tune trainer is installed on this worker (voicesmith.engine.fine_tune could not be "
            f"imported: {exc}). The fine-tune was not run and nothing was charged."
        ) from exc


def _engine_request(engine, claim: training.Claim, audio: list[dataset_analysis.AudioEntry]):  # noqa: ANN001, ANN202
    return engine.FineTuneRequest(
        files=[engine.AudioFile(path=a.path, filename=a.filename, transcript=a.transcript) for a in audio],
        language=claim.language,
        name=claim.name,
        params=claim.params,
        # The dataset report's per-file analyses, so ingest does not analyse every file again.
        analyses={a.filename: a.analysis for a in audio if a.analysis is not None},
        min_usable_s=get_settings().min_usable_speech_s,
    )


def _new_voices(result) -> list[training.NewVoice]:  # noqa: ANN001 (engine.fine_tune.FineTuneResult)
    return [
        training.NewVoice(v.name, v.description, v.artifact, v.previews[0][1] if getattr(v, "previews", None) else None)
        for v in result.voices
    ]


def _is_cancelled_error(engine, exc: BaseException) -> bool:  # noqa: ANN001
    cancelled = getattr(engine, "Cancelled", None)
    return isinstance(cancelled, type) and isinstance(exc, cancelled)


def _rejection(engine, exc: BaseException) -> tuple[str, str, dict | None] | None:  # noqa: ANN001
    rejected = getattr(engine, "DatasetRejected", None)
    if not (isinstance(rejected, type) and isinstance(exc, rejected)):
        return None
    code = getattr(exc, "reason_code", None) or "dataset_rejected"
    message = getattr(exc, "message", None) or str(exc)
    return code, message, getattr(exc, "report", None)


def run_fine_tune(fine_tune_id: str, node: str) -> Outcome:
    """Claim the fine-tune and run it to an end state (or until it is cancelled or lost)."""
    worker_id = training.new_worker_id(node)
    claim = training.claim(fine_tune_id, worker_id)
    if claim is None:
        log.info("fine-tune %s is not claimable (running elsewhere, ended or cancelled); message dropped",
                 fine_tune_id)
        return Outcome("skipped")
    log.info("fine-tune %s claimed by %s (attempt %d)", fine_tune_id, worker_id, claim.attempt)
    workdir = workdir_for(fine_tune_id)
    workdir.mkdir(parents=True, exist_ok=True)
    watch = Watch(fine_tune_id, worker_id)
    watch.start()
    try:
        # With an object store, the workdir comes from (and goes to) the blob store: another machine resumes.
        with checkpoints.synced_workdir(fine_tune_id, worker_id, workdir, lambda: not watch.lost.is_set()):
            outcome = _train(claim, watch, workdir)
    finally:
        watch.close()
    if outcome.status != "lost":
        # The job has ended: its checkpoints are of no further use. A lost job's workdir belongs
        # to the worker that took it over.
        shutil.rmtree(workdir, ignore_errors=True)
        checkpoints.discard(fine_tune_id)
    log.info("fine-tune %s: %s %s", fine_tune_id, outcome.status, outcome.detail)
    return outcome


def _end_stopped(claim: training.Claim, watch: Watch) -> Outcome:
    if watch.lost.is_set():
        return Outcome("lost", "another worker took the job over")
    training.fail(claim.fine_tune_id, "cancelled", "The fine-tune was cancelled.", worker_id=claim.worker_id)
    return Outcome("cancelled")


def _train(claim: training.Claim, watch: Watch, workdir: Path) -> Outcome:
    ft_id, worker_id = claim.fine_tune_id, claim.worker_id
    audio = dataset_analysis.dataset_audio(claim.dataset_id)
    if not audio:
        message = "The dataset has no audio files." if audio is not None else "The dataset no longer exists."
        training.fail(ft_id, "dataset_empty", message, worker_id=worker_id)
        return Outcome("failed", message)

    progress = ProgressWriter(watch)
    test_spec = os.environ.get(TEST_PIPELINE_ENV)
    if test_spec:
        return _run_test_pipeline(test_spec, claim, watch, workdir, audio, progress)

    try:
        engine = _load_engine()
    except NoTrainer as exc:
        training.fail(ft_id, "no_trainer", str(exc), worker_id=worker_id)
        return Outcome("failed", "no_trainer")

    try:
        result = engine.run_fine_tune(_engine_request(engine, claim, audio), progress, watch.should_cancel, workdir)
    except Exception as exc:  # noqa: BLE001 (every failure becomes the job's error, never a stuck job)
        if watch.should_cancel() or _is_cancelled_error(engine, exc):
            return _end_stopped(claim, watch)
        rejection = _rejection(engine, exc)
        if rejection is not None:
            code, message, report = rejection
            training.fail(ft_id, code, message, worker_id=worker_id, report=report)
            return Outcome("failed", code)
        log.exception("fine-tune %s failed", ft_id)
        training.fail(ft_id, "training_error", f"Training failed: {type(exc).__name__}: {exc}", worker_id=worker_id)
        return Outcome("failed", "training_error")

    if watch.should_cancel():
        return _end_stopped(claim, watch)
    if training.complete(ft_id, worker_id, _new_voices(result), result.report):
        return Outcome("completed")
    # complete() refused: the user cancelled at the last moment, or the job changed hands.
    watch.note(training.heartbeat(ft_id, worker_id))
    return _end_stopped(claim, watch)


def _run_test_pipeline(
    spec: str,
    claim: training.Claim,
    watch: Watch,
    workdir: Path,
    audio: list[dataset_analysis.AudioEntry],
    progress: ProgressWriter,
) -> Outcome:
    log.warning("fine-tune %s runs the TEST-ONLY pipeline %s; it will end failed/test_pipeline",
                claim.fine_tune_id, spec)
    try:
        report = _load_test_pipeline(spec)(audio, progress, watch.should_cancel, workdir)
    except Exception as exc:  # noqa: BLE001
        if watch.should_cancel():
            return _end_stopped(claim, watch)
        training.fail(claim.fine_tune_id, "training_error", f"Test pipeline failed: {exc}",
                      worker_id=claim.worker_id)
        return Outcome("failed", "training_error")
    if watch.should_cancel():
        return _end_stopped(claim, watch)
    training.fail(
        claim.fine_tune_id,
        "test_pipeline",
        f"Run by the test-only pipeline {spec}; no voices were made.",
        worker_id=claim.worker_id,
        report={"test_pipeline": spec, **(report or {})},
    )
    return Outcome("failed", "test_pipeline")


@app.task(name=FINE_TUNE_TASK, bind=True)
def run_fine_tune_task(self, fine_tune_id: str) -> str:  # noqa: ANN001 (Celery's bound task)
    # The node name (-n) identifies this worker process; the supervisor that started it releases
    # its jobs by that prefix when it dies.
    node = self.request.hostname or os.environ.get("HOSTNAME", "worker")
    return run_fine_tune(fine_tune_id, node).status


# Dataset analysis ------------------------------------------------------------------------------

def analyze_dataset(dataset_id: str) -> str:
    """Analyse every audio file that has no analysis yet, then build the dataset report.

    Loops until the report could be built over all files, so a file uploaded while this runs is
    included by this run rather than left for a second message.
    """
    try:
        from voicesmith.engine import dataset_report
    except ImportError as exc:
        dataset_analysis.fail_report(
            dataset_id, f"The dataset analyser is not installed on this worker ({exc}).", "no_analyzer"
        )
        return "failed"
    min_usable_s = get_settings().min_usable_speech_s
    for _ in range(100):  # bounded: each pass analyses what arrived meanwhile
        audio = dataset_analysis.dataset_audio(dataset_id)
        if audio is None:
            return "skipped"
        for entry in audio:
            if entry.analysis is not None:
                continue
            try:
                analysis = dataset_report.analyze_file(entry.path, entry.transcript, filename=entry.filename)
            except FileNotFoundError:
                continue  # deleted while we worked; the next pass no longer lists it
            except Exception as exc:  # noqa: BLE001 (one file the analyser chokes on is a verdict, not a dead report)
                log.exception("analysis of %s (%s) failed", entry.filename, entry.file_id)
                analysis = _analysis_failed(entry.filename, exc)
            analysis["file_id"] = entry.file_id
            dataset_analysis.store_file_analysis(dataset_id, entry.file_id, analysis)
        try:
            done = dataset_analysis.finish_report(
                dataset_id, lambda analyses: dataset_report.build_report(analyses, min_usable_s)
            )
        except Exception as exc:  # noqa: BLE001
            log.exception("dataset report for %s failed", dataset_id)
            dataset_analysis.fail_report(dataset_id, f"Building the report failed: {type(exc).__name__}: {exc}")
            return "failed"
        if done:
            return "ready"
    return "pending"


def _analysis_failed(filename: str, exc: Exception) -> dict:
    """A rejected verdict in analyze_file's shape, for a file the analyser raised on."""
    message = f"{filename} could not be analysed ({type(exc).__name__}: {exc})."
    return {
        "filename": filename,
        "verdict": "rejected",
        "reasons": [{"code": "analysis_failed", "severity": "reject", "message": message}],
        "duration_seconds": 0.0,
        "speech_seconds": 0.0,
        "usable_seconds": 0.0,
    }


@app.task(name=ANALYSIS_TASK)
def analyze_dataset_task(dataset_id: str) -> str:
    return analyze_dataset(dataset_id)
