"""Temp parts and the sweep (store/blob_common.py): a part is locked while its writer lives, so a sweep in any
process sharing the folder removes a dead writer's part at once and never a live one's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from tests.worker.jobs_support import wait_for

from voicesmith.store import blob_common
from voicesmith.store.blobs import LocalBlobStore

# A writer in another process: streams a little into a blob, says so, and waits to be killed.
_OTHER_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from voicesmith.store.blobs import LocalBlobStore
    w = LocalBlobStore(Path(sys.argv[1])).writer("datasets/d/f")
    w.write(b"x" * 100_000)
    w.staged_path()
    print("writing", flush=True)
    time.sleep(600)
""")


def test_a_sweep_keeps_live_writers_parts_in_any_process_and_removes_dead_ones_at_once(tmp_path):
    store = LocalBlobStore(tmp_path / "blobs")
    ours = store.writer("datasets/d/ours")
    ours.write(b"ours")
    other = subprocess.Popen([sys.executable, "-c", _OTHER_WRITER, str(store.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "writing"
        left_by_a_crash = store.tmp_dir / "crashed.part"  # nobody holds it, however new it is
        left_by_a_crash.write_bytes(b"half a file")
        assert store.sweep_temp() == 1 and not left_by_a_crash.exists()
        assert len(list(store.tmp_dir.glob("*.part"))) == 2  # ours and the other process's: both alive
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=30)
        assert store.sweep_temp() == 1  # the killed writer's part, at once (no age to wait for)
        assert list(store.tmp_dir.glob("*.part")) == [ours.staged_path()]
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert ours.commit().size == 4 and store.get_bytes("datasets/d/ours") == b"ours"
    assert store.sweep_temp() == 0 and list(store.tmp_dir.iterdir()) == []


def test_a_writer_whose_new_part_a_sweep_took_before_its_lock_starts_again(tmp_path, monkeypatch):
    store = LocalBlobStore(tmp_path / "blobs")
    real_flock = blob_common.fcntl.flock
    raced: list[int] = []

    def sweep_first(fd: int, op: int) -> None:
        if op == blob_common.fcntl.LOCK_EX and not raced:  # the writer's: its first part is created, not locked yet
            raced.append(store.sweep_temp())  # a sweep gets there first (its own flock is non-blocking)
        real_flock(fd, op)

    monkeypatch.setattr(blob_common.fcntl, "flock", sweep_first)
    with store.writer("datasets/d/f") as w:
        monkeypatch.setattr(blob_common.fcntl, "flock", real_flock)
        w.write(b"data")
        assert w.staged_path().exists()  # a new part, not the swept one
        w.commit()
    assert raced == [1] and store.get_bytes("datasets/d/f") == b"data" and list(store.tmp_dir.iterdir()) == []


def test_where_the_filesystem_has_no_locks_the_age_decides(tmp_path, monkeypatch):
    def no_locks(fd: int, op: int) -> None:
        raise OSError(blob_common.errno.ENOLCK, "no locks")

    monkeypatch.setattr(blob_common.fcntl, "flock", no_locks)
    store = LocalBlobStore(tmp_path / "blobs")
    w = store.writer("datasets/d/f")
    w.write(b"data")
    old = store.tmp_dir / "old.part"
    old.write_bytes(b"x")
    os.utime(old, (1, 1))
    assert store.sweep_temp(older_than_s=3600) == 1 and not old.exists() and w.staged_path().exists()
    assert w.commit().size == 4
