"""The blob store on S3 (or any S3-compatible server: MinIO, Ceph RGW, moto...), for deployments on several machines.

Selected by VOICESMITH_BLOB_URL=s3://bucket/prefix. boto3 finds the endpoint (AWS_ENDPOINT_URL), region and
credentials itself, from the standard AWS variables, profile files or instance role.

- Writes stream: a writer keeps at most one part (8 MiB) being filled and two being sent; a blob smaller than one
  part is one PUT, a larger one a multipart upload, completed by commit() (S3 makes it visible atomically) and
  aborted by abort(). A crash leaves an incomplete multipart upload, which `sweep_temp` aborts later, as the
  filesystem store removes its temp files.
- Reads that need a file (the engine takes paths: dataset audio, voice artifacts) go through a node-local cache
  under the data directory: `fetch(key)` downloads a blob once and hands back the cached copy afterwards, so the
  voices a node speaks stay on that node. Every key voicesmith writes is written once (ids are fresh) except the
  stock voices, which every node rewrites identically at start-up; a write through this node replaces its
  cached copy. (`get_bytes`, for small blobs, always reads the bucket.) The cache is trimmed back to VOICESMITH_BLOB_CACHE_BYTES, least recently used first, never
  touching a file used in the last ten minutes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timezone
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from voicesmith.store.blob_common import (TMP_DIR, BlobInfo, BlobNotFound, BlobTooLarge, check_key, copy_atomically,
                                          open_part, remove_stale_parts)

log = logging.getLogger(__name__)

PART_BYTES = 8 * 1024 * 1024  # S3's smallest part is 5 MiB (all but the last)
_PARTS_IN_FLIGHT = 2
_RECENT_S = 600.0  # a cached file read this recently is never evicted (the engine may be about to open it)

# Part uploads of every writer in this process; a writer waits when two of its own are in flight.
_part_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3-part")


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


class S3BlobWriter:
    """An in-progress blob: write() chunks, then commit() (atomic) or abort() (leaves nothing).

    write() only buffers and hands full parts to upload threads (it blocks only while two of them are still
    being sent; no request is made on the caller's thread), so it may be called where blocking on the network
    would hurt, like the event loop."""

    def __init__(self, store: S3BlobStore, key: str, max_bytes: int | None) -> None:
        self._store = store
        self.key = check_key(key)
        self._max = max_bytes
        self._hash = hashlib.sha256()
        self.size = 0
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[tuple[int, Future]] = []
        self._in_flight: deque[Future] = deque()
        self._create_lock = threading.Lock()
        self._open = True
        # A local copy of what is written, so that the content can be checked before commit (staged_path), as
        # with the filesystem store: a locked temp part (blob_common.open_part), removed on commit or abort.
        self._tmp, self._fh = open_part(store.cache_tmp)

    def staged_path(self) -> Path:
        """A local file holding what was written so far (flushed): to check the content before commit()."""
        if not self._open:
            raise RuntimeError("blob writer is closed")
        self._fh.flush()
        return self._tmp

    def _drop_local_copy(self) -> None:
        with contextlib.suppress(OSError):  # a full disk failing to flush unwanted bytes is no error
            self._fh.close()
        self._tmp.unlink(missing_ok=True)

    @property
    def buffered_bytes(self) -> int:
        """Bytes held in memory, not yet handed to an upload thread (at most about one part)."""
        return len(self._buf)

    def write(self, data: bytes | memoryview) -> None:
        if not self._open:
            raise RuntimeError("blob writer is closed")
        self.size += len(data)
        if self._max is not None and self.size > self._max:
            self.abort()
            raise BlobTooLarge(self._max)
        self._hash.update(data)
        try:
            self._fh.write(data)
        except BaseException:
            self.abort()
            raise
        self._buf += data
        if len(self._buf) >= self._store.part_bytes:
            try:
                self._send_part()
            except BaseException:
                self.abort()
                raise

    def _upload_id_now(self) -> str:
        # On an upload thread: the first part to go creates the multipart upload, so write() never waits on it.
        with self._create_lock:
            if self._upload_id is None:
                self._upload_id = self._store.s3.create_multipart_upload(
                    Bucket=self._store.bucket, Key=self._store.object_name(self.key))["UploadId"]
            return self._upload_id

    def _upload_part(self, number: int, data: bytes) -> dict:
        return self._store.s3.upload_part(Bucket=self._store.bucket, Key=self._store.object_name(self.key),
                                          UploadId=self._upload_id_now(), PartNumber=number, Body=data)

    def _send_part(self) -> None:
        data, self._buf = bytes(self._buf), bytearray()
        number = len(self._parts) + 1
        future = _part_pool.submit(self._upload_part, number, data)
        self._parts.append((number, future))
        self._in_flight.append(future)
        while len(self._in_flight) > _PARTS_IN_FLIGHT or (self._in_flight and self._in_flight[0].done()):
            self._in_flight.popleft().result()  # re-raises a failed part

    def commit(self) -> BlobInfo:
        if not self._open:
            raise RuntimeError("blob writer is closed")
        s3, bucket, name = self._store.s3, self._store.bucket, self._store.object_name(self.key)
        try:
            if not self._parts:
                s3.put_object(Bucket=bucket, Key=name, Body=bytes(self._buf))
            else:
                if self._buf:
                    self._send_part()
                parts = [{"PartNumber": n, "ETag": f.result()["ETag"]} for n, f in self._parts]
                s3.complete_multipart_upload(Bucket=bucket, Key=name, UploadId=self._upload_id,
                                             MultipartUpload={"Parts": parts})
                self._upload_id = None
        except BaseException:
            self.abort()
            raise
        self._open = False
        self._buf = bytearray()
        self._drop_local_copy()
        self._store.forget_cached(self.key)  # a copy of an older blob under this key must not be read again
        return BlobInfo(self.key, self.size, self._hash.hexdigest())

    def abort(self) -> None:
        if not self._open:
            return
        self._open = False
        self._buf = bytearray()
        self._drop_local_copy()
        for _, future in self._parts:
            future.cancel()
        for _, future in self._parts:
            try:
                future.result()
            except BaseException:  # noqa: BLE001 (cancelled or failed: either way the upload goes)
                pass
        if self._upload_id is not None:
            try:
                self._store.s3.abort_multipart_upload(Bucket=self._store.bucket, Key=self._store.object_name(self.key),
                                                      UploadId=self._upload_id)
            except ClientError:
                log.warning("could not abort the upload of %s; sweep_temp will", self.key, exc_info=True)
            self._upload_id = None

    def __enter__(self) -> S3BlobWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        if self._open:
            self.abort()


class S3BlobStore:
    remote = True

    def __init__(self, bucket: str, prefix: str, cache_dir: Path, *, cache_bytes: int = 20 * 1024**3,
                 part_bytes: int = PART_BYTES, client=None) -> None:  # noqa: ANN001 (a boto3 S3 client)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = Path(cache_dir)
        self.cache_tmp = self.cache_dir / TMP_DIR
        self.cache_tmp.mkdir(parents=True, exist_ok=True)
        self.cache_bytes = cache_bytes
        self.part_bytes = part_bytes
        self.s3 = client or boto3.client(
            "s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32))
        self._cache_lock = threading.Lock()
        self._cached_total: int | None = None  # bytes in the cache, counted on first need

    # --- names ---------------------------------------------------------------------------------------------

    def object_name(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _key_of(self, name: str) -> str:
        return name[len(self.prefix) + 1:] if self.prefix else name

    def cached_path(self, key: str) -> Path:
        return self.cache_dir / check_key(key)

    # --- writing -------------------------------------------------------------------------------------------

    def writer(self, key: str, max_bytes: int | None = None) -> S3BlobWriter:
        return S3BlobWriter(self, key, max_bytes)

    def put_stream(self, key: str, fileobj: BinaryIO, max_bytes: int | None = None) -> BlobInfo:
        with self.writer(key, max_bytes) as w:
            while chunk := fileobj.read(1024 * 1024):
                w.write(chunk)
            return w.commit()

    def put_file(self, key: str, path: Path) -> BlobInfo:
        with open(path, "rb") as fh:
            return self.put_stream(key, fh)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        with self.writer(key) as w:
            w.write(data)
            info = w.commit()
        # Small blobs written here (voice artifacts) are about to be read here: keep a copy.
        self._cache_insert(key, data)
        return info

    # --- reading -------------------------------------------------------------------------------------------

    def fetch(self, key: str) -> Path:
        """The node-local copy of the blob, downloaded on first use; raises BlobNotFound."""
        path = self.cached_path(key)
        try:
            os.utime(path)  # recently used: the last to be evicted
            return path
        except FileNotFoundError:
            pass
        with self._body(key) as body:
            size = copy_atomically(body, path, self.cache_tmp)
        self._account(size)
        return path

    def get_bytes(self, key: str) -> bytes:
        """The blob as the bucket holds it now (not through the cache: for small blobs that may change)."""
        with self._body(key) as body:
            return body.read()

    def _body(self, key: str):  # noqa: ANN202 (botocore's StreamingBody)
        """The object's streaming body; BlobNotFound when the bucket has no such key."""
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self.object_name(key))["Body"]
        except ClientError as exc:
            if _not_found(exc):
                raise BlobNotFound(key) from None
            raise

    def open(self, key: str) -> BinaryIO:
        return open(self.fetch(key), "rb")

    def get_file(self, key: str, dest: Path) -> int:
        """Download the blob to `dest` (not through the cache; atomically); returns its size."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.object_name(key))["Body"]
        except ClientError as exc:
            if _not_found(exc):
                raise BlobNotFound(key) from None
            raise
        with body:
            return copy_atomically(body, dest, dest.parent)

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.object_name(key))
            return True
        except ClientError as exc:
            if _not_found(exc):
                return False
            raise

    def list_keys(self, prefix: str) -> list[str]:
        """Every blob key under `prefix/` (sorted)."""
        start = self.object_name(prefix.rstrip("/")) + "/"
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start):
            keys.extend(self._key_of(o["Key"]) for o in page.get("Contents", []))
        return sorted(keys)

    # --- deleting ------------------------------------------------------------------------------------------

    def delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.object_name(key))
        self.forget_cached(key)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every blob under a key prefix (a dataset's files, say)."""
        prefix = prefix.rstrip("/")
        names = [self.object_name(k) for k in self.list_keys(prefix)]
        for i in range(0, len(names), 1000):  # DeleteObjects takes at most 1000 keys
            self.s3.delete_objects(Bucket=self.bucket,
                                   Delete={"Objects": [{"Key": n} for n in names[i:i + 1000]], "Quiet": True})
        top = self.cached_path(prefix)
        if top.is_dir():
            shutil.rmtree(top, ignore_errors=True)
            with self._cache_lock:
                self._cached_total = None  # recount when next needed

    def sweep_temp(self, older_than_s: float = 3600.0) -> int:
        """Abort multipart uploads of crashed writers and delete the cache's stale temp files; returns how many."""
        cutoff = time.time() - older_than_s
        removed = remove_stale_parts(self.cache_tmp, older_than_s)
        for upload in self.incomplete_uploads():
            if upload["Initiated"].timestamp() < cutoff:
                try:
                    self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    removed += 1
                except ClientError as exc:
                    if not _not_found(exc) and exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                        raise
        return removed

    def incomplete_uploads(self) -> list[dict]:
        """Multipart uploads begun under this store's prefix and neither completed nor aborted."""
        found: list[dict] = []
        args = {"Bucket": self.bucket, "Prefix": f"{self.prefix}/" if self.prefix else ""}
        while True:
            page = self.s3.list_multipart_uploads(**args)
            for u in page.get("Uploads", []):
                initiated = u["Initiated"]
                if initiated.tzinfo is None:
                    initiated = initiated.replace(tzinfo=timezone.utc)
                found.append({"Key": u["Key"], "UploadId": u["UploadId"], "Initiated": initiated})
            if not page.get("IsTruncated"):
                return found
            args["KeyMarker"] = page["NextKeyMarker"]
            args["UploadIdMarker"] = page["NextUploadIdMarker"]

    # --- the node-local cache ------------------------------------------------------------------------------

    def forget_cached(self, key: str) -> None:
        path = self.cached_path(key)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return
        self._account(-size)

    def _cache_insert(self, key: str, data: bytes) -> None:
        path = self.cached_path(key)
        tmp, fh = open_part(self.cache_tmp)
        with fh:  # locked until renamed: a sweep leaves it alone
            fh.write(data)
            fh.flush()
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        self._account(len(data))

    def _account(self, delta: int) -> None:
        with self._cache_lock:
            if self._cached_total is None:
                self._cached_total = self._scan_size()
            else:
                self._cached_total += delta
            over = self._cached_total > self.cache_bytes
        if over:
            self.trim_cache()

    def _scan_size(self) -> int:
        return sum(p.stat().st_size for p in self._cached_files())

    def _cached_files(self) -> list[Path]:
        out = []
        for root, dirs, files in os.walk(self.cache_dir):
            if Path(root) == self.cache_dir and TMP_DIR in dirs:
                dirs.remove(TMP_DIR)
            out.extend(Path(root) / f for f in files)
        return out

    def trim_cache(self, target: int | None = None) -> int:
        """Evict least recently used cached files until the cache holds at most `target` bytes (default: 90% of
        its limit), sparing files used in the last ten minutes; returns the bytes now cached."""
        target = int(self.cache_bytes * 0.9) if target is None else target
        with self._cache_lock:
            entries = []
            for p in self._cached_files():
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                entries.append((st.st_mtime, st.st_size, p))
            total = sum(size for _, size, _ in entries)
            recent = time.time() - _RECENT_S
            for mtime, size, path in sorted(entries, key=lambda e: e[0]):
                if total <= target:
                    break
                if mtime > recent:
                    break  # sorted: every later file is recent too
                path.unlink(missing_ok=True)
                total -= size
            self._cached_total = total
            return total
