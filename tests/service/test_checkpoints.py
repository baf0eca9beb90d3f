"""Fine-tune checkpoints through the blob store (S3 on moto's real server): a workdir synced on one machine is
restored on another, only when it is newer there, never by a worker that lost the job."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from voicesmith.service.checkpoints import CheckpointSync
from voicesmith.store.blobs_s3 import S3BlobStore


@pytest.fixture
def bucket(s3_server) -> str:
    return s3_server.new_bucket()


class _Recording(S3BlobStore):
    """The real store, noting the order files go up in."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.put_order: list[str] = []

    def put_file(self, key, path):  # noqa: ANN001, ANN201
        self.put_order.append(key.rsplit("/files/", 1)[-1])
        return super().put_file(key, path)


def _machine(s3_server, bucket: str, root: Path, worker: str, owner=lambda: True) -> CheckpointSync:  # noqa: ANN001
    store = _Recording(bucket, "", root / "cache", client=s3_server.client())
    return CheckpointSync("ft_1", worker, root / "work" / "ft_1", store, owner)


def _write(path: Path, data: bytes, mtime: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".checkpoint-sync.json"}


def test_a_workdir_synced_on_one_machine_is_restored_on_another(s3_server, bucket, tmp_path):
    a = _machine(s3_server, bucket, tmp_path / "a", "node-a/1/x")
    now = time.time()
    _write(a.workdir / "prepared.json", b'{"utterances": []}', now - 30)
    _write(a.workdir / "utterances" / "u1.wav", os.urandom(100_000), now - 60)
    _write(a.workdir / "search" / "match.json", b'{"generation": 3}', now - 10)
    _write(a.workdir / "search" / "match.json.tmp", b"half-writ")  # a write in progress: never sent
    assert a.sync_once() == 3
    assert a.store.put_order == ["utterances/u1.wav", "prepared.json", "search/match.json"]  # oldest change first
    assert a.sync_once() == 0  # nothing changed
    _write(a.workdir / "search" / "match.json", b'{"generation": 4}')
    (a.workdir / "prepared.json").unlink()
    assert a.sync_once() == 1

    b = _machine(s3_server, bucket, tmp_path / "b", "node-b/2/y")
    assert b.restore() == 2
    assert _tree(b.workdir) == {"search/match.json": b'{"generation": 4}',
                                "utterances/u1.wav": (a.workdir / "utterances" / "u1.wav").read_bytes()}
    assert b.sync_once() == 0  # what it restored is not sent back


def test_the_newer_side_wins(s3_server, bucket, tmp_path):
    a = _machine(s3_server, bucket, tmp_path / "a", "a/1")
    _write(a.workdir / "checkpoint.json", b'{"step": 5}')
    a.sync_once()
    synced_at = json.loads(a.store.get_bytes("checkpoints/ft_1/synced.json"))["at"]
    # The same machine resumes after getting further than its last round: its own workdir is kept.
    _write(a.workdir / "checkpoint.json", b'{"step": 7}', synced_at + 0.01)
    assert _machine(s3_server, bucket, tmp_path / "a", "a/2").restore() == 0
    assert (a.workdir / "checkpoint.json").read_bytes() == b'{"step": 7}'
    # Or exactly at its last round: kept too, nothing downloaded.
    a.sync_once()
    assert _machine(s3_server, bucket, tmp_path / "a", "a/3").restore() == 0

    # Another machine ran the job meanwhile and synced later: a stale workdir here is replaced, not merged.
    b = _machine(s3_server, bucket, tmp_path / "b", "b/4")
    _write(b.workdir / "leftover.json", b"{}", time.time() - 3600)
    b.restore()
    assert _tree(b.workdir) == {"checkpoint.json": b'{"step": 7}'}
    _write(b.workdir / "checkpoint.json", b'{"step": 9}')
    b.sync_once()
    stale_a = _machine(s3_server, bucket, tmp_path / "a", "a/5")
    assert stale_a.restore() == 1
    assert _tree(stale_a.workdir) == {"checkpoint.json": b'{"step": 9}'}
    marker = json.loads((stale_a.workdir / ".checkpoint-sync.json").read_text())
    assert marker["worker"] == "b/4"


def test_a_worker_that_lost_the_job_sends_nothing(s3_server, bucket, tmp_path):
    owned = {"yes": True}
    a = _machine(s3_server, bucket, tmp_path / "a", "a/1", owner=lambda: owned["yes"])
    _write(a.workdir / "checkpoint.json", b'{"step": 1}')
    assert a.sync_once() == 1
    owned["yes"] = False
    _write(a.workdir / "checkpoint.json", b'{"step": 2}', time.time() + 1)
    assert a.sync_once() == 0
    b = _machine(s3_server, bucket, tmp_path / "b", "b/2")
    b.restore()
    assert (b.workdir / "checkpoint.json").read_bytes() == b'{"step": 1}'


def test_nothing_synced_keeps_the_local_workdir(s3_server, bucket, tmp_path):
    a = _machine(s3_server, bucket, tmp_path / "a", "a/1")
    _write(a.workdir / "slow_pipeline.json", b"{}")
    assert a.restore() == 0 and (a.workdir / "slow_pipeline.json").exists()


def test_the_background_sync_runs_every_interval(s3_server, bucket, tmp_path):
    a = _machine(s3_server, bucket, tmp_path / "a", "a/1")
    _write(a.workdir / "checkpoint.json", b'{"step": 1}')
    a.start(0.1)
    try:
        deadline = time.monotonic() + 20
        while not a.store.list_keys("checkpoints/ft_1/files"):
            assert time.monotonic() < deadline, "the sync thread sent nothing"
            time.sleep(0.05)
    finally:
        a.stop()
    assert a.store.list_keys("checkpoints/ft_1/files") == ["checkpoints/ft_1/files/checkpoint.json"]
