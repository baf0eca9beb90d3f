"""What both blob stores (store/blobs.py, store/blobs_s3.py) share: the key rules, the errors, BlobInfo and the
atomic copy to a file."""

from __future__ import annotations

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


def copy_atomically(src: BinaryIO, dest: Path, tmp_dir: Path) -> int:
    """Stream `src` into `dest` through a temp file in `tmp_dir` (same filesystem) and a rename; returns the size."""
    tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
    size = 0
    try:
        with open(tmp, "wb") as fh:
            while chunk := src.read(CHUNK):
                fh.write(chunk)
                size += len(chunk)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def remove_stale_parts(folder: Path, older_than_s: float) -> int:
    """Delete the `*.part` temp files in `folder` that crashed writers left over `older_than_s` ago; how many."""
    cutoff = time.time() - older_than_s
    removed = 0
    for p in folder.glob("*.part"):
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed
