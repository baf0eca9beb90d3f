"""How a voice sounds, in numbers: the statistics adaptation aims at and the report compares.

A `VoiceStats` is measured the same way for a speaker's real recordings and for a synthetic voice
speaking the same kind of sentences, always at the *source bandwidth* (the dataset's native sample
rate, at most the model's 24 kHz): a voice synthesised at 24 kHz compared with 8 kHz telephone
recordings would otherwise be judged on a band the recordings do not have.

- speaker embedding: Resemblyzer d-vector per utterance (`engine.speaker`),
- pitch: median F0 (Hz) and spread (semitones, robust std of log-F0) over voiced frames
  (`engine.audio.f0_stats`, YIN),
- speaking rate: phonemes per second of speech (leading and trailing silence trimmed),
- long-term average spectrum (LTAS): the level of log-spaced bands in dB relative to the mean band
  level, so recording gain does not matter but tilt and formant balance do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voicesmith.engine import speaker
from voicesmith.engine.audio import f0_stats, resample

MODEL_RATE = 24000
_LTAS_BANDS = 24
_LTAS_LOW_HZ = 100.0
_LTAS_FFT = 512
ACTIVE_DB = 35.0  # frames within this of the loudest frame count as speech (trim and LTAS)
# Symbols in a Kokoro phoneme string that are not phones: spaces, punctuation, stress and length.
_NOT_A_PHONE = set(" ,.!?;:—…\"()“”ˈˌː")


def comparison_rate(source_rate: int) -> int:
    """The sample rate voices are compared at: the source's, capped at the model's."""
    return int(min(max(int(source_rate), 8000), MODEL_RATE))


_STANDARD_RATES = (8000, 11025, 16000, 22050)
_CLIFF_DB = 50.0


def effective_rate(audio: np.ndarray, sr: int) -> int:
    """The sample rate the content was really recorded at: 8 kHz phone audio resampled to 48 kHz
    still has nothing above 4 kHz. For each standard rate below `sr`, the power just above its
    Nyquist frequency is compared with the power just below: a resampled band-limited recording
    drops by far more than 50 dB there (measured ~100 dB), real full-band speech by 10-30 dB. The
    smallest rate with such a cliff is the answer (else `sr`, capped at the model's 24 kHz)."""
    audio = np.asarray(audio, dtype=np.float64)
    n_fft = 1024
    if len(audio) < n_fft:
        return comparison_rate(sr)
    hop = n_fft // 2
    n = 1 + (len(audio) - n_fft) // hop
    frames = audio[np.arange(n)[:, None] * hop + np.arange(n_fft)[None, :]] * np.hanning(n_fft)
    psd = np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0) + 1e-30
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)

    def level(lo: float, hi: float) -> float:
        band = psd[(freqs >= lo) & (freqs < hi)]
        return 10 * math.log10(float(band.mean())) if len(band) else -300.0

    for rate in _STANDARD_RATES:
        nyquist = rate / 2
        if nyquist * 1.1 >= sr / 2:
            break
        below = level(0.6 * nyquist, 0.9 * nyquist)
        above = level(1.1 * nyquist, min(1.6 * nyquist, sr / 2))
        if below - above > _CLIFF_DB:
            return comparison_rate(rate)
    return comparison_rate(sr)


def to_band(audio: np.ndarray, sr: int, source_rate: int) -> np.ndarray:
    """Resample to the comparison rate of `source_rate` (drops whatever the source could not carry)."""
    return resample(np.asarray(audio, dtype=np.float32), sr, comparison_rate(source_rate))


def phone_count(phonemes: str) -> int:
    return sum(1 for ch in phonemes if ch not in _NOT_A_PHONE)


def _frame_db(audio: np.ndarray, frame: int) -> np.ndarray:
    n = len(audio) // frame
    if n == 0:
        return np.zeros(0)
    power = np.mean(np.asarray(audio[: n * frame], dtype=np.float64).reshape(n, frame) ** 2, axis=1)
    return 10 * np.log10(np.maximum(power, 1e-12))


def active_duration_s(audio: np.ndarray, sr: int) -> float:
    """Seconds from the first to the last frame within 35 dB of the loudest one (pauses inside kept)."""
    frame = max(1, int(0.01 * sr))
    db = _frame_db(audio, frame)
    if len(db) == 0:
        return 0.0
    active = np.flatnonzero(db > db.max() - ACTIVE_DB)
    return float((active[-1] - active[0] + 1) * frame / sr)


def ltas_band_edges(sr: int) -> np.ndarray:
    """The LTAS bands' edges (Hz) at comparison rate `sr`. `ltas_power` gives each band's mean power
    per FFT bin, so a band's share of the energy is that times its width."""
    top = 0.45 * sr  # stay below the resampler's transition band
    return np.geomspace(_LTAS_LOW_HZ, top, _LTAS_BANDS + 1)


def ltas_power(audio: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    """(summed band powers, number of active frames) of one clip: add over clips, then `ltas_db`."""
    hop = _LTAS_FFT // 2
    audio = np.asarray(audio, dtype=np.float64)
    n = 1 + (len(audio) - _LTAS_FFT) // hop if len(audio) >= _LTAS_FFT else 0
    if n <= 0:
        return np.zeros(_LTAS_BANDS), 0
    frames = audio[np.arange(n)[:, None] * hop + np.arange(_LTAS_FFT)[None, :]]
    energy = 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-12))
    frames = frames[energy > energy.max() - ACTIVE_DB]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(_LTAS_FFT), axis=1)) ** 2
    freqs = np.fft.rfftfreq(_LTAS_FFT, 1 / sr)
    return _band_powers(spectrum.sum(axis=0), freqs, sr), len(frames)


