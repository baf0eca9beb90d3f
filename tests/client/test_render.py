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
    # The shape engine.evaluate.build_report produces (voices matched by name), plus a voice_id match.
    voices = [_voice("v1", "Ann — closest match"), _voice("v2", "Ann — clear")]
    report = {
        "held_out_utterances": 5,
        "floor": {"voice": "jf_gongitsune", "similarity": 0.7062},
        "ceiling": {"similarity": 0.9344, "what": "held-out real recordings"},
        "speaker": {"f0_median_hz": 195.1, "rate_phones_per_s": 12.16, "real_wer": 0.0},
        "wer_note": None,
        "voices": [
            {"voice_id": "v1", "name": "renamed since", "similarity": 0.7556, "gap_closed": 0.217, "wer": 0.0,
             "details": {"seconds": 326.7, "bespoke": {"used": False, "refused_by": ["spectrum"]}}},
            {"key": "clear", "name": "Ann — clear", "similarity": 0.7663, "gap_closed": 0.264, "wer": 0.05,
             "new_metric": 3},
            {"key": "style_a", "name": "Ann — brighter", "similarity": 0.77, "details": {"bespoke": {"used": True}}},
        ],
    }
    figures = render.report_figures(report, voices + [_voice("v3", "Ann — brighter")])
    # The decoder a voice speaks through, where the fine-tune trained one, and what kept Kokoro's.
    assert figures["v1"] == {"similarity": "0.756", "gap closed": "22%", "WER": "0%",
                             "decoder": "Kokoro (refused: spectrum)"}
    assert figures["v2"] == {"similarity": "0.766", "gap closed": "26%", "WER": "5%", "new metric": "3"}
    assert figures["v3"] == {"similarity": "0.770", "decoder": "trained"}
    headline = render.report_headline(report)
    assert "best stock voice (jf_gongitsune) 0.706" in headline[0] and "recordings 0.934" in headline[0]
    assert headline[1] == "speaker: median pitch Hz 195, phones/s 12.2, WER of the real recordings 0%"
    assert "5 held-out clips" in headline[2] and len(headline) == 3
    text = _text(render.voices_table(voices, figures))
    assert "gap closed" in text and "26%" in text


def test_the_checks_the_search_did_not_optimise_get_their_own_table() -> None:
    voices = [_voice("v1", "Ann — closest match"), _voice("v2", "Ann — clear")]
    report = {
        "likeness": {"mfcc_frechet": {}, "ltas_db": {}, "f0_semitones": {},
                     "quality_dnsmos": {"stock_mean": 3.32, "real_held_out": 3.41}},
        "voices": [
            {"voice_id": "v1", "likeness": {"mfcc_frechet": {"value": 9.7, "gap_closed": 0.69},
                                            "ltas_db": {"value": 1.72, "gap_closed": 0.87},
                                            "f0_semitones": {"value": 1.19, "gap_closed": 0.75},
                                            "quality_dnsmos": {"value": 3.38}}},
            {"voice_id": "v2", "likeness": {"mfcc_frechet": {"value": 10.2, "gap_closed": None}}},
        ],
    }
    lines = _text(render.likeness_table(report, voices)).splitlines()
    assert "quality of 5: stock voices 3.32, real recordings 3.41" in " ".join(lines)
    cells = lambda name: [c.strip() for c in next(line for line in lines if name in line).split("│")[2:-1]]  # noqa: E731
    assert cells("closest match") == ["69%", "87%", "75%", "3.38"]
    assert cells("clear") == ["-", "-", "-", "-"]  # not measured: said, not guessed
    assert render.likeness_table({"voices": []}, voices) is None  # a report from an older server


def test_durations_and_sizes_read_naturally() -> None:
    assert [render.duration(s) for s in (None, 4.4, 65, 3725)] == ["?", "4s", "1m05s", "1h02m05s"]
    assert [render.size(n) for n in (512, 176_568, 3_200_000_000)] == ["512 B", "176.6 kB", "3.2 GB"]
