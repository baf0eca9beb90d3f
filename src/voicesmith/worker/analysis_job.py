"""The dataset-analysis job: analyse each new file, then rebuild the dataset's quality report."""

from __future__ import annotations

import logging

from voicesmith.config import get_settings
from voicesmith.engine import dataset_report
from voicesmith.service import dataset_analysis

log = logging.getLogger(__name__)


def analyze_dataset(dataset_id: str) -> str:
    """Analyse every audio file that has no analysis yet, then build the dataset report.

    Loops until the report could be built over all files, so a file uploaded while this runs is
    included by this run rather than left for a second message.
    """
    min_usable_s = get_settings().min_usable_speech_s
    for _ in range(100):  # bounded: each pass analyses what arrived meanwhile
        audio = dataset_analysis.dataset_audio(dataset_id)
        if audio is None:
            return "skipped"
        for entry in audio:
            if entry.analysis is not None:
                continue
            try:
                analysis = dataset_report.analyze_file(entry.path, entry.transcript, filename=entry.filename)
            except FileNotFoundError:
                continue  # deleted while we worked; the next pass no longer lists it
            except Exception as exc:  # noqa: BLE001 (one file the analyser chokes on is a verdict, not a dead report)
                log.exception("analysis of %s (%s) failed", entry.filename, entry.file_id)
                analysis = _analysis_failed(entry.filename, exc)
            analysis["file_id"] = entry.file_id
            dataset_analysis.store_file_analysis(dataset_id, entry.file_id, analysis)
        try:
            done = dataset_analysis.finish_report(
                dataset_id, lambda analyses: dataset_report.build_report(analyses, min_usable_s)
            )
        except Exception as exc:  # noqa: BLE001
            log.exception("dataset report for %s failed", dataset_id)
            dataset_analysis.fail_report(dataset_id, f"Building the report failed: {type(exc).__name__}: {exc}")
            return "failed"
        if done:
            return "ready"
    return "pending"


def _analysis_failed(filename: str, exc: Exception) -> dict:
    """A rejected verdict in analyze_file's shape, for a file the analyser raised on."""
    message = f"{filename} could not be analysed ({type(exc).__name__}: {exc})."
    return {
        "filename": filename,
        "verdict": "rejected",
        "reasons": [{"code": "analysis_failed", "severity": "reject", "message": message}],
        "duration_seconds": 0.0,
        "speech_seconds": 0.0,
        "usable_seconds": 0.0,
    }
