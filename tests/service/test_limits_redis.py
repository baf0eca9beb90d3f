"""The TTS limits shared through Redis (VOICESMITH_BROKER_URL=redis://...): exact across processes, and released
when a process dies. Against a real redis-server, with real separate processes holding slots."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
import redis

from voicesmith.service import limits
from voicesmith.service.limits import ConcurrencyLimited, LimiterUnavailable, acquire_connection, acquire_generation

TTL_S = 1.0

# Another API process: takes `n` generation slots for an organisation, says so, then holds them until killed.
_HOLDER = textwrap.dedent("""
    import sys, time
    from voicesmith.service.limits import acquire_generation
    slots = [acquire_generation(sys.argv[1]) for _ in range(int(sys.argv[2]))]
    print("held", flush=True)
    time.sleep(600)
""")


@pytest.fixture
def shared(tmp_path, data_dir_switch, redis_server_url):
    env = {"VOICESMITH_BROKER_URL": redis_server_url, "VOICESMITH_TTS_CONCURRENCY": "3",
           "VOICESMITH_TTS_LEASE_TTL_S": str(TTL_S)}
    with data_dir_switch(tmp_path, **env):
        yield {**os.environ, **env}


def _org() -> str:
    return f"org-{uuid.uuid4()}"


def _holder(env: dict, org: str, n: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, org, str(n)], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_the_limit_holds_across_processes_and_a_dead_process_frees_its_slots(shared):
    org = _org()
    other = _holder(shared, org, 2)  # another API process is running two generations
    try:
        mine = acquire_generation(org)
        with pytest.raises(ConcurrencyLimited):
            acquire_generation(org)  # 2 there + 1 here = the limit of 3
        mine.release()
        mine = acquire_generation(org)
        with pytest.raises(ConcurrencyLimited):
            acquire_generation(org)
        assert acquire_generation(_org())  # other organisations are not affected
        other.send_signal(signal.SIGKILL)  # the other process dies without releasing anything
        other.wait()
        killed_at = time.monotonic()
        while True:
            try:
                acquire_generation(org)
                break
            except ConcurrencyLimited:
                assert time.monotonic() - killed_at < 3 * TTL_S + 2, "a dead process's slots were never freed"
                time.sleep(0.05)
        freed_after = time.monotonic() - killed_at
        acquire_generation(org)  # both of its slots are free
        with pytest.raises(ConcurrencyLimited):
            acquire_generation(org)
    finally:
        other.kill()
        other.wait()
    assert freed_after <= TTL_S + 2.0  # the lease TTL, plus scheduling on a busy machine


def test_a_live_process_keeps_its_slots_past_the_lease_ttl(shared):
    org = _org()
    other = _holder(shared, org, 3)
    try:
        time.sleep(3 * TTL_S)  # the lease is renewed: its slots still count
        with pytest.raises(ConcurrencyLimited):
            acquire_generation(org)
    finally:
        other.kill()
        other.wait()


def test_release_is_exact_and_idempotent(shared):
    org = _org()
    slots = [acquire_generation(org) for _ in range(3)]
    slots[0].release()
    slots[0].release()
    acquire_generation(org)
    with pytest.raises(ConcurrencyLimited):
        acquire_generation(org)
    for s in slots[1:]:
        s.release()
    connections = [acquire_connection(org) for _ in range(30)]
    with pytest.raises(ConcurrencyLimited) as info:
        acquire_connection(org)
    assert info.value.status == 429 and "30" in info.value.message
    for c in connections:
        c.release()
    client = redis.Redis.from_url(shared["VOICESMITH_BROKER_URL"])
    assert client.hgetall(f"voicesmith:tts:connections:{org}") == {}  # nothing left behind for an idle org


def test_racing_processes_never_exceed_the_limit(shared):
    """Threads here and a second process's counter (a separate lease) race for the same organisation's slots."""
    org = _org()
    counters = [limits._redis_counters(shared["VOICESMITH_BROKER_URL"], TTL_S, pid)[0] for pid in (-1, -2)]
    got: list = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def grab(counter) -> None:  # noqa: ANN001
        start.wait()
        for _ in range(5):
            slot = counter.acquire(org, 3)
            if slot is not None:
                with lock:
                    got.append(slot)

    threads = [threading.Thread(target=grab, args=(counters[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 3


def test_redis_down_is_a_503_not_a_crash(tmp_path, data_dir_switch):
    with data_dir_switch(tmp_path, VOICESMITH_BROKER_URL="redis://127.0.0.1:9/0"):
        with pytest.raises(LimiterUnavailable) as info:
            acquire_generation(_org())
    assert info.value.status == 503 and "127.0.0.1" not in info.value.message
