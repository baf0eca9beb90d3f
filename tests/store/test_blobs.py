"""The filesystem blob store: atomic writes, sizes and hashes, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import io
import os
import time

import pytest

from voicesmith.store.blobs import BlobNotFound, BlobTooLarge, LocalBlobStore


@pytest.fixture
def store(tmp_path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def _tmp_files(store: LocalBlobStore) -> list:
    return list(store.tmp_dir.iterdir())


def test_put_stream_records_size_and_sha256(store):
    data = os.urandom(3 * 1024 * 1024 + 17)
    info = store.put_stream("datasets/d1/f1", io.BytesIO(data))
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.get_bytes("datasets/d1/f1") == data
    with store.open("datasets/d1/f1") as fh:
        assert fh.read(5) == data[:5]
    assert store.exists("datasets/d1/f1") and store.local_path("datasets/d1/f1").is_file()
    assert _tmp_files(store) == []


def test_put_bytes_overwrites_atomically(store):
    store.put_bytes("voices/v", b"one")
    store.put_bytes("voices/v", b"two")
    assert store.get_bytes("voices/v") == b"two"


def test_too_large_leaves_nothing(store):
    with pytest.raises(BlobTooLarge):
        store.put_stream("a/b", io.BytesIO(b"x" * 2000), max_bytes=1000)
    assert not store.exists("a/b") and _tmp_files(store) == []


def test_writer_without_commit_leaves_nothing(store):
    with store.writer("a/c") as w:
        w.write(b"partial")
        assert len(_tmp_files(store)) == 1
    assert not store.exists("a/c") and _tmp_files(store) == []
    w = store.writer("a/d")
    w.write(b"x")
    w.abort()
    assert _tmp_files(store) == []
    with pytest.raises(RuntimeError):
        w.write(b"y")


def test_delete_and_missing(store):
    store.put_bytes("datasets/d2/f1", b"1")
    store.put_bytes("datasets/d2/f2", b"2")
    store.delete("datasets/d2/f1")
    store.delete("datasets/d2/f1")  # idempotent
    with pytest.raises(BlobNotFound):
        store.get_bytes("datasets/d2/f1")
    store.delete_prefix("datasets/d2")
    assert not store.exists("datasets/d2/f2")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".tmp/x", "./a"])
def test_rejects_unsafe_keys(store, key):
    with pytest.raises(ValueError):
        store.local_path(key)


def test_sweep_removes_only_stale_temp_files(store):
    stale = store.tmp_dir / "old.part"
    stale.write_bytes(b"x")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    fresh = store.writer("a/e")
    fresh.write(b"in progress")
    assert store.sweep_temp(older_than_s=3600) == 1
    assert not stale.exists() and len(_tmp_files(store)) == 1
    fresh.abort()
