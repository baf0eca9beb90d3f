"""Blob storage for uploads and voice artifacts: a key → bytes store on the local filesystem.

Writes go to a temp file inside the store (same filesystem), are fsynced, then atomically renamed,
so a reader never sees a partial blob and a crash leaves only a temp file that startup sweeps away.
Data is streamed in chunks: nothing is ever held whole in memory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from voicesmith.config import get_settings

_CHUNK = 1024 * 1024
_TMP_DIR = ".tmp"


class BlobTooLarge(Exception):
    """The data exceeded the max_bytes limit; nothing was stored."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"blob exceeds {max_bytes} bytes")
        self.max_bytes = max_bytes


class BlobNotFound(KeyError):
    pass


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: str


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == _TMP_DIR:
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobWriter:
    """An in-progress blob: write() chunks, then commit() (atomic) or abort() (leaves nothing)."""

    def __init__(self, store: "LocalBlobStore", key: str, max_bytes: int | None) -> None:
        self._store = store
        self.key = _check_key(key)
        self._max = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0
        self._tmp = store.tmp_dir / f"{uuid.uuid4().hex}.part"
        self._fh: BinaryIO | None = open(self._tmp, "wb")

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
        try:
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()
        dest = self._store.local_path(self.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, dest)
        _fsync_dir(dest.parent)
        return BlobInfo(self.key, self.size, self._hash.hexdigest())

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
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
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / _TMP_DIR
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def local_path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def writer(self, key: str, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, key, max_bytes)

    def put_stream(self, key: str, fileobj: BinaryIO, max_bytes: int | None = None) -> BlobInfo:
        with self.writer(key, max_bytes) as w:
            while chunk := fileobj.read(_CHUNK):
                w.write(chunk)
            return w.commit()

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        with self.writer(key) as w:
            for i in range(0, len(data), _CHUNK):
                w.write(memoryview(data)[i : i + _CHUNK])
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
        cutoff = time.time() - older_than_s
        removed = 0
        for p in self.tmp_dir.glob("*.part"):
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


# What the rest of voicesmith codes against; the local filesystem is the only backend today.
BlobStore = LocalBlobStore

_store_lock = threading.Lock()


@lru_cache(maxsize=8)
def _store_for(root: str) -> LocalBlobStore:
    return LocalBlobStore(Path(root))


def get_blob_store() -> BlobStore:
    """The blob store for the configured data directory (one per directory, so tests can switch)."""
    with _store_lock:
        return _store_for(str(get_settings().blob_dir))

