"""Fine-tune checkpoints in the blob store, so a job killed on one machine resumes on another.

A fine-tune works in its workdir (`<data>/work/<id>/`), where the trainer keeps each stage's result and the
checkpoints of its searches (docs/reliability.md). With an object store (VOICESMITH_BLOB_URL), that directory
is copied to `checkpoints/<id>/files/...` in the store every VOICESMITH_CHECKPOINT_SYNC_S seconds while the
job runs, and copied back when a worker on another machine claims the job.

- A round uploads the files that changed since the last round, oldest change first, so a stage's result is
  never in the store without the earlier files it was computed from; a file that changes while it is being
  read ends the round (it goes up, whole, next time). Files gone from the workdir are deleted from the store.
  Then `checkpoints/<id>/synced.json` records the round: who, and the time its snapshot was taken.
- On a claim, the store's copy replaces the workdir unless the workdir is at least as new: it holds a change
  made after the store's last round (this machine ran the job last and got further), or it is the very
  round the store holds. The restored workdir is what the trainer would find after a kill on its own
  machine, at most one sync interval older: it resumes from it.
- A worker that lost its job stops syncing at once (its rounds check ownership first); the job's end
  (completed, failed, cancelled) deletes the copy.

With the filesystem store there is nothing to do: every machine that runs jobs shares `<data>` already.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from voicesmith.config import get_settings
from voicesmith.store.blobs import BlobNotFound, BlobStore, get_blob_store

log = logging.getLogger(__name__)

_MARKER = ".checkpoint-sync.json"  # in the workdir: the round this workdir was last synced as (or restored from)


def _prefix(fine_tune_id: str) -> str:
    return f"checkpoints/{fine_tune_id}"


def _is_temp(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    # The trainer's writes in progress (`x.json.tmp`, `.id.wav.tmp`) and our own marker.
    return name.endswith(".tmp") or name == _MARKER


class CheckpointSync:
    """Keeps one fine-tune's workdir and its copy in the blob store in step (see the module docstring)."""

    def __init__(self, fine_tune_id: str, worker_id: str, workdir: Path, store: BlobStore,
                 still_owner: Callable[[], bool] = lambda: True) -> None:
        self.fine_tune_id = fine_tune_id
        self.worker_id = worker_id
        self.workdir = Path(workdir)
        self.store = store
        self.still_owner = still_owner
        self._prefix = _prefix(fine_tune_id)
        self._sent: dict[str, tuple[int, int]] = {}  # relative path -> (size, mtime_ns) of what the store holds
        self._lock = threading.Lock()  # one round at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- restore ---------------------------------------------------------------------------------------------

    def _store_marker(self) -> dict | None:
        try:
            return json.loads(self.store.get_bytes(f"{self._prefix}/synced.json"))
        except (BlobNotFound, ValueError):
            return None

    def _local_files(self) -> dict[str, os.stat_result]:
        out: dict[str, os.stat_result] = {}
        if not self.workdir.is_dir():
            return out
        for root, _, files in os.walk(self.workdir):
            for name in files:
                path = Path(root) / name
                rel = path.relative_to(self.workdir).as_posix()
                if _is_temp(rel):
                    continue
                try:
                    out[rel] = path.stat()
                except FileNotFoundError:
                    pass
        return out

    def restore(self) -> int:
        """Bring the store's copy into the workdir if it is newer than what is here; returns the files restored."""
        marker = self._store_marker()
        local = self._local_files()
        if marker is None:
            return 0  # nothing synced yet: whatever is here (maybe nothing) is all there is
        try:
            local_marker = json.loads((self.workdir / _MARKER).read_text())
        except (FileNotFoundError, ValueError):
            local_marker = None
        newest_local = max((st.st_mtime for st in local.values()), default=0.0)
        if local_marker == marker or newest_local > marker["at"]:
            log.info("fine-tune %s: the workdir here is as new as its stored checkpoint; kept", self.fine_tune_id)
            return 0
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        files_prefix = f"{self._prefix}/files/"
        restored = 0
        for key in self.store.list_keys(f"{self._prefix}/files"):
            rel = key[len(files_prefix):]
            dest = self.workdir / rel
            try:
                self.store.get_file(key, dest)
            except BlobNotFound:
                continue  # deleted by a round that was under way; that round's files say what matters
            st = dest.stat()
            self._sent[rel] = (st.st_size, st.st_mtime_ns)
            restored += 1
        (self.workdir / _MARKER).write_text(json.dumps(marker))
        log.info("fine-tune %s: restored %d checkpoint files synced by %s", self.fine_tune_id, restored,
                 marker.get("worker"))
        return restored

    # --- sync ------------------------------------------------------------------------------------------------

    def sync_once(self) -> int:
        """One round: upload what changed (oldest change first), delete what went, record the round. Returns the
        files uploaded; does nothing once the job belongs to another worker."""
        with self._lock:
            if not self.still_owner():
                return 0
            taken_at = time.time()
            local = self._local_files()
            changed = sorted((st.st_mtime_ns, rel) for rel, st in local.items()
                             if self._sent.get(rel) != (st.st_size, st.st_mtime_ns))
            uploaded = 0
            complete = True
            for _, rel in changed:
                path = self.workdir / rel
                try:
                    before = path.stat()
                    self.store.put_file(f"{self._prefix}/files/{rel}", path)
                    after = path.stat()
                except FileNotFoundError:
                    complete = False  # replaced or removed meanwhile: next round
                    break
                if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
                    complete = False  # written while we read it: whole next round
                    break
                self._sent[rel] = (after.st_size, after.st_mtime_ns)
                uploaded += 1
                if not self.still_owner():
                    return uploaded
            for rel in [r for r in self._sent if r not in local]:
                self.store.delete(f"{self._prefix}/files/{rel}")
                del self._sent[rel]
            if complete:
                marker = {"worker": self.worker_id, "at": taken_at}
                self.store.put_bytes(f"{self._prefix}/synced.json", json.dumps(marker).encode())
                (self.workdir / _MARKER).write_text(json.dumps(marker))
            return uploaded

    def start(self, interval_s: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.sync_once()
                except Exception:  # noqa: BLE001 (the store hiccuped: the next round sends it)
                    log.exception("checkpoint sync of fine-tune %s failed", self.fine_tune_id)
                if not self.still_owner():
                    return

        self._thread = threading.Thread(target=loop, name=f"checkpoints-{self.fine_tune_id}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)


def sync_enabled() -> bool:
    return get_blob_store().remote and get_settings().checkpoint_sync_s > 0


@contextmanager
def synced_workdir(fine_tune_id: str, worker_id: str, workdir: Path,
                   still_owner: Callable[[], bool]) -> Iterator[CheckpointSync | None]:
    """Around a fine-tune's run: restore its workdir from the blob store, keep the store's copy up to date while the
    body runs. Yields None (and does nothing) unless blobs are in an object store."""
    if not sync_enabled():
        yield None
        return
    sync = CheckpointSync(fine_tune_id, worker_id, workdir, get_blob_store(), still_owner)
    try:
        sync.restore()
    except Exception:  # noqa: BLE001 (the store is unreachable: train from what is here rather than not at all)
        log.exception("fine-tune %s: could not restore its checkpoints; going on from the local workdir", fine_tune_id)
    sync.start(get_settings().checkpoint_sync_s)
    try:
        yield sync
    finally:
        sync.stop()


def discard(fine_tune_id: str) -> None:
    """The job has ended: its stored checkpoints are of no further use."""
    if get_blob_store().remote:
        try:
            get_blob_store().delete_prefix(_prefix(fine_tune_id))
        except Exception:  # noqa: BLE001 (garbage left in the bucket, not a failed job)
            log.exception("could not delete the stored checkpoints of fine-tune %s", fine_tune_id)
