"""Speaking many short sentences in a candidate voice, in parallel, for adaptation and evaluation.

Adaptation calls the synthesizer thousands of times on short training sentences, so the pieces
that do not depend on the voice are done once (phonemes are cached by the caller as strings) and
the calls run in a thread pool sized to the cores that are actually free: onnxruntime releases the
GIL, so N threads give N cores of work. The model session is single-threaded per call for the same
reason (one session thread per caller thread avoids oversubscribing a shared machine).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from voicesmith.engine.settings import train_threads, usable_cores
from voicesmith.engine.synthesis import Synthesizer
from voicesmith.engine.voice import STYLE_ROWS

R = TypeVar("R")


class Cancelled(Exception):
    """The caller asked to stop (a fine-tune was cancelled); raised between syntheses."""


def free_cores() -> int:
    """Cores this process may use that other processes are not busy with (at least 1).

    VOICESMITH_TRAIN_THREADS overrides. Otherwise: the affinity mask minus the cores that other
    processes kept busy over the last half second (/proc/stat less this process's own time). Not the
    load average: it still counts this job's own ingest and transcription from the minute before,
    and on an idle 2-core machine that halved the search's parallelism."""
    fixed = train_threads()
    if fixed:
        return fixed
    meter = CpuMeter()
    time.sleep(0.5)
    others = meter.others_busy()
    if others is None:
        try:
            others = os.getloadavg()[0]
        except OSError:
            others = 0.0
    return _cores_left(usable_cores(), others)


def _cores_left(cores: int, others_busy: float) -> int:
    return max(1, min(cores, int(round(cores - others_busy))))


class CpuMeter:
    """Cores' worth of CPU that *other* processes used since the previous reading: machine-wide busy
    time from /proc/stat less this process's own (/proc/self/stat), so a search never counts its
    own syntheses as load. Readings need no sleep: each covers the time since the one before."""

    _MIN_WINDOW_S = 0.2

    def __init__(self, read: Callable[[], tuple[int, int, int, float] | None] | None = None,
                 cpus: int | None = None) -> None:
        """`read`: (all ticks, idle ticks, this process's ticks, monotonic time); /proc by default."""
        self._read = read or self.read_proc
        self._cpus = cpus or os.cpu_count() or 1
        self._last = self._read()

    @staticmethod
    def read_proc() -> tuple[int, int, int, float] | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        # utime, stime, cutime, cstime: fields 14-17 of the file, 12-15 after the ") " split.
        own_ticks = sum(int(x) for x in own[11:15])
        return sum(fields), idle, own_ticks, time.monotonic()

    def others_busy(self) -> float | None:
        """None when /proc is unreadable or too little time has passed to tell."""
        now, last = self._read(), self._last
        if now is None or last is None:
            return None
        if now[3] - last[3] < self._MIN_WINDOW_S or now[0] <= last[0]:
            return None
        self._last = now
        total, idle, own = now[0] - last[0], now[1] - last[1], now[2] - last[2]
        return max(0.0, self._cpus * (total - idle - own) / total)


_training_synth: dict[int, Synthesizer] = {}
_training_lock = threading.Lock()


def training_synthesizer() -> Synthesizer:
    """A synthesizer whose model session uses one thread per call (parallelism comes from callers)."""
    from voicesmith.engine.kokoro import runtime
    from voicesmith.engine.kokoro.onnx import KokoroOnnx

    with _training_lock:
        if 1 not in _training_synth:
            _training_synth[1] = Synthesizer(KokoroOnnx(threads=1, backend=runtime.open_render_backend(1)))
        return _training_synth[1]


def style_row(style: np.ndarray, n_tokens: int) -> np.ndarray:
    row = min(max(n_tokens - 1, 0), STYLE_ROWS - 1)
    return style[row : row + 1]


class Renderer:
    """Synthesises phoneme strings in a style with a pool of worker threads.

    `workers` fixes the parallelism (as does VOICESMITH_TRAIN_THREADS). Without it, every `speak_many`
    runs as many clips at once as there are cores other processes left free since the previous call:
    a fine-tune that started while the API was busy speaking does not stay on one core for the rest of
    its search, and one started on an idle machine yields cores when TTS requests arrive."""

    def __init__(self, synthesizer: Synthesizer | None = None, workers: int | None = None) -> None:
        self.synthesizer = synthesizer or training_synthesizer()
        self._fixed = workers or train_threads()
        self._cores = self._fixed or usable_cores()
        self._meter = None if self._fixed else CpuMeter()
        self.workers = self._fixed or free_cores()
        self.sample_rate = self.synthesizer.sample_rate
        self._pool = ThreadPoolExecutor(self._cores, thread_name_prefix="render")

    def _adjust_workers(self) -> None:
        if self._meter is not None:
            others = self._meter.others_busy()
            if others is not None:
                self.workers = _cores_left(self._cores, others)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def speak(self, style: np.ndarray, phonemes: str, speed: float = 1.0, pitch_scale: float = 1.0,
              adapter: dict[str, np.ndarray] | None = None) -> np.ndarray:
        n_tokens = len(self.synthesizer.model.tokenize(phonemes))
        audio, _ = self.synthesizer.synthesize_phonemes(phonemes, style_row(style, n_tokens), speed, pitch_scale,
                                                        adapter)
        # A style far off the map can make the decoder blow up; measure that as the noise it is
        # rather than let inf/NaN reach the embedder and the recogniser.
        return np.clip(np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)

    def speak_many(
        self,
        jobs: Sequence[tuple],
        post: Callable[[np.ndarray], R] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list:
        """Speak (style, phonemes, speed, pitch_scale[, adapter]) jobs in parallel; `post` runs on each clip in
        the same worker (e.g. resample + embed), so the post-processing is parallel too.

        `should_cancel` is checked before every synthesis, so a cancel lands within one clip's time;
        the jobs not yet started are then skipped and `Cancelled` is raised. `on_progress(done, total)`
        is called in the caller's thread as clips finish (in job order), so it may raise."""
        stop = threading.Event()
        self._adjust_workers()
        gate = threading.Semaphore(self.workers)

        def one(job: tuple):
            with gate:
                if stop.is_set() or (should_cancel is not None and should_cancel()):
                    stop.set()
                    return None
                clip = self.speak(*job)
                return post(clip) if post is not None else clip

        futures = [self._pool.submit(one, job) for job in jobs]
        results = []
        try:
            for done, future in enumerate(futures, 1):
                results.append(future.result())
                if on_progress is not None and not stop.is_set():
                    on_progress(done, len(jobs))
        except BaseException:
            stop.set()  # the queued jobs return at once; the running ones finish their clip
            raise
        if stop.is_set():
            raise Cancelled()
        return results
