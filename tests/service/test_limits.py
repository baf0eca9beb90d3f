"""The per-organisation TTS limiter: generations up to VOICESMITH_TTS_CONCURRENCY, WebSockets up to 10x that,
per organisation, released exactly once, and never over the limit when threads race for the last slot."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from voicesmith.service.limits import ConcurrencyLimited, acquire_connection, acquire_generation


@pytest.fixture
def limit_3(tmp_path, data_dir_switch):
    with data_dir_switch(tmp_path, VOICESMITH_TTS_CONCURRENCY="3"):
        yield 3


def _org() -> str:
    return f"org-{uuid.uuid4()}"  # the counters are process-wide: a fresh organisation per test


def test_generations_up_to_the_limit_then_429(limit_3):
    org = _org()
    slots = [acquire_generation(org) for _ in range(limit_3)]
    with pytest.raises(ConcurrencyLimited) as info:
        acquire_generation(org)
    assert info.value.status == 429 and info.value.error_code == "concurrency_limited"
    assert "3" in info.value.message
    slots[0].release()
    acquire_generation(org)  # the released slot is free again...
    with pytest.raises(ConcurrencyLimited):
        acquire_generation(org)  # ...but only that one


def test_limits_are_per_organisation(limit_3):
    busy, other = _org(), _org()
    for _ in range(limit_3):
        acquire_generation(busy)
    assert [acquire_generation(other) for _ in range(limit_3)]
    with pytest.raises(ConcurrencyLimited):
        acquire_generation(other)


def test_release_twice_frees_one_slot(limit_3):
    org = _org()
    first = acquire_generation(org)
    for _ in range(limit_3 - 1):
        acquire_generation(org)
    first.release()
    first.release()  # e.g. a context that finished and was then swept up when its connection closed
    acquire_generation(org)
    with pytest.raises(ConcurrencyLimited):
        acquire_generation(org)


def test_connections_are_capped_at_ten_times_the_limit(limit_3):
    org = _org()
    connections = [acquire_connection(org) for _ in range(10 * limit_3)]
    with pytest.raises(ConcurrencyLimited) as info:
        acquire_connection(org)
    assert info.value.status == 429 and "30" in info.value.message
    acquire_generation(org)  # a separate count: open sockets do not use up generations
    connections[-1].release()
    acquire_connection(org)


def test_default_limit(tmp_path, data_dir_switch, monkeypatch):
    monkeypatch.delenv("VOICESMITH_TTS_CONCURRENCY", raising=False)
    with data_dir_switch(tmp_path):
        org = _org()
        for _ in range(4):
            acquire_generation(org)
        with pytest.raises(ConcurrencyLimited):
            acquire_generation(org)


def test_racing_threads_never_exceed_the_limit(limit_3):
    org = _org()
    threads_n, rounds = 16, 200
    start = threading.Barrier(threads_n)
    lock = threading.Lock()
    held = peak = refused = 0

    def worker() -> None:
        nonlocal held, peak, refused
        start.wait()
        for _ in range(rounds):
            try:
                slot = acquire_generation(org)
            except ConcurrencyLimited:
                with lock:
                    refused += 1
                continue
            with lock:  # counted after acquiring and uncounted before releasing: never more than really held
                held += 1
                peak = max(peak, held)
            time.sleep(0.0005)  # hold it a moment, so that the others find the limit reached
            with lock:
                held -= 1
            slot.release()

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refused > 0  # the threads really did compete for the slots
    assert peak <= limit_3
    # Every slot came back: the whole limit is free again.
    assert [acquire_generation(org) for _ in range(limit_3)]
    with pytest.raises(ConcurrencyLimited):
        acquire_generation(org)
