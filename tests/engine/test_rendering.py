"""The renderer's parallel synthesis: results in job order, progress in the caller's thread, and a
cancel raised from the progress callback stops the jobs that have not started."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from voicesmith.engine.rendering import Cancelled, Renderer
from voicesmith.engine.stock import stock_voices

PHONEMES = ["hˈɛloʊ.", "ɡˈʊd mˈɔɹnɪŋ.", "θˈæŋk jˈu.", "jˈɛs.", "nˈoʊ.", "ɡˈʊd bˈaɪ."]


@pytest.fixture(scope="module")
def renderer():
    with Renderer(workers=2) as r:
        yield r


@pytest.fixture(scope="module")
def style():
    return stock_voices()[0].artifact.style


def test_speak_many_reports_progress_in_order_from_the_calling_thread(renderer, style):
    seen: list[tuple[int, int, str]] = []
    jobs = [(style, p, 1.0, 1.0) for p in PHONEMES]
    clips = renderer.speak_many(jobs, on_progress=lambda d, t: seen.append((d, t, threading.current_thread().name)))
    assert [s[:2] for s in seen] == [(k, len(jobs)) for k in range(1, len(jobs) + 1)]
    assert {s[2] for s in seen} == {threading.current_thread().name}
    assert len(clips) == len(jobs) and all(len(c) > 2400 for c in clips)
    # Job order is kept: the longest phrase ("good morning") is longer than "yes".
    assert len(clips[1]) > len(clips[3])


def test_a_cancel_from_the_progress_callback_skips_the_rest(renderer, style):
    started: list[int] = []

    def post(clip: np.ndarray) -> int:
        started.append(1)
        return len(clip)

    def stop(done: int, total: int) -> None:
        raise Cancelled()

    jobs = [(style, p, 1.0, 1.0) for p in PHONEMES * 4]
    with pytest.raises(Cancelled):
        renderer.speak_many(jobs, post=post, on_progress=stop)
    # The first clip and at most the ones already running finished; the queue was skipped.
    assert len(started) <= 1 + renderer.workers


def test_free_cores_leaves_out_a_core_another_process_is_busy_with(monkeypatch):
    import os
    import subprocess
    import sys

    from voicesmith.engine.rendering import free_cores

    monkeypatch.setenv("VOICESMITH_TRAIN_THREADS", "3")
    assert free_cores() == 3
    monkeypatch.delenv("VOICESMITH_TRAIN_THREADS")
    cores = len(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        import time

        time.sleep(0.5)
        assert 1 <= free_cores() <= max(1, cores - 1)
    finally:
        spinner.kill()
        spinner.wait()
