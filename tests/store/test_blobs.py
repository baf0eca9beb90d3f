"""The blob store, both backends (filesystem, and S3 against moto's real S3 server): atomic writes, sizes and
hashes, nothing left behind on failure."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import time

import pytest
from botocore.exceptions import ClientError
from tests.disk_support import fill, small_disk

from voicesmith.store.blobs import BlobNotFound, BlobTooLarge, LocalBlobStore
from voicesmith.store.blobs_s3 import S3BlobStore

PART = 5 * 1024 * 1024  # S3's smallest part size, so the tests cross part boundaries with little data


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    server = request.getfixturevalue("s3_server")
    return S3BlobStore(server.new_bucket(), "pre/fix", tmp_path / "cache", part_bytes=PART, client=server.client())


def _leftovers(store) -> list:
    """What interrupted writes left behind: temp files; with S3 also multipart uploads never completed."""
    if isinstance(store, LocalBlobStore):
        return list(store.tmp_dir.iterdir())
    return list(store.cache_tmp.iterdir()) + store.incomplete_uploads()


@pytest.mark.parametrize("size", [3 * 1024 * 1024 + 17, 2 * PART + 123, 0])
def test_put_stream_records_size_and_sha256(store, size):
    data = os.urandom(size)
    info = store.put_stream("datasets/d1/f1", io.BytesIO(data))
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.get_bytes("datasets/d1/f1") == data
    with store.open("datasets/d1/f1") as fh:
        assert fh.read(5) == data[:5]
    assert store.exists("datasets/d1/f1") and store.fetch("datasets/d1/f1").read_bytes() == data
    assert _leftovers(store) == []


def test_put_bytes_overwrites_atomically(store):
    store.put_bytes("voices/v", b"one")
    assert store.get_bytes("voices/v") == b"one"
    store.put_bytes("voices/v", b"two")
    assert store.get_bytes("voices/v") == b"two"
    assert store.fetch("voices/v").read_bytes() == b"two"


def test_too_large_leaves_nothing(store):
    with pytest.raises(BlobTooLarge):
        store.put_stream("a/b", io.BytesIO(b"x" * 2000), max_bytes=1000)
    assert not store.exists("a/b") and _leftovers(store) == []


def test_too_large_after_parts_were_sent_leaves_nothing(store):
    with pytest.raises(BlobTooLarge):
        store.put_stream("a/big", io.BytesIO(os.urandom(3 * PART)), max_bytes=2 * PART + 1)
    assert not store.exists("a/big") and _leftovers(store) == []


def test_writer_without_commit_leaves_nothing(store):
    with store.writer("a/c") as w:
        w.write(b"partial")
        w.write(os.urandom(PART))  # with S3, a multipart upload is under way now
    assert not store.exists("a/c") and _leftovers(store) == []
    w = store.writer("a/d")
    w.write(b"x")
    w.abort()
    assert _leftovers(store) == []
    with pytest.raises(RuntimeError):
        w.write(b"y")


def test_what_was_written_can_be_checked_before_commit(store):
    # The upload path checks a file's content (audio or text) before it is stored: staged_path() is a local
    # file with every byte written so far, in both stores, and nothing of it stays after commit or abort.
    data = os.urandom(PART + 4321)  # with S3, a part has gone to the bucket already
    w = store.writer("datasets/d/checked")
    w.write(data[:PART])
    w.write(data[PART:])
    assert w.staged_path().read_bytes() == data
    w.commit()
    assert store.get_bytes("datasets/d/checked") == data and _leftovers(store) == []
    w = store.writer("datasets/d/refused")
    w.write(b"not audio")
    assert w.staged_path().read_bytes() == b"not audio"
    w.abort()
    assert not store.exists("datasets/d/refused") and _leftovers(store) == []


def test_delete_and_missing(store):
    store.put_bytes("datasets/d2/f1", b"1")
    store.put_bytes("datasets/d2/f2", b"2")
    store.put_bytes("datasets/d22/f3", b"3")
    store.delete("datasets/d2/f1")
    store.delete("datasets/d2/f1")  # idempotent
    with pytest.raises(BlobNotFound):
        store.get_bytes("datasets/d2/f1")
    with pytest.raises(BlobNotFound):
        store.fetch("datasets/d2/f1")
    assert store.list_keys("datasets/d2") == ["datasets/d2/f2"]
    store.delete_prefix("datasets/d2")
    assert not store.exists("datasets/d2/f2") and store.list_keys("datasets/d2") == []
    assert store.get_bytes("datasets/d22/f3") == b"3"  # a prefix is a folder, not a string prefix


def test_files_in_and_out(store, tmp_path):
    src = tmp_path / "src.bin"
    data = os.urandom(PART + 5)
    src.write_bytes(data)
    info = store.put_file("ck/ft/a.npy", src)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    dest = tmp_path / "restored" / "deep" / "a.npy"
    assert store.get_file("ck/ft/a.npy", dest) == len(data) and dest.read_bytes() == data
    with pytest.raises(BlobNotFound):
        store.get_file("ck/ft/missing", tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".tmp/x", "./a"])
def test_rejects_unsafe_keys(store, key):
    with pytest.raises(ValueError):
        store.writer(key)
    with pytest.raises(ValueError):
        store.fetch(key)


def test_sweep_removes_only_stale_temp_files(store):
    tmp_dir = store.tmp_dir if isinstance(store, LocalBlobStore) else store.cache_tmp
    fresh = store.writer("a/e")
    fresh.write(os.urandom(PART + 1))
    if isinstance(store, LocalBlobStore):
        began = time.time()
    else:
        # The multipart upload is begun by an upload thread; when, by the store's clock (moto says 2010 for all).
        deadline = time.monotonic() + 30
        while not (uploads := store.incomplete_uploads()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        began = uploads[0]["Initiated"].timestamp()
    stale = tmp_dir / "old.part"
    stale.write_bytes(b"x")
    os.utime(stale, (began - 7200, began - 7200))
    assert store.sweep_temp(older_than_s=time.time() - began + 3600) == 1
    assert not stale.exists()
    # The fresh writer's temp file (with S3: its local copy, and its multipart upload) is a live writer's: kept.
    live_copy = [p for p in tmp_dir.iterdir() if p != stale]
    assert len(live_copy) == 1 and len(_leftovers(store)) == (1 if isinstance(store, LocalBlobStore) else 2)
    if isinstance(store, S3BlobStore):
        assert store.sweep_temp(older_than_s=0) == 1  # a crashed writer's upload, once old enough, is aborted
        assert _leftovers(store) == live_copy  # the local copy is locked by its live writer
        with pytest.raises(ClientError):  # NoSuchUpload: the sweep took it
            fresh.commit()
    fresh.abort()
    assert _leftovers(store) == []


def test_a_full_disk_fails_a_write_and_leaves_no_temp_file(tmp_path):
    """On a really full filesystem, bytes still in the writer's buffer fail at the flush: commit() raises ENOSPC
    and abort() must not (the bytes are unwanted); neither leaves its temp file."""
    with small_disk(tmp_path / "disk", "1m") as disk:
        store = LocalBlobStore(disk / "blobs")
        fill(disk)
        w = store.writer("a/committed")
        w.write(b"x" * 100)  # fits in the buffer: the disk is not asked yet
        with pytest.raises(OSError) as failed:
            w.commit()
        assert failed.value.errno == errno.ENOSPC and not store.exists("a/committed")
        assert list(store.tmp_dir.iterdir()) == []
        w = store.writer("a/aborted")
        w.write(b"x" * 100)
        w.abort()
        assert list(store.tmp_dir.iterdir()) == []
