"""Writing files so that a kill at any instant leaves either the old file or the new one, never a torn one.

Fine-tunes resume from what their stages left in the workdir, and several processes (server, workers)
may build the same model file at once: both rely on a write going to a temp file beside the target
and a rename into place. A file that does not parse reads as absent, so a stage simply runs again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Run `write(tmp)` on a temp file next to `path`, fsync it, then rename it into place.

    Concurrent writers each write their own temp file and the last rename wins, so readers never
    see a partial file.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; model caches are shared by the server and workers
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data)))


def load_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable (then the work is done again)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
