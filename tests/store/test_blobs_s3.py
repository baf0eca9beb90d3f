"""The S3 blob store against a real S3 server (moto's, over HTTP): selected by VOICESMITH_BLOB_URL, uploads
streamed in parts without holding the file in memory, and the node-local cache that reads go through.

The interface tests shared with the filesystem store are in test_blobs.py (parametrized over both)."""

from __future__ import annotations

import hashlib
import io
import os
import time
import tracemalloc

import pytest

from voicesmith.store.blobs import BadBlobUrl, BlobNotFound, get_blob_store, parse_s3_url
from voicesmith.store.blobs_s3 import S3BlobStore

PART = 5 * 1024 * 1024


@pytest.fixture
def bucket(s3_server) -> str:
    return s3_server.new_bucket()


def _node(s3_server, bucket, cache_dir, **kw) -> S3BlobStore:
    """One machine's view of the bucket: its own cache directory."""
    return S3BlobStore(bucket, "vs", cache_dir, part_bytes=PART, client=s3_server.client(), **kw)


class _Source(io.RawIOBase):
    """`size` pseudo-random bytes made on the fly: a file that never exists whole in memory."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.digest = hashlib.sha256()
        self._block = os.urandom(256 * 1024)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = (self._block * (n // len(self._block) + 1))[:n]
        self.left -= n
        self.digest.update(out)
        return out


def test_the_url_selects_the_bucket_and_prefix(s3_server, bucket, tmp_path, data_dir_switch):
    assert parse_s3_url("s3://b/some/prefix/") == ("b", "some/prefix") and parse_s3_url("s3://b") == ("b", "")
    for bad in ("b/prefix", "gs://b/p", "s3://", "s3:///p"):
        with pytest.raises(BadBlobUrl):
            parse_s3_url(bad)
    with data_dir_switch(tmp_path / "data", VOICESMITH_BLOB_URL=f"s3://{bucket}/team/voicesmith", **s3_server.env):
        store = get_blob_store()
        assert isinstance(store, S3BlobStore) and store.remote
        assert store.cache_dir == (tmp_path / "data" / "blob-cache").resolve()
        store.put_bytes("voices/v1", b"artifact")
    # Where it landed, seen by a plain S3 client: under the prefix, nothing on the local disk but the cache.
    names = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert names == ["team/voicesmith/voices/v1"]
    assert not (tmp_path / "data" / "blobs").exists()
    with data_dir_switch(tmp_path / "data"):
        assert not get_blob_store().remote  # no URL: the filesystem store, as before


def test_uploads_stream_in_parts_without_holding_the_file(s3_server, bucket, tmp_path):
    store = _node(s3_server, bucket, tmp_path / "cache")
    size = 60 * 1024 * 1024 + 99
    src = _Source(size)
    tracemalloc.start()
    try:
        writer = store.writer("datasets/d/big", max_bytes=size)
        most_buffered = 0
        while chunk := src.read(1024 * 1024):
            writer.write(chunk)
            most_buffered = max(most_buffered, writer.buffered_bytes)
        info = writer.commit()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (info.size, info.sha256) == (size, src.digest.hexdigest())
    assert most_buffered < PART
    # A part being filled plus two being sent, and the copies boto3 makes of them: far from the 60 MiB file.
    assert peak < 6 * PART, peak
    head = s3_server.client().head_object(Bucket=bucket, Key="vs/datasets/d/big")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith(f"-{-(-size // PART)}")  # a multipart upload, one part per 5 MiB
    assert store.incomplete_uploads() == []


def test_another_node_reads_through_its_own_cache(s3_server, bucket, tmp_path):
    writer_node = _node(s3_server, bucket, tmp_path / "a")
    reader_node = _node(s3_server, bucket, tmp_path / "b")
    data = os.urandom(PART + 1000)
    writer_node.put_stream("datasets/d/f", io.BytesIO(data))
    assert not reader_node.cached_path("datasets/d/f").exists()
    path = reader_node.fetch("datasets/d/f")  # a file the engine can open
    assert path.parent.parent.parent == tmp_path / "b" and path.read_bytes() == data
    # The second read is served from the node: it works even with the object gone from the bucket.
    s3_server.client().delete_object(Bucket=bucket, Key="vs/datasets/d/f")
    assert reader_node.fetch("datasets/d/f") == path and path.read_bytes() == data
    assert not reader_node.exists("datasets/d/f")  # exists() and get_bytes() ask the bucket
    with pytest.raises(BlobNotFound):
        reader_node.get_bytes("datasets/d/f")
    with pytest.raises(BlobNotFound):
        writer_node.fetch("datasets/d/f")


def test_a_write_replaces_the_writing_nodes_cached_copy(s3_server, bucket, tmp_path):
    node = _node(s3_server, bucket, tmp_path / "a")
    node.put_bytes("voices/stock/x", b"old")
    assert node.fetch("voices/stock/x").read_bytes() == b"old"  # put_bytes kept a copy
    node.put_stream("voices/stock/x", io.BytesIO(b"new"))
    assert node.get_bytes("voices/stock/x") == b"new"
    node.delete("voices/stock/x")
    assert not node.cached_path("voices/stock/x").exists()


def test_the_cache_is_trimmed_least_recently_used_first(s3_server, bucket, tmp_path):
    source = _node(s3_server, bucket, tmp_path / "src")
    for i in range(4):
        source.put_bytes(f"voices/v{i}", bytes([i]) * 1000)
    node = _node(s3_server, bucket, tmp_path / "n", cache_bytes=2500)
    long_ago = time.time() - 3600
    for i in range(3):
        os.utime(node.fetch(f"voices/v{i}"), (long_ago + i, long_ago + i))  # used an hour ago, v0 first
    node.fetch("voices/v3")  # over the limit now: trimmed to 90% of it, oldest first
    cached = sorted(p.name for p in (tmp_path / "n" / "voices").iterdir())
    assert cached == ["v2", "v3"]
    # Files used in the last ten minutes stay even over the limit: the engine may be about to open them.
    for i in range(3):
        node.fetch(f"voices/v{i}")
    assert sorted(p.name for p in (tmp_path / "n" / "voices").iterdir()) == ["v0", "v1", "v2", "v3"]
