"""Likeness by measures the style search does not optimise: a check on the one it does.

The search maximises Resemblyzer cosine (`adapt`), so Resemblyzer alone saturates long before a voice
sounds like the person (measured on a held-back speaker: the report said 92.6% of the gap closed, an
independent speaker-verification score 56%). These measures compare a voice's clips of the held-out
sentences with the real recordings of the same sentences, at the comparison rate (the dataset's
bandwidth), each over the clips pooled:

- `mfcc_frechet`: Fréchet distance between Gaussians fitted to the per-frame MFCCs (c1-c12, speech
  frames only) of the two sets: the spectral envelope's average *and* its variation. Not used by the
  search at all; the bespoke stage's guard uses it only to refuse a trained voice (`mfcc_frechet`
  alone, on training sentences the decoder was not trained on).
- `ltas_db`: RMS difference in dB of the long-term average spectra (`voice_profile`'s 24 log-spaced
  bands). The search has a small penalty on it and the timbre filter is fitted to it, both on
  *training* sentences: a guided measure, reported on held-out ones.
- `f0_semitones`: the distance between the distributions of log-F0 over voiced frames, in semitones
  (mean absolute difference of their 5th..95th percentiles, i.e. a 1-D Wasserstein distance). The
  search penalises only the median and spread; the shape of the distribution is not optimised.
- `quality_dnsmos`: predicted overall quality (DNSMOS OVRL, Microsoft's model as shipped by the
  `speechmos` package), reported beside the stock voices' and the real recordings', not as a distance.

Distances are made floor-to-ceiling fractions like the Resemblyzer figure (`fraction`): floor = the
best stock voice on that measure, ceiling = the real speaker against themself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from voicesmith.engine.audio import f0_track, resample
from voicesmith.engine.voice_profile import ACTIVE_DB, ltas_db, ltas_distance_db, ltas_total

DISTANCES = ("mfcc_frechet", "ltas_db", "f0_semitones")
QUALITY = "quality_dnsmos"
# For the report: what each measure compares, and what the search does with it.
WHAT = {
    "mfcc_frechet": "Fréchet distance between Gaussians of per-frame MFCCs (c1-c12, speech frames): voice vs real",
    "ltas_db": "RMS dB difference of the long-term average spectra (24 log-spaced bands): voice vs real",
    "f0_semitones": "mean |difference| of the 5th..95th percentiles of log-F0 over voiced frames (semitones): "
                    "voice vs real",
    QUALITY: "predicted overall quality, DNSMOS OVRL (1-5, higher is better), over the clips in 9 s windows",
}
IN_SEARCH = {
    "mfcc_frechet": "not optimised; the bespoke stage's guard refuses a trained decoder further by it than the "
                    "searched voice on training-pool sentences the decoder did not train on",
    "ltas_db": "guided: a small penalty in the search and the timbre filter's fit, both on training sentences",
    "f0_semitones": "partly: the search penalises the median and spread of F0, not the distribution",
    QUALITY: "not used",
}
_MFCC_COEFFS = 12  # c1..c12: c0 is loudness, which recording gain sets
_MEL_BANDS = 26
_F0_QUANTILES = np.linspace(5, 95, 19)
_MIN_VOICED = 20
_DNSMOS_RATE = 16000
_DNSMOS_WINDOW = int(9.01 * _DNSMOS_RATE)  # the model's fixed input length


@dataclass
class Features:
    """What the measures need from a set of clips, computed once per set."""

    mfcc_mean: np.ndarray  # (12,)
    mfcc_cov: np.ndarray  # (12, 12)
    ltas_db: np.ndarray  # (24,)
    f0_quantiles: np.ndarray  # (19,) semitones re 100 Hz; NaN with too few voiced frames
    quality: float | None  # DNSMOS OVRL; None when not measured


def features(clips: Sequence[np.ndarray], rate: int, *, quality: bool = True) -> Features:
    """Measure clips that are already at the comparison rate `rate`."""
    clips = [np.asarray(c, dtype=np.float32) for c in clips if len(c)]
    frames = _mfcc_of(clips, rate)
    semitones = np.concatenate([12 * np.log2(f[np.isfinite(f)] / 100.0) for f in (f0_track(c, rate) for c in clips)])
    quantiles = (np.percentile(semitones, _F0_QUANTILES) if len(semitones) >= _MIN_VOICED
                 else np.full(len(_F0_QUANTILES), np.nan))
    return Features(
        mfcc_mean=frames.mean(axis=0),
        mfcc_cov=np.cov(frames, rowvar=False),
        ltas_db=ltas_db(*ltas_total(clips, rate)),
        f0_quantiles=quantiles,
        quality=dnsmos_ovrl(clips, rate) if quality else None,
    )


def _mfcc_of(clips: Sequence[np.ndarray], rate: int) -> np.ndarray:
    """The speech frames' MFCCs of all `clips`, pooled; ValueError with fewer than two frames."""
    frames = [_mfcc_frames(np.asarray(c, np.float32), rate) for c in clips if len(c)]
    pooled = np.concatenate(frames) if frames else np.zeros((0, _MFCC_COEFFS))
    if len(pooled) < 2:
        raise ValueError("too little speech to measure")
    return pooled


