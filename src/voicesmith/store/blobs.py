"""Blob storage for uploads, voice artifacts and fine-tune checkpoints: a key → bytes store.

Two backends with one interface: LocalBlobStore (a directory, the default) and S3BlobStore
(store/blobs_s3.py, selected by VOICESMITH_BLOB_URL=s3://bucket/prefix). Callers that need a file
path (the engine reads files) ask `fetch(key)`: the blob itself on the filesystem, a node-local
cached copy with S3.

Local writes go to a temp file inside the store (same filesystem), are fsynced, then atomically
renamed, so a reader never sees a partial blob and a crash leaves only a temp file that startup
sweeps away (a temp file is locked while its writer lives, so a sweep in any process removes exactly
the dead writers' ones, store/blob_common.open_part). Data is streamed in chunks: nothing is ever
held whole in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Union

from voicesmith.config import get_settings
# BlobInfo, BlobNotFound and BlobTooLarge are imported from here by the rest of voicesmith.
from voicesmith.store.blob_common import (CHUNK, TMP_DIR, BlobInfo, BlobNotFound, BlobTooLarge, check_key,
                                          copy_atomically, open_part, remove_stale_parts)
from voicesmith.store.blobs_s3 import S3BlobStore


class BlobWriter:
    """An in-progress blob: write() chunks, then commit() (atomic) or abort() (leaves nothing)."""

    def __init__(self, store: "LocalBlobStore", key: str, max_bytes: int | None) -> None:
        self._store = store
        self.key = check_key(key)
        self._max = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0
        self._tmp, fh = open_part(store.tmp_dir)  # locked while open: start-up sweeps leave it alone
        self._fh: BinaryIO | None = fh

    def write(self, data: bytes | memoryview) -> None:
        if self._fh is None:
            raise RuntimeError("blob writer is closed")
        self.size += len(data)
        if self._max is not None and self.size > self._max:
            self.abort()
            raise BlobTooLarge(self._max)
        self._hash.update(data)
        self._fh.write(data)

    def staged_path(self) -> Path:
        """The temp file holding what was written so far (flushed): to check the content before commit()."""
        if self._fh is None:
            raise RuntimeError("blob writer is closed")
        self._fh.flush()
        return self._tmp

    def commit(self) -> BlobInfo:
        if self._fh is None:
            raise RuntimeError("blob writer is closed")
        fh, self._fh = self._fh, None
        dest = self._store.local_path(self.key)
        try:
            with fh:  # closed (its lock released) only after the rename, so a sweep cannot take the part first
                fh.flush()  # a full disk fails here (ENOSPC): the part goes, nothing is stored
                os.fsync(fh.fileno())
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self._tmp, dest)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(dest.parent)
        return BlobInfo(self.key, self.size, self._hash.hexdigest())

    def abort(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            with contextlib.suppress(OSError):  # unwanted bytes: a full disk failing to flush them is no error
                fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "BlobWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        # Leaving the block without commit() means the data is not wanted.
        if self._fh is not None:
            self.abort()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBlobStore:
    # Blobs live on this machine's filesystem (or a shared mount): fetch() is free, nothing is cached.
    remote = False

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / TMP_DIR
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def local_path(self, key: str) -> Path:
        return self.root / check_key(key)

    def fetch(self, key: str) -> Path:
        """A readable file holding the blob (here: the blob itself); raises BlobNotFound."""
        path = self.local_path(key)
        if not path.is_file():
            raise BlobNotFound(key)
        return path

    def put_file(self, key: str, path: Path) -> BlobInfo:
        with open(path, "rb") as fh:
            return self.put_stream(key, fh)

    def get_file(self, key: str, dest: Path) -> int:
        """Copy the blob to `dest` (atomically: a temp file beside it, then a rename); returns its size."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open(key) as src:
            return copy_atomically(src, dest, dest.parent)

    def list_keys(self, prefix: str) -> list[str]:
        """Every blob key under `prefix/` (sorted)."""
        top = self.local_path(prefix.rstrip("/"))
        if not top.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in top.rglob("*") if p.is_file())

    def writer(self, key: str, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, key, max_bytes)

    def put_stream(self, key: str, fileobj: BinaryIO, max_bytes: int | None = None) -> BlobInfo:
        with self.writer(key, max_bytes) as w:
            while chunk := fileobj.read(CHUNK):
                w.write(chunk)
            return w.commit()

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        with self.writer(key) as w:
            for i in range(0, len(data), CHUNK):
                w.write(memoryview(data)[i : i + CHUNK])
            return w.commit()

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.local_path(key).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.local_path(key), "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under a key prefix (a dataset's files, say)."""
        path = self.local_path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)

    def sweep_temp(self, older_than_s: float = 3600.0) -> int:
        """Delete temp files left by crashed writers; returns how many were removed."""
        return remove_stale_parts(self.tmp_dir, older_than_s)


# What the rest of voicesmith codes against: either backend.
BlobStore = Union[LocalBlobStore, S3BlobStore]

_store_lock = threading.Lock()


class BadBlobUrl(ValueError):
    pass


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` → ("bucket", "some/prefix"); raises BadBlobUrl."""
    scheme, sep, rest = url.partition("://")
    bucket, _, prefix = rest.partition("/")
    if scheme != "s3" or not sep or not bucket:
        raise BadBlobUrl(f"VOICESMITH_BLOB_URL must look like s3://bucket or s3://bucket/prefix, not {url!r}")
    return bucket, prefix.strip("/")


@lru_cache(maxsize=8)
def _store_for(root: str, url: str | None, cache_dir: str, cache_bytes: int) -> BlobStore:
    if url is None:
        return LocalBlobStore(Path(root))
    bucket, prefix = parse_s3_url(url)
    return S3BlobStore(bucket, prefix, Path(cache_dir), cache_bytes=cache_bytes)


def get_blob_store() -> BlobStore:
    """The configured blob store (one per configuration, so tests can switch)."""
    settings = get_settings()
    with _store_lock:
        return _store_for(str(settings.blob_dir), settings.blob_url, str(settings.blob_cache_dir),
                          settings.blob_cache_bytes)

