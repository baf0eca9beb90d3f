"""The dataset-analysis job: per-file analyses, transcripts paired with their audio, the report's
status pending -> ready, and the sweep that re-sends a stalled analysis."""

from __future__ import annotations

import csv
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from tests.worker.jobs_support import JobsEnv

from voicesmith.worker.analysis_job import analyze_dataset
from voicesmith.service import dataset_analysis
from voicesmith.service.training import utcnow
from voicesmith.store.blobs import get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import Dataset, DatasetFile, Organization


def _dataset(files: dict[str, bytes | Path]) -> str:
    """A dataset holding `files` (name -> bytes or a file to copy), report pending, as after uploads."""
    org_id, ds_id = f"org_{uuid.uuid4().hex[:8]}", f"ds_{uuid.uuid4().hex[:8]}"
    store = get_blob_store()
    with session_scope() as s:
        s.add(Organization(id=org_id, name=org_id, credits_balance=1, credits_reserved=0))
        s.flush()
        s.add(Dataset(id=ds_id, org_id=org_id, name="d", report_status="pending"))
        s.flush()
        for i, (name, content) in enumerate(files.items()):
            key = f"datasets/{ds_id}/file{i}"
            if isinstance(content, Path):
                with open(content, "rb") as fh:
                    info = store.put_stream(key, fh)
            else:
                info = store.put_bytes(key, content)
            s.add(DatasetFile(id=f"file_{ds_id}_{i}", dataset_id=ds_id, filename=name, size=info.size,
                              sha256=info.sha256, blob_key=key))
    return ds_id


def _clips(speech_data: Path, speaker: str, n: int) -> list[tuple[Path, str]]:
    with open(speech_data / "manifest.tsv") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["speaker"] == speaker]
    # A few seconds each: enough speech to measure, quick to analyse.
    rows = sorted((r for r in rows if 4.0 <= float(r["seconds"]) <= 8.0), key=lambda r: r["path"])
    return [(speech_data / r["path"], r["text"]) for r in rows[:n]]


def test_pair_transcripts_sidecar_wins_over_metadata_csv() -> None:
    files = [DatasetFile(id=str(i), filename=name) for i, name in
             enumerate(["a.wav", "B.flac", "c.mp3", "a.txt", "metadata.csv", "notes.txt"])]
    texts = {"a.txt": "From the sidecar.", "metadata.csv": "a|From the csv.\nb.flac|Bee raw|Bee normalised\n"
             "broken line\nnotes|Ignored, no audio.\n", "notes.txt": "Not a transcript of any audio."}
    pairs = dataset_analysis.pair_transcripts(files, lambda f: texts[f.filename])
    assert pairs == {"0": "From the sidecar.", "1": "Bee normalised"}
    assert [dataset_analysis.is_transcript_file(f.filename) for f in files] == [False] * 3 + [True] * 3


def test_analysis_job_analyses_audio_and_builds_the_report(jobs_env: JobsEnv, speech_data: Path) -> None:
    (clip_a, text_a), (clip_b, _) = _clips(speech_data, "allison_en", 2)
    ds_id = _dataset({
        "first.wav": clip_a,
        "first.txt": text_a.encode(),
        "second.wav": clip_b,
        "broken.wav": b"this is not audio at all",
    })
    assert analyze_dataset(ds_id) == "ready"

    with session_scope() as s:
        ds = s.query(Dataset).filter_by(id=ds_id).one()
        files = {f.filename: f.analysis for f in s.query(DatasetFile).filter_by(dataset_id=ds_id)}
    assert ds.report_status == "ready" and ds.report_updated_at is not None
    assert files["first.txt"] is None  # a transcript, not audio
    assert files["first.wav"]["verdict"] in ("ok", "flagged") and files["first.wav"]["transcript_words"] > 0
    assert files["second.wav"]["usable_seconds"] > 0 and "transcript_words" not in files["second.wav"]
    assert files["broken.wav"]["verdict"] == "rejected"
    assert ds.report["file_count"] == 3 and ds.report["rejected_file_count"] == 1
    # Two short clips are far below the 60 s minimum.
    assert (ds.report["ok_to_train"], ds.report["reason_code"]) == (False, "too_little_speech")
    assert ds.report["usable_seconds"] == pytest.approx(
        files["first.wav"]["usable_seconds"] + files["second.wav"]["usable_seconds"], abs=0.05)

    # A file arriving later: only it is analysed (the others keep their analysis), the report grows.
    before = files["first.wav"]
    store = get_blob_store()
    with session_scope() as s:
        info = store.put_bytes(f"datasets/{ds_id}/late", clip_b.read_bytes())
        s.add(DatasetFile(id=f"file_{ds_id}_late", dataset_id=ds_id, filename="late.wav", size=info.size,
                          sha256=info.sha256, blob_key=info.key))
        s.query(Dataset).filter_by(id=ds_id).update({"report_status": "pending"})
    assert analyze_dataset(ds_id) == "ready"
    with session_scope() as s:
        ds = s.query(Dataset).filter_by(id=ds_id).one()
        first = s.query(DatasetFile).filter_by(dataset_id=ds_id, filename="first.wav").one().analysis
    assert ds.report["file_count"] == 4 and first == before


def test_a_file_without_analysis_keeps_the_report_pending(jobs_env: JobsEnv) -> None:
    ds_id = _dataset({"a.wav": b"x"})
    assert not dataset_analysis.finish_report(ds_id, lambda analyses: {"ok_to_train": True})
    with session_scope() as s:
        assert s.query(Dataset).filter_by(id=ds_id).one().report_status == "pending"


def test_sweep_resends_a_stalled_analysis_once(jobs_env: JobsEnv) -> None:
    ds_id = _dataset({"a.wav": b"x"})
    assert dataset_analysis.sweep_pending(60) == []  # just uploaded: its message is on its way
    later = utcnow() + timedelta(seconds=61)
    assert dataset_analysis.sweep_pending(60, now=later) == [ds_id]
    assert dataset_analysis.sweep_pending(60, now=later + timedelta(seconds=1)) == []


def test_missing_dataset_is_skipped(jobs_env: JobsEnv) -> None:
    assert analyze_dataset("ds_does_not_exist") == "skipped"