def _mfcc_frames(audio: np.ndarray, rate: int) -> np.ndarray:
    """(frames, 12) MFCCs of the frames within `ACTIVE_DB` of the clip's loudest (silence would
    otherwise dominate, and its share depends on how a clip was cut)."""
    import librosa
    from scipy.fft import dct

    n_fft = 1 << int(math.ceil(math.log2(0.032 * rate)))  # ~32 ms at any rate
    if len(audio) < n_fft:
        return np.zeros((0, _MFCC_COEFFS))
    mel = librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=n_fft, hop_length=int(0.01 * rate), center=False,
                                         n_mels=_MEL_BANDS, fmin=50.0, fmax=0.45 * rate)  # below the resampler's edge
    energy = 10 * np.log10(np.maximum(mel.sum(axis=0), 1e-20))
    log_mel = np.log(np.maximum(mel[:, energy > energy.max() - ACTIVE_DB], 1e-10))
    return dct(log_mel, type=2, norm="ortho", axis=0)[1 : _MFCC_COEFFS + 1].T


def frechet(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray, cov_b: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance squared between two Gaussians."""
    from scipy.linalg import sqrtm

    cross = sqrtm(cov_a @ cov_b)
    value = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * np.real(cross)))
    return max(value, 0.0)  # sqrtm's rounding can leave a tiny negative for identical sets


def mfcc_frechet(clips: Sequence[np.ndarray], real: Sequence[np.ndarray], rate: int) -> float:
    """`mfcc_frechet` of `DISTANCES` alone (no F0, spectrum or quality): clips against real ones, both at `rate`."""
    a, b = _mfcc_of(clips, rate), _mfcc_of(real, rate)
    return frechet(a.mean(axis=0), np.cov(a, rowvar=False), b.mean(axis=0), np.cov(b, rowvar=False))


def distances(a: Features, b: Features) -> dict[str, float]:
    """Each distance of `DISTANCES` between two sets (NaN where one set has too few voiced frames)."""
    return {
        "mfcc_frechet": frechet(a.mfcc_mean, a.mfcc_cov, b.mfcc_mean, b.mfcc_cov),
        "ltas_db": ltas_distance_db(a.ltas_db, b.ltas_db),
        "f0_semitones": float(np.mean(np.abs(a.f0_quantiles - b.f0_quantiles))),
    }


def fraction(value: float, floor: float, ceiling: float) -> float | None:
    """Share of the floor-to-ceiling gap a distance closed: 0 at the best stock voice's distance, 1 at
    the real speaker's own; None when the stock voice is already as close as the speaker (no gap)."""
    if not (math.isfinite(value) and math.isfinite(floor) and math.isfinite(ceiling)) or floor - ceiling <= 1e-9:
        return None
    return (floor - value) / (floor - ceiling)


def split_halves(clips: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Alternate clips into two halves: the ceiling when no training recordings are at hand."""
    return list(clips[0::2]), list(clips[1::2])


# --- predicted quality -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _dnsmos():
    """The DNSMOS model speechmos ships, in one single-threaded session (two shared cores, and the
    renderer's workers beside it); speechmos's own `run` also scores every window with a second model
    (P.808) and re-runs each second, which OVRL does not need."""
    import onnxruntime as ort
    from speechmos import dnsmos

    class OverallOnly(dnsmos.DNSMOS):
        def __init__(self, path: Path) -> None:  # only the primary model: no P.808 session
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            self.primary_model_path = str(path)
            self.onnx_sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    return OverallOnly(Path(dnsmos.__file__).parent / "dnsmos_models" / "sig_bak_ovr.onnx")


def dnsmos_ovrl(clips: Sequence[np.ndarray], rate: int) -> float | None:
    """Mean DNSMOS OVRL over the clips joined end to end and cut into the model's 9 s windows, the
    last one ending at the end (a set shorter than one window is repeated to fill it, as DNSMOS does
    for a short clip)."""
    if not clips:
        return None
    joined = np.concatenate([resample(np.asarray(c, np.float32), rate, _DNSMOS_RATE) for c in clips])
    if not len(joined):
        return None
    joined = np.clip(joined, -1.0, 1.0)
    if len(joined) < _DNSMOS_WINDOW:
        joined = np.tile(joined, _DNSMOS_WINDOW // len(joined) + 1)
    model = _dnsmos()
    starts = list(range(0, len(joined) - _DNSMOS_WINDOW + 1, _DNSMOS_WINDOW))
    if starts[-1] + _DNSMOS_WINDOW < len(joined):
        starts.append(len(joined) - _DNSMOS_WINDOW)
    scores = []
    for start in starts:
        window = joined[None, start : start + _DNSMOS_WINDOW].astype(np.float32)
        sig, bak, ovr = model.onnx_sess.run(None, {"input_1": window})[0][0]
        scores.append(float(model.get_polyfit_val(sig, bak, ovr, False)[2]))
    return float(np.mean(scores))
