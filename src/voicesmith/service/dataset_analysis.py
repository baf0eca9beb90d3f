"""What a dataset holds, as the worker sees it: audio files with their transcripts, and the quality
report's bookkeeping (per-file analyses, the dataset report, report_status pending -> ready | failed).

Users may upload transcripts next to the audio (issue 4): `clip.txt` beside `clip.wav`, or a
`metadata.csv` of `file|text` lines (LJSpeech style; with a third, normalised column, that one is
used). Those files are text, not audio: they are paired with the audio here and never analysed.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from sqlalchemy import func, select, update

from voicesmith.store.blobs import BlobNotFound, get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import Dataset, DatasetFile, as_utc, utcnow

log = logging.getLogger(__name__)

_TRANSCRIPT_SUFFIX = ".txt"
_METADATA_NAME = "metadata.csv"
MAX_TEXT_BYTES = 16 * 1024 * 1024  # a metadata.csv for hours of clips is well under this


@dataclass(frozen=True)
class AudioEntry:
    file_id: str
    path: Path
    filename: str
    content_type: str | None
    transcript: str | None
    analysis: dict | None


def is_transcript_file(filename: str) -> bool:
    name = PurePosixPath(filename).name.lower()
    return name.endswith(_TRANSCRIPT_SUFFIX) or name == _METADATA_NAME


def _stem(filename: str) -> str:
    return PurePosixPath(filename).stem.lower()


def _read_text(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")


def parse_metadata_csv(text: str) -> dict[str, str]:
    """`file|text` or `file|text|normalised text` lines -> {stem: text}; malformed lines are skipped."""
    out: dict[str, str] = {}
    for row in csv.reader(io.StringIO(text), delimiter="|", quoting=csv.QUOTE_NONE):
        if len(row) < 2 or not row[0].strip():
            continue
        spoken = (row[2] if len(row) >= 3 and row[2].strip() else row[1]).strip()
        if spoken:
            out[_stem(row[0].strip())] = spoken
    return out


def pair_transcripts(files: list[DatasetFile], read: Callable[[DatasetFile], str]) -> dict[str, str]:
    """{audio file id: transcript}. A `.txt` with the same stem wins over a metadata.csv line."""
    by_stem: dict[str, str] = {}
    sidecars: dict[str, str] = {}
    for f in files:
        name = PurePosixPath(f.filename).name.lower()
        try:
            if name == _METADATA_NAME:
                by_stem.update(parse_metadata_csv(read(f)))
            elif name.endswith(_TRANSCRIPT_SUFFIX):
                text = read(f).strip()
                if text:
                    sidecars[_stem(f.filename)] = text
        except OSError:
            log.warning("could not read transcript file %s (%s)", f.filename, f.id)
    by_stem.update(sidecars)
    return {
        f.id: by_stem[_stem(f.filename)]
        for f in files
        if not is_transcript_file(f.filename) and _stem(f.filename) in by_stem
    }


def dataset_audio(dataset_id: str) -> list[AudioEntry] | None:
    """The dataset's audio files in upload order with their transcripts; None if it no longer exists."""
    store = get_blob_store()
    with session_scope() as s:
        if s.scalar(select(Dataset.id).where(Dataset.id == dataset_id)) is None:
            return None
        files = list(
            s.scalars(select(DatasetFile).where(DatasetFile.dataset_id == dataset_id).order_by(DatasetFile.seq))
        )

    def read(f: DatasetFile) -> str:
        try:
            return _read_text(store.fetch(f.blob_key))
        except BlobNotFound:
            raise FileNotFoundError(f.blob_key) from None

    transcripts = pair_transcripts(files, read)
    entries = []
    for f in files:
        if is_transcript_file(f.filename):
            continue
        try:
            # A file path for the engine: the blob itself, or this node's cached copy of it (object store).
            path = store.fetch(f.blob_key)
        except BlobNotFound:
            log.info("file %s of dataset %s was deleted meanwhile; left out", f.id, dataset_id)
            continue
        entries.append(AudioEntry(file_id=f.id, path=path, filename=f.filename, content_type=f.content_type,
                                  transcript=transcripts.get(f.id), analysis=f.analysis))
    return entries


def store_file_analysis(dataset_id: str, file_id: str, analysis: dict) -> None:
    now = utcnow()
    with session_scope() as s:
        s.execute(
            update(DatasetFile)
            .where(DatasetFile.id == file_id)
            .values(analysis=analysis)
            .execution_options(synchronize_session=False)
        )
        # Also the analysis's sign of life: the sweep leaves a dataset alone while this moves.
        s.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(report_updated_at=now)
            .execution_options(synchronize_session=False)
        )


def finish_report(dataset_id: str, build: Callable[[list[dict]], dict]) -> bool:
    """Build and store the dataset report if every audio file has its analysis.

    False means a file arrived (or lost its analysis) since the caller looked: the report stays
    pending and the caller analyses again. The dataset row is written first, so the read of the
    files below happens under the write lock and an upload cannot slip between read and write.
    """
    now = utcnow()
    with session_scope() as s:
        touched = s.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(report_updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if touched.rowcount != 1:
            return True  # deleted meanwhile: nothing left to report on
        files = list(
            s.scalars(select(DatasetFile).where(DatasetFile.dataset_id == dataset_id).order_by(DatasetFile.seq))
        )
        audio = [f for f in files if not is_transcript_file(f.filename)]
        if any(f.analysis is None for f in audio):
            return False
        report = build([f.analysis for f in audio])
        s.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(report=report, report_status="ready", report_updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return True


def fail_report(dataset_id: str, message: str, error_code: str = "analysis_failed") -> None:
    with session_scope() as s:
        s.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(
                report_status="failed",
                report={
                    "ok_to_train": False,
                    "reason_code": error_code,
                    "message": message,
                    "reasons": [{"code": error_code, "severity": "reject", "message": message}],
                },
                report_updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )


def sweep_pending(stale_after_s: float, now: datetime | None = None) -> list[str]:
    """Datasets whose report has been pending with no analysis activity (no file stored, no upload)
    for stale_after_s: their message was lost, e.g. a worker died mid-analysis. The re-send is a
    compare-and-set on report_updated_at, so of several sweepers one wins."""
    now = now or utcnow()
    stale_before = now - timedelta(seconds=stale_after_s)
    with session_scope() as s:
        newest_file = (
            select(func.max(DatasetFile.created_at)).where(DatasetFile.dataset_id == Dataset.id).scalar_subquery()
        )
        rows = s.execute(
            select(Dataset.id, Dataset.report_updated_at, Dataset.created_at, newest_file.label("newest_file"))
            .where(Dataset.report_status == "pending")
        ).all()
    winners: list[str] = []
    for row in rows:
        last = max(as_utc(t) for t in (row.report_updated_at, row.created_at, row.newest_file) if t is not None)
        if last >= stale_before:
            continue
        with session_scope() as s:
            won = s.execute(
                update(Dataset)
                .where(
                    Dataset.id == row.id,
                    Dataset.report_status == "pending",
                    func.coalesce(Dataset.report_updated_at, Dataset.created_at) < stale_before,
                )
                .values(report_updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount == 1:
                winners.append(row.id)
    return winners
