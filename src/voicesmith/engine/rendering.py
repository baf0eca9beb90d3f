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

from voicesmith.engine.synthesis import Synthesizer
from voicesmith.engine.voice import STYLE_ROWS

R = TypeVar("R")


class Cancelled(Exception):
    """The caller asked to stop (a fine-tune was cancelled); raised between syntheses."""


def free_cores() -> int:
    """Cores this process may use that other processes are not busy with (at least 1).

    VOICESMITH_TRAIN_THREADS overrides. Otherwise: the affinity mask minus the cores that were busy
    over the last half second (/proc/stat). Not the load average: it still counts this job's own
    ingest and transcription from the minute before, and on an idle 2-core machine that halved the
    search's parallelism."""
    raw = os.environ.get("VOICESMITH_TRAIN_THREADS")
    if raw:
        return max(1, int(raw))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    busy = _busy_cores()
    return max(1, min(cores, int(round(cores - busy))))


def _busy_cores(window_s: float = 0.5) -> float:
    """Cores' worth of CPU time used by anything over `window_s` (machine-wide), from /proc/stat;
    the 1-minute load average where /proc is not available."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(window_s)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0
    elapsed = total1 - total0
    if elapsed <= 0:
        return 0.0
    return (os.cpu_count() or 1) * (1.0 - (idle1 - idle0) / elapsed)


_training_synth: dict[int, Synthesizer] = {}
_training_lock = threading.Lock()


def training_synthesizer() -> Synthesizer:
    """A synthesizer whose model session uses one thread per call (parallelism comes from callers)."""
    from voicesmith.engine.kokoro.onnx import KokoroOnnx

    with _training_lock:
        if 1 not in _training_synth:
            _training_synth[1] = Synthesizer(KokoroOnnx(threads=1))
        return _training_synth[1]


def style_row(style: np.ndarray, n_tokens: int) -> np.ndarray:
    row = min(max(n_tokens - 1, 0), STYLE_ROWS - 1)
    return style[row : row + 1]


class Renderer:
    """Synthesises phoneme strings in a style with a pool of worker threads."""

    def __init__(self, synthesizer: Synthesizer | None = None, workers: int | None = None) -> None:
        self.synthesizer = synthesizer or training_synthesizer()
        self.workers = workers or free_cores()
        self.sample_rate = self.synthesizer.sample_rate
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="render")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def speak(self, style: np.ndarray, phonemes: str, speed: float = 1.0, pitch_scale: float = 1.0) -> np.ndarray:
        n_tokens = len(self.synthesizer.model.tokenize(phonemes))
        audio, _ = self.synthesizer.synthesize_phonemes(phonemes, style_row(style, n_tokens), speed, pitch_scale)
        # A style far off the map can make the decoder blow up; measure that as the noise it is
        # rather than let inf/NaN reach the embedder and the recogniser.
        return np.clip(np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)

    def speak_many(
        self,
        jobs: Sequence[tuple[np.ndarray, str, float, float]],
        post: Callable[[np.ndarray], R] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> list:
        """Speak (style, phonemes, speed, pitch_scale) jobs in parallel; `post` runs on each clip in
        the same worker (e.g. resample + embed), so the post-processing is parallel too.

        `should_cancel` is checked before every synthesis, so a cancel lands within one clip's time;
        the jobs not yet started are then skipped and `Cancelled` is raised. `on_progress(done, total)`
        is called in the caller's thread as clips finish (in job order), so it may raise."""
        stop = threading.Event()

        def one(job: tuple[np.ndarray, str, float, float]):
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
