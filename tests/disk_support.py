"""A small filesystem that really fills up: a tmpfs mounted for one test (root only; skipped otherwise)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FAKE_SIBLING = "tests/api/test_datasets_api.py fakes a full disk instead"


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's spelling: 20m) mounted at `path`, unmounted afterwards whatever happens."""
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip(f"mounting a small tmpfs needs root; {FAKE_SIBLING}")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); {FAKE_SIBLING}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)  # still busy: detach it now, freed when unused


def fill(folder: Path) -> None:
    """Write a file into `folder` until its filesystem is full."""
    with open(folder / "filler", "wb", buffering=0) as fh:
        block = b"\0" * 65536
        while True:
            try:
                fh.write(block)
            except OSError:
                block = block[: len(block) // 2]
                if not block:
                    return
