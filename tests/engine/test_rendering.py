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


def test_cpu_meter_counts_other_processes_not_this_one():
    import subprocess
    import sys
    import time

    from voicesmith.engine.rendering import CpuMeter

    meter = CpuMeter()
    end = time.monotonic() + 0.6
    while time.monotonic() < end:  # this process keeps a core busy: not "others"
        pass
    assert meter.others_busy() < 0.5
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.8)
        meter.others_busy()  # the reading that spans the spinner's start-up
        time.sleep(0.6)
        assert meter.others_busy() > 0.6
    finally:
        spinner.kill()
        spinner.wait()


def test_renderer_follows_the_cores_other_processes_leave_free(monkeypatch, style):
    import os
    import subprocess
    import sys
    import time

    monkeypatch.delenv("VOICESMITH_TRAIN_THREADS", raising=False)
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("needs 2 cores")
    jobs = [(style, "hˈaɪ.", 1.0, 1.0)]
    with Renderer() as r:
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.6)
            r.speak_many(jobs)
            time.sleep(0.6)
            r.speak_many(jobs)
            assert r.workers == cores - 1
        finally:
            spinner.kill()
            spinner.wait()
        time.sleep(0.6)
        r.speak_many(jobs)
        assert r.workers == cores
