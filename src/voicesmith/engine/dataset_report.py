"""Per-file analysis and the dataset quality report shown before any training starts.

`analyze_file` decodes one upload and measures it (duration, usable speech, loudness, SNR, clipping,
speech ratio, pitch, speaker embedding) into a JSON-safe dict with a verdict: ok, flagged (usable,
with warnings) or rejected (not used). `build_report` combines those dicts into the dataset report:
usable minutes, per-file verdicts, speakers that do not belong, and whether training may start.
The fine-tune's own data preparation is `prepare_utterances` (in `voicesmith.engine.utterances`,
re-exported here as the pipeline's entry point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicesmith.engine import audio as audio_mod
from voicesmith.engine import segment as segment_mod
from voicesmith.engine import speaker as speaker_mod
from voicesmith.engine.utterances import SourceFile, Utterance, prepare_utterances  # noqa: F401 (pipeline entry)
from voicesmith.engine.wer import normalize_words

ANALYSIS_VERSION = 1
ANALYSIS_RATE = 16000

# Thresholds. Measured evidence: SNR estimates track white noise added to real clips at 0-30 dB
# within ~1.3 dB, clean corpus clips estimate >= 31 dB (5th percentile; audio.estimate_snr_db);
# clipping is 0 on clean real clips, >= 1.1% driven 2x into full scale, >= 8.8% driven 4x
# (tests/engine/test_audio.py). Over the whole speech corpus (1000 files of >= 1 s with speech, all
# four speakers) no file is flagged noisy or clipped, and with the speaker thresholds in speaker.py
# no allison_en (553) or carlo_it (580) file is excluded as another voice.
SILENT_PEAK_DBFS = -60.0  # nothing in the file rises above this: silence or a dead microphone
MIN_FILE_S = 1.0  # the shortest utterance we train on
MIN_SPEECH_S = 0.5  # less detected speech than this: no speech (music, noise, tones)
REJECT_SNR_DB = 5.0  # speech barely above the noise: rejected
FLAG_SNR_DB = 15.0  # noticeable noise: flagged, still used
REJECT_CLIPPING = 0.05  # 5% of samples on a clipping plateau: the waveform is destroyed
FLAG_CLIPPING = 0.001  # 0.1%: audible distortion on peaks
LOW_SPEECH_RATIO = 0.3  # mostly silence or non-speech: flagged
# Held notes in the "speech": music or singing. Real speech (100 clips, 4 speakers): 0.000 at most;
# synthetic chords+drums 0.29, a melody of held notes 0.997.
SUSTAINED_PITCH_FLAG = 0.2
NARROWBAND_HZ = 16000  # under this the voice is band-limited (telephone): informational
MAX_EMBED_UTTERANCES = 40  # per file, evenly spread: enough for a stable mean and an outlier check
MAX_PITCH_SPEECH_S = 120.0  # pitch is estimated on at most this much speech per file
# Share of a dataset's usable speech that may come from other speakers before the whole dataset is
# refused: a few stray files are excluded, a dataset that is a mix of voices is not guessed at.
MAX_OTHER_SPEAKER_FRACTION = 0.25
RECOMMENDED_USABLE_S = 600.0


def _reason(code: str, severity: str, message: str) -> dict[str, str]:
    return {"code": code, "severity": severity, "message": message}


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _rejected(filename: str, reason: dict[str, str], **fields: Any) -> dict[str, Any]:
    result = {
        "version": ANALYSIS_VERSION,
        "filename": filename,
        "duration_seconds": 0.0,
        "speech_seconds": 0.0,
        **fields,
    }
    result.update(verdict="rejected", reasons=[reason], usable_seconds=0.0)
    return result


def analyze_file(path: Path, transcript: str | None = None, *, filename: str | None = None) -> dict[str, Any]:
    """Measure one audio file and judge it. Never raises for bad audio: an unreadable file is a
    rejected verdict. `transcript` (the user's text for this file, if any) is sanity-checked against
    the amount of speech. Returns a JSON-safe dict (see module docstring; `embedding` is a list of 256
    floats or None). Raises FileNotFoundError if `path` does not exist (deleted, not a verdict)."""
    path = Path(path)
    name = filename or path.name
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        decoded = audio_mod.decode(path, [ANALYSIS_RATE])
    except audio_mod.AudioDecodeError as exc:
        return _rejected(name, _reason("unreadable", "reject", f"{name} could not be read as audio ({exc})."))
    audio = decoded.signals[ANALYSIS_RATE]
    duration = decoded.duration_s
    base = {
        "duration_seconds": round(duration, 3),
        "sample_rate": decoded.native_rate,
        "channels": decoded.channels,
        "clipping_fraction": round(decoded.clipping_fraction, 6),
        "peak_dbfs": _round(audio_mod.peak_dbfs(audio)),
    }
    peak = audio_mod.peak_dbfs(audio)
    if duration < 0.05 or peak < SILENT_PEAK_DBFS:
        level = f"peak {_round(peak, 1)} dBFS" if math.isfinite(peak) else "every sample is zero"
        return _rejected(name, _reason("silent", "reject", f"{name} is silent ({level})."), **base)

    if duration < MIN_FILE_S:
        return _rejected(
            name,
            _reason("too_short", "reject", f"{name} is only {duration:.1f} s long; utterances need at least {MIN_FILE_S:.0f} s."),
            **base,
        )
    seg = segment_mod.segment(audio, ANALYSIS_RATE)
    base.update(
        loudness_lufs=_round(audio_mod.loudness_lufs(audio, ANALYSIS_RATE)),
        speech_seconds=round(seg.speech_s, 2),
        speech_ratio=round(seg.speech_ratio, 3),
        utterance_count=len(seg.utterances),
    )
    if seg.speech_s < MIN_SPEECH_S:
        return _rejected(
            name,
            _reason("no_speech", "reject", f"No speech was detected in {name}: it sounds like music, noise or tones."),
            **base,
        )

    mask = segment_mod.speech_mask(seg.regions, len(seg.probs))
    snr = audio_mod.estimate_snr_db(audio, ANALYSIS_RATE, mask, frame_s=segment_mod.FRAME_S)
    speech_audio = _speech_sample(audio, seg.regions, MAX_PITCH_SPEECH_S)
    pitch = audio_mod.pitch_summary(speech_audio, ANALYSIS_RATE)
    base.update(
        snr_db=_round(snr, 1),
        f0_median_hz=_round(pitch["median_hz"], 1) if pitch else None,
        f0_p5_hz=_round(pitch["p5_hz"], 1) if pitch else None,
        f0_p95_hz=_round(pitch["p95_hz"], 1) if pitch else None,
        f0_spread_semitones=_round(pitch["spread_semitones"]) if pitch else None,
        sustained_pitch_fraction=_round(pitch["sustained_fraction"], 3) if pitch else None,
    )

    voice = _file_speakers(audio, decoded.native_rate, seg.utterances)
    other_speaker_fraction = voice.other_fraction
    usable = seg.usable_s * (1.0 - other_speaker_fraction)
    base.update(
        embedding=_floats(voice.embedding),
        embedding_narrowband=_floats(voice.narrowband),
        embedded_seconds=round(voice.seconds, 2),
        other_speaker_fraction=round(other_speaker_fraction, 3),
        other_speaker_seconds=round(seg.usable_s * other_speaker_fraction, 2),
        other_speaker_spans=voice.other_spans,
    )

    reasons = _judge(name, decoded.native_rate, decoded.clipping_fraction, snr, seg, pitch, usable, other_speaker_fraction)
    if transcript is not None:
        reasons += _check_transcript(name, transcript, seg.speech_s)
        base["transcript_words"] = len(normalize_words(transcript))
    verdict = "rejected" if any(r["severity"] == "reject" for r in reasons) else (
        "flagged" if any(r["severity"] == "flag" for r in reasons) else "ok"
    )
    base.update(verdict=verdict, reasons=reasons, usable_seconds=0.0 if verdict == "rejected" else round(usable, 2))
    return {"version": ANALYSIS_VERSION, "filename": name, **base}


def _floats(vector: np.ndarray | None) -> list[float] | None:
    return None if vector is None else [round(float(x), 6) for x in vector]


def _speech_sample(audio: np.ndarray, regions: list[segment_mod.Span], max_s: float) -> np.ndarray:
    """Speech regions concatenated; if there are more than `max_s` seconds, evenly chosen regions."""
    total = sum(r.duration for r in regions)
    chosen = regions
    if total > max_s:
        step = total / max_s
        chosen = regions[:: max(1, int(math.ceil(step)))]
    parts = [audio[int(r.start * ANALYSIS_RATE) : int(r.end * ANALYSIS_RATE)] for r in chosen]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


@dataclass
class _FileSpeaker:
    embedding: np.ndarray | None = None  # main speaker's mean embedding at the file's bandwidth
    narrowband: np.ndarray | None = None  # the same at 8 kHz bandwidth (None if the file is 8 kHz)
    seconds: float = 0.0  # speech behind `embedding`
    other_fraction: float = 0.0  # share of the embedded utterance seconds from other voices
    other_spans: list[list[float]] = field(default_factory=list)


def _file_speakers(audio: np.ndarray, native_rate: int, utterances: list[segment_mod.Span]) -> _FileSpeaker:
    """Embed up to MAX_EMBED_UTTERANCES utterances (evenly spread), find the file's main speaker and
    the share of speech from other voices (estimated from the embedded ones)."""
    if not utterances:
        return _FileSpeaker()
    idx = np.unique(np.linspace(0, len(utterances) - 1, min(len(utterances), MAX_EMBED_UTTERANCES)).round().astype(int))
    chosen = [utterances[i] for i in idx]
    clips = [audio[int(u.start * ANALYSIS_RATE) : int(u.end * ANALYSIS_RATE)] for u in chosen]
    embeddings = speaker_mod.embed_many(clips, ANALYSIS_RATE)
    seconds = np.array([u.duration for u in chosen])
    valid = np.isfinite(embeddings).all(axis=1)
    if not valid.any():
        return _FileSpeaker()
    check = speaker_mod.check_speakers(embeddings, seconds)
    main = [i for i in np.flatnonzero(valid) if i not in set(check.outliers)]
    narrow = None
    if native_rate > speaker_mod.NARROWBAND_RATE and main:
        narrow_clips = [speaker_mod.narrowband(clips[i], ANALYSIS_RATE) for i in main]
        narrow_emb = speaker_mod.embed_many(narrow_clips, ANALYSIS_RATE)
        if np.isfinite(narrow_emb).all(axis=1).any():
            narrow = speaker_mod.centroid(narrow_emb, seconds[main])
    return _FileSpeaker(
        embedding=check.centroid,
        narrowband=narrow,
        seconds=float(seconds[main].sum()),
        other_fraction=check.outlier_fraction,
        other_spans=[[round(chosen[i].start, 2), round(chosen[i].end, 2)] for i in check.outliers],
    )


def _judge(
    name: str,
    rate: int,
    clipping: float,
    snr: float | None,
    seg: segment_mod.Segmentation,
    pitch: dict[str, float] | None,
    usable: float,
    other_fraction: float,
) -> list[dict[str, str]]:
    reasons: list[dict[str, str]] = []
    if usable <= 0:
        reasons.append(
            _reason("too_short", "reject", f"{name} holds no utterance of 1 s or more ({seg.speech_s:.1f} s of speech).")
        )
    if clipping >= REJECT_CLIPPING:
        reasons.append(_reason("clipped", "reject", f"{name} is heavily clipped ({clipping:.1%} of samples at full scale)."))
    elif clipping >= FLAG_CLIPPING:
        reasons.append(_reason("clipping", "flag", f"{name} has clipped peaks ({clipping:.2%} of samples); expect some distortion."))
    if snr is not None and snr < REJECT_SNR_DB:
        reasons.append(_reason("very_noisy", "reject", f"{name} is too noisy (estimated SNR {snr:.0f} dB)."))
    elif snr is not None and snr < FLAG_SNR_DB:
        reasons.append(_reason("noisy", "flag", f"{name} is noisy (estimated SNR {snr:.0f} dB); the voice may pick up the noise."))
    if seg.speech_ratio < LOW_SPEECH_RATIO:
        reasons.append(
            _reason("mostly_silence", "flag", f"Only {seg.speech_ratio:.0%} of {name} is speech; the rest is not used.")
        )
    if pitch is not None and pitch["sustained_fraction"] >= SUSTAINED_PITCH_FLAG:
        reasons.append(
            _reason("possible_music", "flag", f"{name} holds long steady notes ({pitch['sustained_fraction']:.0%} of voiced time): music or singing?")
        )
    if other_fraction > 0:
        reasons.append(
            _reason(
                "other_speakers",
                "flag",
                f"About {other_fraction:.0%} of {name} sounds like a different speaker; those parts are excluded.",
            )
        )
    if rate < NARROWBAND_HZ:
        reasons.append(
            _reason("narrowband", "info", f"{name} is sampled at {rate} Hz (telephone bandwidth); voices are compared at that bandwidth.")
        )
    return reasons


def _check_transcript(name: str, transcript: str, speech_s: float) -> list[dict[str, str]]:
    words = len(normalize_words(transcript))
    if words == 0:
        return [_reason("empty_transcript", "flag", f"The transcript for {name} is empty; it will be transcribed automatically.")]
    rate = words / max(speech_s, 1e-3)
    # Read speech runs at 2–4 words per second; outside 0.5–7 the text does not belong to the audio.
    if rate < 0.5 or rate > 7.0:
        return [
            _reason(
                "transcript_mismatch",
                "flag",
                f"The transcript for {name} has {words} words for {speech_s:.1f} s of speech; is it the right text?",
            )
        ]
    return []


# --- dataset report ------------------------------------------------------------------------------


def build_report(analyses: list[dict[str, Any]], min_usable_s: float = 60.0) -> dict[str, Any]:
    """Combine per-file analyses (from `analyze_file`) into the dataset quality report.

    Keys: ok_to_train, reason_code / message (why not, or null), reasons (dataset-level), totals in
    seconds and minutes, recommendation, summary statistics, other_speaker_files (files excluded as a
    different voice, with their similarity), files (per-file verdicts, without embeddings).
    """
    files = [dict(a) for a in analyses]
    usable_files = [f for f in files if f.get("verdict") != "rejected"]

    speaker_outliers: list[dict[str, Any]] = []
    with_embedding = [f for f in usable_files if f.get("embedding") and f.get("usable_seconds", 0) > 0]
    if len(with_embedding) >= 2:
        # Mixed bandwidths (e.g. phone and studio recordings) are compared at telephone bandwidth:
        # the bandwidth change alone would otherwise look like a different voice.
        rates = [f.get("sample_rate", 0) for f in with_embedding]
        mixed = min(rates) < NARROWBAND_HZ <= max(rates)
        key = "embedding_narrowband" if mixed else "embedding"
        embeddings = np.array([f.get(key) or f["embedding"] for f in with_embedding], dtype=np.float32)
        seconds = np.array([f.get("embedded_seconds") or f["usable_seconds"] for f in with_embedding])
        check = speaker_mod.check_speakers(embeddings, seconds)
        for i, f in enumerate(with_embedding):
            f["speaker_similarity"] = _round(float(check.similarity[i]), 3)
        for i in check.outliers:
            f = with_embedding[i]
            speaker_outliers.append(
                {"filename": f["filename"], "similarity": f["speaker_similarity"], "seconds": f["usable_seconds"]}
            )
            f["verdict"] = "excluded"
            f["reasons"] = list(f.get("reasons", [])) + [
                _reason("different_speaker", "exclude", f"{f['filename']} sounds like a different speaker from the rest; it is not used.")
            ]

    # Other voices: whole files excluded above, plus the parts of kept files already taken out of
    # their usable seconds by analyze_file.
    candidate_s = sum(f.get("usable_seconds", 0.0) + f.get("other_speaker_seconds", 0.0) for f in usable_files)
    usable_s = sum(f.get("usable_seconds", 0.0) for f in usable_files if f.get("verdict") != "excluded")
    other_fraction = (candidate_s - usable_s) / candidate_s if candidate_s > 0 else 0.0
    reasons = _dataset_reasons(files, usable_s, other_fraction, min_usable_s)
    ok = not reasons

    summary_files = [f for f in usable_files if f.get("verdict") != "excluded"]
    report = {
        "version": ANALYSIS_VERSION,
        "ok_to_train": ok,
        "reason_code": None if ok else reasons[0]["code"],
        "message": _ok_message(usable_s) if ok else reasons[0]["message"],
        "reasons": reasons,
        "file_count": len(files),
        "rejected_file_count": sum(1 for f in files if f.get("verdict") == "rejected"),
        "total_seconds": round(sum(f.get("duration_seconds", 0.0) for f in files), 2),
        "speech_seconds": round(sum(f.get("speech_seconds", 0.0) or 0.0 for f in files), 2),
        "usable_seconds": round(usable_s, 2),
        "usable_minutes": round(usable_s / 60, 2),
        "min_usable_seconds": min_usable_s,
        "recommended_usable_seconds": RECOMMENDED_USABLE_S,
        "recommendation": _recommendation(usable_s),
        "other_speaker_files": speaker_outliers,
        "summary": _summary(summary_files),
        "files": [{k: v for k, v in f.items() if not k.startswith("embedding")} for f in files],
    }
    return report


def _dataset_reasons(files: list[dict[str, Any]], usable_s: float, other_fraction: float, min_usable_s: float) -> list[dict[str, str]]:
    if not files:
        return [_reason("no_files", "reject", "The dataset has no audio files.")]
    codes = [{r["code"] for r in f.get("reasons", [])} for f in files]
    reasons: list[dict[str, str]] = []
    if all(f.get("verdict") == "rejected" for f in files):
        if all("silent" in c for c in codes):
            reasons.append(_reason("silence_only", "reject", "Every file is silent: there is no voice to learn."))
        elif all(c & {"silent", "no_speech"} for c in codes):
            reasons.append(
                _reason("no_speech", "reject", "No speech was found in any file: the audio sounds like music, noise or tones.")
            )
        elif all("unreadable" in c for c in codes):
            reasons.append(_reason("unreadable", "reject", "None of the files could be read as audio."))
    if other_fraction > MAX_OTHER_SPEAKER_FRACTION:
        reasons.append(
            _reason(
                "multiple_speakers",
                "reject",
                f"The recordings contain more than one speaker ({other_fraction:.0%} of the speech is a different voice). "
                "Upload recordings of one person only.",
            )
        )
    if usable_s < min_usable_s and not reasons:
        reasons.append(
            _reason(
                "too_little_speech",
                "reject",
                f"Only {usable_s:.0f} s of usable speech; at least {min_usable_s:.0f} s is needed "
                f"({RECOMMENDED_USABLE_S / 60:.0f} min or more recommended).",
            )
        )
    return reasons


def _ok_message(usable_s: float) -> str:
    return f"{usable_s / 60:.1f} minutes of usable speech: ready to train."


def _recommendation(usable_s: float) -> str | None:
    if usable_s >= RECOMMENDED_USABLE_S:
        return None
    return (
        f"For the best likeness upload at least {RECOMMENDED_USABLE_S / 60:.0f} minutes of clean speech "
        f"(you have {usable_s / 60:.1f})."
    )


def _weighted_median(values: list[float], weights: list[float]) -> float | None:
    pairs = sorted((v, w) for v, w in zip(values, weights) if v is not None and w > 0)
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= total / 2:
            return v
    return pairs[-1][0]


def _summary(files: list[dict[str, Any]]) -> dict[str, Any]:
    weights = [f.get("usable_seconds", 0.0) for f in files]

    def med(key: str, digits: int = 1) -> float | None:
        return _round(_weighted_median([f.get(key) for f in files], weights), digits)

    rates = [f["sample_rate"] for f in files if f.get("sample_rate")]
    return {
        "snr_db_median": med("snr_db"),
        "loudness_lufs_median": med("loudness_lufs"),
        "f0_median_hz": med("f0_median_hz"),
        "f0_p5_hz": med("f0_p5_hz"),
        "f0_p95_hz": med("f0_p95_hz"),
        "min_sample_rate": min(rates) if rates else None,
        "max_sample_rate": max(rates) if rates else None,
    }
