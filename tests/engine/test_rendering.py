"""The renderer's parallel synthesis: results in job order, progress in the caller's thread, and a
cancel raised from the progress callback stops the jobs that have not started."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from voicesmith.engine.rendering import Cancelled, CpuMeter, Renderer
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


def test_cpu_meter_reports_the_cores_other_processes_used_since_the_last_reading():

    # (all ticks, idle ticks, this process's ticks, seconds) as /proc gives them, 2 cores at 100 ticks/s.
    readings = iter([
        (1000, 500, 0, 0.0),
        (1200, 600, 100, 1.0),  # this process kept one core busy, the other idled: nobody else
        (1400, 600, 200, 2.0),  # this process one core, another process the other
        (1410, 600, 205, 2.05),  # too soon after the last reading to tell
        (1600, 600, 250, 3.0),  # since 2.0 s: both cores busy (200 ticks), 50 of them this process's
        None,  # /proc unreadable
    ])
    meter = CpuMeter(read=lambda: next(readings), cpus=2)
    assert meter.others_busy() == 0.0
    assert meter.others_busy() == 1.0
    assert meter.others_busy() is None
    assert meter.others_busy() == 1.5
    assert meter.others_busy() is None


# Slow: it needs a core to itself for the spinner (it fails on a machine other processes keep busy); the test
# above is its fast sibling, on /proc readings given to the meter.
@pytest.mark.slow
def test_cpu_meter_counts_other_processes_not_this_one():
    import subprocess
    import sys
    import time

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


def test_renderer_runs_as_many_clips_at_once_as_other_processes_leave_cores(monkeypatch, style):
    from voicesmith.engine import rendering

    # 2 cores at 100 ticks/s; between readings another process is busy on one core, then on none.
    readings = iter([(1000, 500, 0, 0.0), (1200, 500, 100, 1.0), (1400, 600, 200, 2.0)])
    monkeypatch.delenv("VOICESMITH_TRAIN_THREADS", raising=False)
    monkeypatch.setattr(rendering, "usable_cores", lambda: 2)
    monkeypatch.setattr(rendering, "free_cores", lambda: 2)
    monkeypatch.setattr(rendering, "CpuMeter", lambda: CpuMeter(read=lambda: next(readings), cpus=2))
    jobs = [(style, "hˈaɪ.", 1.0, 1.0)]
    with Renderer() as r:
        assert r.workers == 2
        r.speak_many(jobs)
        assert r.workers == 1  # a core was busy with another process since the renderer started
        r.speak_many(jobs)
        assert r.workers == 2  # and free again since


# Slow: it needs the machine's cores free apart from its own spinner; the test above is its fast sibling.
@pytest.mark.slow
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
