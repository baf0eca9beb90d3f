"""How the CLI turns the server's reports into tables and lines (pure formatting)."""

from __future__ import annotations

from rich.console import Console

from voicesmith.client import render
from voicesmith.client.models import DatasetReport, Voice


def _text(renderable) -> str:
    console = Console(width=200, record=True)
    console.print(renderable)
    return console.export_text()


def _voice(vid: str, name: str) -> Voice:
    return Voice(vid, name, "", "en", "", True)


def test_ready_report_summary_says_how_much_speech_and_why_not() -> None:
    report = DatasetReport.from_json({
        "status": "ready",
        "report": {
            "ok_to_train": False, "usable_seconds": 42.0, "total_seconds": 125.0,
            "reasons": [{"code": "too_little_speech", "severity": "reject", "message": "Only 42 s of usable speech."}],
            "recommendation": "Upload at least 10 minutes.",
        },
    })
    text = _text(render.dataset_report_summary(report))
    assert "42s of 2m05s" in text and "not enough usable speech" in text
    assert "Only 42 s of usable speech. [too_little_speech]" in text and "10 minutes" in text


def test_failed_report_shows_its_reasons() -> None:
    report = DatasetReport.from_json({"status": "failed", "report": {"reasons": ["analyser crashed"]}})
    assert "quality report failed: analyser crashed" in _text(render.dataset_report_summary(report))


def test_per_file_verdicts_come_from_the_report_or_the_files_analyses() -> None:
    files = [{"id": "f1", "filename": "a.wav", "analysis": {"verdict": "ok", "duration_seconds": 5.0}},
             {"id": "f2", "filename": "b.wav", "analysis": {"verdict": "rejected", "reasons": [{"message": "silent"}]}}]
    report = DatasetReport.from_json({"status": "pending", "report": None, "files": files})
    assert [f["verdict"] for f in report.files] == ["ok", "rejected"]
    text = _text(render.dataset_report_files(report, only_problems=True))
    assert "b.wav" in text and "silent" in text and "a.wav" not in text and "(1 of 2)" in text


def test_fine_tune_report_figures_become_columns_per_voice() -> None:
    voices = [_voice("v1", "Close"), _voice("v2", "Clear")]
    report = {"held_out_utterances": 6, "floor": {"voice": "jf_alpha", "similarity": 0.67}, "stock": {"a": 0.5}, "voices": [
        {"voice_id": "v1", "similarity": 0.8812, "wer": 0.05, "label": "close"},
        {"name": "Clear", "similarity": 0.85, "wer": 0.02},
    ]}
    figures = render.report_figures(report, voices)
    assert figures == {"v1": {"similarity": "0.881", "wer": "0.05"}, "v2": {"similarity": "0.85", "wer": "0.02"}}
    assert render.report_headline(report) == ["held out utterances: 6", "floor: similarity 0.67"]
    text = _text(render.voices_table(voices, figures))
    assert "similarity" in text and "0.881" in text


def test_durations_and_sizes_read_naturally() -> None:
    assert [render.duration(s) for s in (None, 4.4, 65, 3725)] == ["?", "4s", "1m05s", "1h02m05s"]
    assert [render.size(n) for n in (512, 176_568, 3_200_000_000)] == ["512 B", "176.6 kB", "3.2 GB"]
