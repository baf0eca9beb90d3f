"""What both blob stores (store/blobs.py, store/blobs_s3.py) share: the key rules, the errors, BlobInfo and the
atomic copy to a file."""

from __future__ import annotations

import errno
import fcntl
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
TMP_DIR = ".tmp"


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


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == TMP_DIR:
        raise ValueError(f"invalid blob key {key!r}")
    return key


def open_part(folder: Path) -> tuple[Path, BinaryIO]:
    """A new temp file `<random>.part` in `folder`, open for writing and locked (flock) for as long as it is open.

    The lock tells a sweep (remove_stale_parts, in any process sharing the folder) a live writer's part from one a
    dead writer left: the kernel drops a lock when its holder dies, SIGKILL included. The lock is taken just after
    the file is created; a sweep that runs in between locks the file first and unlinks it while holding the lock,
    so once we hold it we check that the name still leads to our file, and start again if it does not.
    """
    while True:
        path = folder / f"{uuid.uuid4().hex}.part"
        fh = open(path, "xb")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                fh.close()
                path.unlink(missing_ok=True)
                raise
            return path, fh  # a filesystem without locks: the sweep falls back to the part's age
        try:
            if os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino:
                return path, fh
        except FileNotFoundError:
            pass
        fh.close()


# flock() errors meaning "this filesystem does not do locks" (rather than "someone holds it").
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS)


def copy_atomically(src: BinaryIO, dest: Path, tmp_dir: Path) -> int:
    """Stream `src` into `dest` through a temp file in `tmp_dir` (same filesystem) and a rename; returns the size."""
    tmp, fh = open_part(tmp_dir)
    size = 0
    try:
        with fh:
            while chunk := src.read(CHUNK):
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)  # still locked: a sweep cannot take the part between the last write and here
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def remove_stale_parts(folder: Path, older_than_s: float) -> int:
    """Delete the `*.part` temp files in `folder` that no live writer holds (see open_part); how many.

    A part nobody holds a lock on was left by a writer that died (a crash, a SIGKILL): it goes at once, whatever its
    age, so a restarted server starts clean. A part that is locked belongs to a live writer, in this process or
    another one sharing the folder (the API, a worker), and stays. Only where the filesystem does no locks does the
    age decide: such a part goes once older than `older_than_s`.
    """
    cutoff = time.time() - older_than_s
    removed = 0
    for p in folder.glob("*.part"):
        try:
            with open(p, "rb+") as fh:  # opened for writing: NFS maps flock to fcntl locks, which need it
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer's
                except OSError as exc:
                    if exc.errno not in _NO_LOCKS or os.fstat(fh.fileno()).st_mtime >= cutoff:
                        continue
                p.unlink()  # while holding the lock: see open_part
                removed += 1
        except FileNotFoundError:
            pass
    return removed
