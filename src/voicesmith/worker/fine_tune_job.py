"""A fine-tune job's life in the worker: claim it, beat its heartbeat, run the trainer, settle it.

A message only names the job; everything else is read from the database, and the job is claimed
there before any work starts (service/training.py), so a duplicate or late message is harmless.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from voicesmith.config import get_settings
from voicesmith.service import checkpoints, dataset_analysis, estimates, training
from voicesmith.service.errors import in_words
from voicesmith.worker.trainer import (AudioFile, Cancelled, DatasetRejected, FineTuneRequest, FineTuneResult,
                                      ProgressUpdate, Trainer)

log = logging.getLogger(__name__)

_PROGRESS_MIN_INTERVAL_S = 1.0


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

    def __call__(self, update: ProgressUpdate) -> None:
        stage, progress = update.stage, float(update.progress)
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
                eta_seconds=update.eta_seconds,
            )
        except Exception:  # noqa: BLE001 (progress is advisory; the heartbeat decides liveness)
            log.exception("progress write for %s failed", self._watch.fine_tune_id)
            return
        if not owned:
            self._watch.note(training.Pulse(owned=False, stop_requested=True))


def _engine_request(claim: training.Claim, audio: list[dataset_analysis.AudioEntry]) -> FineTuneRequest:
    return FineTuneRequest(
        files=[AudioFile(path=a.path, filename=a.filename, transcript=a.transcript) for a in audio],
        language=claim.language,
        name=claim.name,
        params=claim.params,
        # The dataset report's per-file analyses, so ingest does not analyse every file again.
        analyses={a.filename: a.analysis for a in audio if a.analysis is not None},
        min_usable_s=get_settings().min_usable_speech_s,
        pace=estimates.server_pace().per_stage,
    )


def _new_voices(result: FineTuneResult) -> list[training.NewVoice]:
    return [training.NewVoice(v.name, v.description, v.artifact, v.previews[0][1] if v.previews else None,
                              tuple(wav for _, wav in v.previews)) for v in result.voices]


def _held_out_samples(result: FineTuneResult) -> list[training.HeldOutSample]:
    # The voices' previews say the same held-out sentences as these real recordings, in the same order.
    return [training.HeldOutSample(text, wav) for text, wav in result.real_samples]


def run_fine_tune(fine_tune_id: str, node: str, trainer: Trainer) -> Outcome:
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
            outcome = _train(claim, watch, workdir, trainer)
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


def _train(claim: training.Claim, watch: Watch, workdir: Path, trainer: Trainer) -> Outcome:
    ft_id, worker_id = claim.fine_tune_id, claim.worker_id
    audio = dataset_analysis.dataset_audio(claim.dataset_id)
    if not audio:
        message = "The dataset has no audio files." if audio is not None else "The dataset no longer exists."
        training.fail(ft_id, "dataset_empty", message, worker_id=worker_id)
        return Outcome("failed", message)

    try:
        result = trainer(_engine_request(claim, audio), ProgressWriter(watch), watch.should_cancel, workdir)
    except Cancelled:
        return _end_stopped(claim, watch)
    except DatasetRejected as exc:
        if watch.should_cancel():
            return _end_stopped(claim, watch)
        training.fail(ft_id, exc.reason_code, exc.message, worker_id=worker_id, report=exc.report)
        return Outcome("failed", exc.reason_code)
    except Exception as exc:  # noqa: BLE001 (every failure becomes the job's error, never a stuck job)
        if watch.should_cancel():
            return _end_stopped(claim, watch)
        log.exception("fine-tune %s failed", ft_id)
        training.fail(ft_id, "training_error", f"Training failed: {in_words(exc)}.", worker_id=worker_id)
        return Outcome("failed", "training_error")

    if watch.should_cancel():
        return _end_stopped(claim, watch)
    if training.complete(ft_id, worker_id, _new_voices(result), result.report, _held_out_samples(result)):
        return Outcome("completed")
    # complete() refused: the user cancelled at the last moment, or the job changed hands.
    watch.note(training.heartbeat(ft_id, worker_id))
    return _end_stopped(claim, watch)
