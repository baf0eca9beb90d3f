import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.engine.ingest_signals import concat, music, white_noise
from voicesmith.engine import audio, dataset_report, transcribe
from voicesmith.engine.dataset_report import SourceFile, analyze_file, build_report, prepare_utterances
from voicesmith.engine.wer import wer


def _codes(analysis_or_report: dict) -> set[str]:
    return {r["code"] for r in analysis_or_report["reasons"]}


def _long_file(path: Path, clips, gap_s: float = 0.7) -> Path:
    """One recording made of several corpus clips with pauses between them, at their own rate."""
    parts = [audio.load_audio(c.path) for c in clips]
    rate = parts[0][1]
    sf.write(path, concat([p for p, _ in parts], gap_s, rate), rate)
    return path


@pytest.fixture(scope="module")
def files(speech_clips, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("dataset")
    allison = speech_clips.pick("allison_en", 14, min_s=3.0, max_s=8.0)
    carlo = speech_clips.pick("carlo_it", 4, min_s=3.0, max_s=8.0)
    out = {
        "allison_a": _long_file(d / "allison_a.wav", allison[:7]),
        "allison_b": _long_file(d / "allison_b.wav", allison[7:]),
        "carlo": _long_file(d / "carlo.wav", carlo),
        "short": _long_file(d / "short.wav", speech_clips.pick("allison_en", 1, min_s=2.5, max_s=3.2), gap_s=0.1),
    }
    sf.write(d / "silence.wav", np.zeros(16000 * 20, np.float32), 16000)
    sf.write(d / "noise.wav", white_noise(15), 16000)
    sf.write(d / "music.wav", music(20), 16000)
    out.update(silence=d / "silence.wav", noise=d / "noise.wav", music=d / "music.wav")
    return out


@pytest.fixture(scope="module")
def analyses(files) -> dict[str, dict]:
    return {name: analyze_file(path) for name, path in files.items()}


def test_clean_speech_is_ok_and_json_safe(analyses, files):
    a = analyses["allison_a"]
    assert a["verdict"] == "ok", a["reasons"]
    assert a["filename"] == "allison_a.wav" and a["sample_rate"] == 16000 and a["channels"] == 1
    assert a["duration_seconds"] == pytest.approx(sf.info(files["allison_a"]).duration, abs=0.01)
    assert 0.6 * a["duration_seconds"] < a["usable_seconds"] <= a["duration_seconds"]
    assert a["snr_db"] > 30 and a["clipping_fraction"] == 0.0 and -40 < a["loudness_lufs"] < -10
    assert 150 < a["f0_median_hz"] < 250 and a["f0_p5_hz"] < a["f0_median_hz"] < a["f0_p95_hz"]
    assert len(a["embedding"]) == 256 and a["other_speaker_fraction"] == 0.0
    json.dumps(a, allow_nan=False)


def test_a_good_dataset_is_ready_to_train(analyses):
    report = build_report([analyses["allison_a"], analyses["allison_b"]], min_usable_s=60)
    assert report["ok_to_train"] is True and report["reason_code"] is None
    assert report["usable_seconds"] >= 60 and report["usable_minutes"] == pytest.approx(report["usable_seconds"] / 60, abs=0.01)
    assert report["recommendation"] and "10 minutes" in report["recommendation"]  # < 10 min: recommend more
    assert report["other_speaker_files"] == []
    assert 150 < report["summary"]["f0_median_hz"] < 250
    assert all("embedding" not in f for f in report["files"])
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize(
    "names,code",
    [
        (["silence"], "silence_only"),
        (["noise", "music"], "no_speech"),
        (["noise", "silence"], "no_speech"),
        (["short"], "too_little_speech"),
        (["allison_a", "carlo"], "multiple_speakers"),
    ],
)
def test_bad_datasets_are_refused_with_a_reason(analyses, names, code):
    report = build_report([analyses[n] for n in names], min_usable_s=60)
    assert report["ok_to_train"] is False
    assert report["reason_code"] == code
    assert report["message"] and report["reasons"][0]["code"] == code


def test_bad_files_get_their_own_verdicts(analyses):
    assert _codes(analyses["silence"]) == {"silent"} and analyses["silence"]["verdict"] == "rejected"
    assert _codes(analyses["noise"]) == {"no_speech"} and _codes(analyses["music"]) == {"no_speech"}
    assert analyses["short"]["verdict"] == "ok" and analyses["short"]["usable_seconds"] < 4


def test_a_stray_file_of_another_voice_is_excluded_and_listed(analyses, files, speech_clips, tmp_path):
    stray = analyze_file(_long_file(tmp_path / "june.wav", speech_clips.pick("june_fr", 2)))
    report = build_report([analyses["allison_a"], analyses["allison_b"], stray], min_usable_s=30)
    assert [f["filename"] for f in report["other_speaker_files"]] == ["june.wav"]
    assert report["ok_to_train"] is True  # a small share: excluded, not fatal
    june = next(f for f in report["files"] if f["filename"] == "june.wav")
    assert june["verdict"] == "excluded" and "different_speaker" in _codes(june)
    assert "narrowband" in _codes(june)  # 8 kHz source
    assert report["usable_seconds"] == pytest.approx(analyses["allison_a"]["usable_seconds"] + analyses["allison_b"]["usable_seconds"], abs=0.05)


def test_two_voices_in_one_file_are_found(speech_clips, tmp_path):
    clips = speech_clips.pick("allison_en", 4, min_s=3.0, skip=3) + speech_clips.pick("librivox_en", 3, max_s=15)
    parts = [audio.load_audio(c.path, 16000)[0] for c in clips]
    path = tmp_path / "dialogue.wav"
    sf.write(path, concat(parts, 0.8, 16000), 16000)
    a = analyze_file(path)
    assert "other_speakers" in _codes(a) and a["other_speaker_fraction"] > 0.3
    assert build_report([a], min_usable_s=5)["reason_code"] == "multiple_speakers"


def test_clipped_noisy_and_unreadable_files(speech_clips, tmp_path):
    clip = speech_clips.pick("allison_en", 1, min_s=4.0, skip=5)[0]
    samples, sr = audio.load_audio(clip.path)
    padded = concat([samples], 0.5, sr)
    sf.write(tmp_path / "clipped.wav", np.clip(padded / np.abs(padded).max() * 4, -1, 1), sr)
    assert "clipped" in _codes(analyze_file(tmp_path / "clipped.wav"))
    assert analyze_file(tmp_path / "clipped.wav")["verdict"] == "rejected"

    noise = np.random.default_rng(0).standard_normal(len(padded)).astype(np.float32)
    speech_power = np.mean(samples**2)
    sf.write(tmp_path / "noisy.wav", padded + noise * np.sqrt(speech_power / 10 ** (10 / 10)), sr, subtype="FLOAT")
    noisy = analyze_file(tmp_path / "noisy.wav")
    assert noisy["verdict"] == "flagged" and "noisy" in _codes(noisy) and 7 < noisy["snr_db"] < 13

    (tmp_path / "broken.m4a").write_bytes(b"\x00\x01garbage" * 100)
    broken = analyze_file(tmp_path / "broken.m4a", filename="my take.m4a")
    assert broken["verdict"] == "rejected" and _codes(broken) == {"unreadable"} and broken["filename"] == "my take.m4a"
    assert build_report([broken])["reason_code"] == "unreadable"
    with pytest.raises(FileNotFoundError):
        analyze_file(tmp_path / "deleted.wav")


def test_transcript_that_does_not_fit_the_audio_is_flagged(files, speech_clips):
    clip = speech_clips.pick("allison_en", 1, min_s=4.0)[0]
    assert "transcript_mismatch" not in _codes(analyze_file(clip.path, clip.text))
    assert "transcript_mismatch" in _codes(analyze_file(clip.path, "word " * 200))


# --- prepare_utterances ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(files, speech_clips, tmp_path_factory):
    clips = speech_clips.pick("allison_en", 4, min_s=3.0, max_s=7.0, skip=2)
    stray = speech_clips.pick("carlo_it", 1, min_s=3.0, max_s=5.0)[0]
    d = tmp_path_factory.mktemp("prep")
    with_text = SourceFile(clips[0].path, "with_text.wav", transcript="My own words for this clip.")
    sources = [
        with_text,
        SourceFile(clips[1].path, "plain_1.wav"),
        SourceFile(clips[2].path, "plain_2.wav"),
        SourceFile(clips[3].path, "plain_3.wav"),
        SourceFile(files["silence"], "silence.wav"),
        SourceFile(stray.path, "carlo.wav"),
    ]
    events: list[tuple[float, str]] = []
    result = prepare_utterances(sources, d, lambda f, m: events.append((f, m)))
    return result, sources, d, events, clips


def test_prepare_writes_24k_normalised_utterances_with_text(prepared):
    result, _, workdir, events, clips = prepared
    assert result and all(1.0 <= u.duration <= 15.0 for u in result)
    for u in result:
        samples = u.load()
        assert u.sample_rate == 24000 and sf.info(u.audio_path).samplerate == 24000
        assert len(samples) / 24000 == pytest.approx(u.duration, abs=0.01)
        assert audio.loudness_lufs(samples, 24000) == pytest.approx(-23, abs=1.0)
        assert u.embedding is not None and u.embedding.shape == (256,)
        assert u.audio_path.parent == workdir / "utterances"
    mine = [u for u in result if u.source == "with_text.wav"]
    assert [(u.text, u.text_source) for u in mine] == [("My own words for this clip.", "user")]
    for name, clip in (("plain_1.wav", clips[1]), ("plain_2.wav", clips[2])):
        texts = " ".join(u.text for u in result if u.source == name)
        # The corpus' own text has typos ("Un-indentified or witheld"): a loose bound per clip.
        assert wer(clip.text, texts) <= 0.34 and all(u.text_source == "asr" for u in result if u.source == name)
    assert result.embedding_rate == 8000  # carlo is an 8 kHz file
    assert [f for f, _ in events] == sorted(f for f, _ in events) and events[-1][0] == 1.0


def test_prepare_skips_bad_files_and_excludes_other_voices(prepared):
    result, _, _, _, _ = prepared
    assert result.skipped_files == {"silence.wav": "silent"}
    assert {u.source for u in result} == {"with_text.wav", "plain_1.wav", "plain_2.wav", "plain_3.wav"}
    excluded_sources = {e.utterance.source for e in result.excluded}
    assert excluded_sources == {"carlo.wav"} and all(e.reason == "different_speaker" for e in result.excluded)


def test_prepare_resumes_without_redoing_work(prepared, monkeypatch):
    result, sources, workdir, _, _ = prepared

    def no_asr(*args, **kwargs):
        raise AssertionError("resumed run must not transcribe again")

    monkeypatch.setattr(transcribe, "get_transcriber", no_asr)
    again = prepare_utterances(sources, workdir)
    assert [u.id for u in again] == [u.id for u in result]
    assert [u.text for u in again] == [u.text for u in result]


def test_prepare_places_a_long_user_transcript_on_its_utterances(files, speech_clips, tmp_path):
    clips = speech_clips.pick("allison_en", 5, min_s=3.0, max_s=6.0, skip=1)
    path = _long_file(tmp_path / "chapter.wav", clips, gap_s=0.8)
    text = " ".join(c.text for c in clips)
    result = prepare_utterances([SourceFile(path, transcript=text)], tmp_path / "work")
    assert len(result) >= 2 and all(u.text_source == "user" for u in result)
    assert " ".join(u.text for u in result) == " ".join(text.split())  # every word, once, in order
    for u in result:  # each piece is what is said in that piece
        assert wer(u.text, " ".join(w.word for w in u.words)) <= 0.34, (u.text, [w.word for w in u.words])


def test_prepare_without_asr_for_the_language_leaves_text_empty(files, tmp_path):
    result = prepare_utterances([files["carlo"]], tmp_path, language="it")
    assert result and all(u.text is None and u.text_source is None for u in result)
    assert result.embedding_rate == 8000 and all(u.source_sample_rate == 8000 for u in result)


def test_prepare_is_reexported_for_the_pipeline():
    assert dataset_report.prepare_utterances is prepare_utterances


def test_odd_but_valid_audio_gets_a_verdict_in_words(tmp_path):
    """Every file of the bad-input corpus that the upload accepts as audio (8/24/32-bit, float, 6 channels, 8 and
    192 kHz, lying sizes, DC, clipping, silence, noise, tones) is judged, never raised on, in plain words."""
    from tests.corpus.bad_inputs import upload_cases

    accepted = [c for c in upload_cases() if c.status == 204 and not c.filename.endswith((".txt", ".csv"))]
    assert len(accepted) >= 15
    for case in accepted:
        path = tmp_path / case.name
        path.write_bytes(case.data)
        result = analyze_file(path, filename="take.wav")
        assert result["verdict"] in ("ok", "flagged", "rejected") and result["reasons"], case.name
        for reason in result["reasons"]:
            text = reason["message"]
            assert "None" not in text and str(tmp_path) not in text and "Errno" not in text, (case.name, text)
    silence = next(c for c in accepted if c.name == "silence")
    (tmp_path / "s").write_bytes(silence.data)
    assert analyze_file(tmp_path / "s", filename="s.wav")["reasons"][0]["message"] == "s.wav is silent (every sample is zero)."
