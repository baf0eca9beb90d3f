"""Which local recordings still need uploading, so an interrupted `voicesmith clone` resumes.

The Cartesia upload answers 204 without the new file's id, and its DatasetFile has only id, filename,
size and created_at. A file counts as already uploaded when, in order of trust:
1. the server lists a file with the same sha256 (voicesmith's DatasetFile carries it), or
2. our resume manifest maps the file's sha256 to a file id the server still lists (the manifest lives in
   the user's config dir, keyed by base URL and dataset id, written after each confirmed upload), or
3. the server lists a file with the same filename and size that the manifest does not tie to other
   content. This covers an upload that finished on the server while the CLI was being killed, before
   the manifest was written. The server never lists a half-received upload, so a match is complete.
A file deleted on the server is uploaded again, since only ids the server still lists count.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from voicesmith.client.models import DatasetFile

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".webm"})
METADATA_NAME = "metadata.csv"
HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def find_recordings(folder: Path) -> list[Path]:
    """What to upload from `folder`: its audio files, plus the transcripts the server uses instead of
    speech recognition (`<stem>.txt` beside an audio file, and `metadata.csv` of `file|text` lines).
    Sorted by name; hidden files and sub-folders are skipped."""
    if not folder.exists():
        raise FileNotFoundError(f"folder not found: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"not a folder: {folder}")
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    audio = [p for p in files if p.suffix.lower() in AUDIO_SUFFIXES]
    stems = {p.stem for p in audio}
    transcripts = [
        p for p in files if (p.suffix.lower() == ".txt" and p.stem in stems) or p.name.lower() == METADATA_NAME
    ]
    return sorted(audio + transcripts) if audio else []


def hash_file(path: Path) -> LocalFile:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return LocalFile(path, path.stat().st_size, digest.hexdigest())


class ResumeManifest:
    """sha256 -> server file id for one (base URL, dataset), persisted as JSON after every change."""

    def __init__(self, path: Path, base_url: str, dataset_id: str) -> None:
        self.path = path
        self._key = f"{base_url.rstrip('/')} {dataset_id}"
        self._all = self._read()
        self.entries: dict[str, str] = dict(self._all.get(self._key, {}))

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            # A missing or damaged manifest only costs re-checking by filename and size.
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, sha256: str, file_id: str) -> None:
        self.entries[sha256] = file_id
        self._all[self._key] = self.entries
        self._write()

    def _write(self) -> None:
        # Atomic replace: a CLI killed mid-write must not leave a truncated manifest behind.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".uploads-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(self._all, fh, indent=1, sort_keys=True)
        os.replace(tmp, self.path)


@dataclass
class UploadPlan:
    done: dict[Path, str]  # local path -> server file id already holding its content
    todo: list[LocalFile]


def plan_uploads(local: Iterable[LocalFile], remote: list[DatasetFile], manifest: ResumeManifest) -> UploadPlan:
    by_id = {f.id: f for f in remote}
    by_sha = {f.sha256: f.id for f in remote if f.sha256}
    # Server files the manifest ties to some content: they cannot stand for different content.
    claimed = {file_id: sha for sha, file_id in manifest.entries.items() if file_id in by_id}
    used: set[str] = set()
    done: dict[Path, str] = {}
    todo: list[LocalFile] = []
    for lf in local:
        file_id = by_sha.get(lf.sha256)
        if file_id is None and manifest.entries.get(lf.sha256) in by_id:
            file_id = manifest.entries[lf.sha256]
        if file_id is None and not by_sha:
            file_id = next(
                (
                    f.id
                    for f in remote
                    if f.filename == lf.name and f.size == lf.size and f.id not in used and claimed.get(f.id, lf.sha256) == lf.sha256
                ),
                None,
            )
        if file_id is None:
            todo.append(lf)
        else:
            used.add(file_id)
            done[lf.path] = file_id
    return UploadPlan(done, todo)


def identify_upload(lf: LocalFile, remote: list[DatasetFile], known_ids: set[str]) -> str | None:
    """The id of the file just uploaded: the server's sha256 if given, else the new file with its name and size."""
    fresh = [f for f in remote if f.id not in known_ids]
    for f in fresh:
        if f.sha256 == lf.sha256:
            return f.id
    matches = [f for f in fresh if f.sha256 is None and f.filename == lf.name and f.size == lf.size]
    return matches[-1].id if matches else None