def _band_powers(power: np.ndarray, freqs: np.ndarray, sr: int) -> np.ndarray:
    """Mean power per log-spaced band; a band narrower than one FFT bin takes its nearest bin."""
    edges = ltas_band_edges(sr)
    band = np.digitize(freqs, edges) - 1
    out = np.empty(_LTAS_BANDS)
    for b in range(_LTAS_BANDS):
        inside = band == b
        if inside.any():
            out[b] = power[inside].mean()
        else:
            out[b] = power[np.argmin(np.abs(freqs - np.sqrt(edges[b] * edges[b + 1])))]
    return out


def ltas_total(clips: Sequence[np.ndarray], sr: int) -> tuple[np.ndarray, int]:
    """`ltas_power` of several clips added together: pass to `ltas_db` for their joint LTAS."""
    total, frames = np.zeros(_LTAS_BANDS), 0
    for clip in clips:
        p, n = ltas_power(clip, sr)
        total, frames = total + p, frames + n
    return total, frames


def ltas_db(total_power: np.ndarray, frames: int) -> np.ndarray:
    level = 10 * np.log10(np.maximum(total_power / max(frames, 1), 1e-20))
    return level - level.mean()


def ltas_distance_db(a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference of two LTAS curves in dB."""
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@dataclass
class VoiceStats:
    """Measurements of one voice over a set of utterances at one comparison rate."""

    embeddings: np.ndarray  # (n, 256), NaN rows where an utterance was too short to embed
    f0_median_hz: float
    f0_spread_st: float
    rate_pps: float  # phones per second
    ltas_db: np.ndarray  # (_LTAS_BANDS,)
    rate: int  # comparison sample rate

    @property
    def centroid(self) -> np.ndarray:
        return speaker.centroid(self.embeddings)

    def similarities(self, target: np.ndarray) -> np.ndarray:
        """Cosine of each utterance embedding to a (unit) target embedding; NaN rows dropped."""
        emb = self.embeddings[np.isfinite(self.embeddings).all(axis=1)]
        return emb @ np.asarray(target, dtype=np.float32)


def measure(
    clips: Sequence[np.ndarray],
    sr: int,
    phonemes: Sequence[str],
    source_rate: int,
    embeddings: np.ndarray | None = None,
) -> VoiceStats:
    """Measure clips (at `sr`) of the given phoneme strings, at the source bandwidth.

    `embeddings` may be passed when they were already computed at that bandwidth (real recordings
    are embedded once during ingest)."""
    rate = comparison_rate(source_rate)
    band = [to_band(c, sr, source_rate) for c in clips]
    if embeddings is None:
        embeddings = speaker.embed_many(band, rate)
    # Pitch over all clips pooled (one median over every voiced frame, like a listener's impression).
    pooled = np.concatenate([c for c in band if len(c)]) if any(len(c) for c in band) else np.zeros(0, np.float32)
    f0_median, f0_spread = f0_stats(pooled, rate) if len(pooled) else (math.nan, math.nan)
    phones = sum(phone_count(p) for p in phonemes)
    seconds = sum(active_duration_s(c, rate) for c in band)
    total, frames = ltas_total(band, rate)
    return VoiceStats(
        embeddings=np.asarray(embeddings, dtype=np.float32),
        f0_median_hz=float(f0_median),
        f0_spread_st=float(f0_spread),
        rate_pps=phones / seconds if seconds > 0 else math.nan,
        ltas_db=ltas_db(total, frames),
        rate=rate,
    )


@dataclass
class SpeakerProfile:
    """The target of an adaptation: what the speaker's training recordings measure."""

    centroid: np.ndarray  # unit 256-d
    f0_median_hz: float
    f0_spread_st: float
    rate_pps: float
    ltas_db: np.ndarray
    source_rate: int

    @classmethod
    def from_stats(cls, stats: VoiceStats, source_rate: int, centroid: np.ndarray | None = None) -> "SpeakerProfile":
        return cls(
            centroid=np.asarray(stats.centroid if centroid is None else centroid, dtype=np.float32),
            f0_median_hz=stats.f0_median_hz,
            f0_spread_st=stats.f0_spread_st,
            rate_pps=stats.rate_pps,
            ltas_db=np.asarray(stats.ltas_db, dtype=np.float64),
            source_rate=int(source_rate),
        )

    def to_dict(self) -> dict:
        return {
            "centroid": [float(x) for x in self.centroid],
            "f0_median_hz": _finite_or_none(self.f0_median_hz),
            "f0_spread_st": _finite_or_none(self.f0_spread_st),
            "rate_pps": _finite_or_none(self.rate_pps),
            "ltas_db": [float(x) for x in self.ltas_db],
            "source_rate": self.source_rate,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SpeakerProfile":
        nan = lambda v: math.nan if v is None else float(v)  # noqa: E731
        return cls(
            centroid=np.asarray(d["centroid"], dtype=np.float32),
            f0_median_hz=nan(d["f0_median_hz"]),
            f0_spread_st=nan(d["f0_spread_st"]),
            rate_pps=nan(d["rate_pps"]),
            ltas_db=np.asarray(d["ltas_db"], dtype=np.float64),
            source_rate=int(d["source_rate"]),
        )


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None
