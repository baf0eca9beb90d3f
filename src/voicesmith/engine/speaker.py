"""Speaker embeddings (Resemblyzer's GE2E d-vectors, 256-d, L2-normalised) and the speaker-consistency
check that keeps other voices out of a dataset.

The encoder's weights ship inside the `resemblyzer` package; it runs on the CPU and is loaded once
per process. Every embedding goes through Resemblyzer's own preprocessing (16 kHz, volume
normalisation to -30 dBFS, long silences trimmed), so embeddings from the dataset, from synthesis
and from evaluation are comparable.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

from voicesmith.engine.audio import resample

EMBED_RATE = 16000
EMBED_DIM = 256
_MIN_SAMPLES = int(0.3 * EMBED_RATE)  # below this, Resemblyzer pads a single partial: too little voice

# Same-speaker thresholds: the minimum cosine between an embedding and the main speaker's centroid
# (computed without it), by how much speech the embedding was made from. Measured on the real
# speech set (allison_en 16 kHz; carlo_it, june_fr 8 kHz; librivox_en: 89/80/104/5 VAD utterances;
# "other" = every utterance of the other speakers against each main speaker's centroid):
#   < 2 s    own: min 0.687, 1st pct 0.715    other: 95th pct 0.715, max 0.787
#            (all 553 allison_en files analysed: 10 one-word files of ~1 s at 0.66-0.69)
#   2-4 s    own: min 0.816                   other: max 0.788, 99th pct 0.760
#            (all 580 carlo_it files analysed: 2 files of ~2.2 s at 0.783 and 0.799)
#   >= 4 s   own: min 0.893                   other: max 0.806
#   means of >= 3 utterances: own min 0.885, other max 0.825
# Short clips overlap at the extremes, so a mixture of voices is caught by the share of speech that
# falls out (dataset_report), not by single decisions. A change of bandwidth alone lowers the
# cosine (allison at 8 kHz vs her 16 kHz centroid: median 0.82), so mixed-bandwidth data must be
# compared at the lowest bandwidth (see `narrowband`). Under 2 s the bar is set below every own
# clip seen; about a fifth (19%) of other voices' short clips pass it, which still leaves a mixture
# well over dataset_report's 25% limit.
_THRESHOLDS = ((2.0, 0.65), (4.0, 0.77), (math.inf, 0.84))


def same_speaker_threshold(seconds: float) -> float:
    """Minimum cosine to the main speaker's centroid for an embedding made from `seconds` of speech."""
    return next(t for limit, t in _THRESHOLDS if seconds < limit)


NARROWBAND_RATE = 8000


def narrowband(audio: np.ndarray, sr: int, rate: int = NARROWBAND_RATE) -> np.ndarray:
    """The audio limited to the bandwidth of `rate` (resampled down and back to `sr`), so recordings
    of different bandwidths can be compared as if they were all made at `rate`."""
    if sr <= rate:
        return np.asarray(audio, dtype=np.float32)
    return resample(resample(audio, sr, rate), rate, sr)


class SpeakerEncoder:
    """Resemblyzer VoiceEncoder, on a GPU when torch has one (`engine.device`), else the CPU; thread-safe.

    Embedding runs with `threads` torch threads (default 1), restored afterwards. Measured here on a
    busy 2-core machine: 0.3 s per 5.5 s utterance with 1 thread, 4-9 s with 2 (OpenMP workers
    spinning against other processes); on free cores the small LSTM gains little from a second one.
    """

    def __init__(self, threads: int = 1) -> None:
        from resemblyzer import VoiceEncoder

        from voicesmith.engine.device import torch_device

        self._encoder = VoiceEncoder(device=torch_device(), verbose=False)
        self._threads = threads
        self._lock = threading.Lock()

    def embed(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """256-d unit-norm embedding of one utterance. Raises ValueError if it holds under 0.3 s of voice."""
        from resemblyzer import preprocess_wav

        wav = resample(np.asarray(audio, dtype=np.float32), sr, EMBED_RATE)
        if len(wav) and np.max(np.abs(wav)) > 0:
            wav = preprocess_wav(wav)
        if len(wav) < _MIN_SAMPLES:
            raise ValueError("too little voiced audio to embed (need at least 0.3 s)")
        import torch

        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(self._threads)
            try:
                with torch.inference_mode():
                    embedding = self._encoder.embed_utterance(wav.astype(np.float32))
            finally:
                torch.set_num_threads(previous)
        return np.asarray(embedding, dtype=np.float32)


_encoder: SpeakerEncoder | None = None
_encoder_lock = threading.Lock()


def get_speaker_encoder() -> SpeakerEncoder:
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = SpeakerEncoder()
        return _encoder


def embed_utterance(audio: np.ndarray, sr: int) -> np.ndarray:
    """256-d unit-norm speaker embedding of one utterance (any sample rate)."""
    return get_speaker_encoder().embed(audio, sr)


def embed_many(clips: Sequence[np.ndarray], sr: int) -> np.ndarray:
    """(n, 256) embeddings; rows are NaN for clips too short to embed."""
    out = np.full((len(clips), EMBED_DIM), np.nan, dtype=np.float32)
    encoder = get_speaker_encoder()
    for i, clip in enumerate(clips):
        try:
            out[i] = encoder.embed(clip, sr)
        except ValueError:
            pass
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else 0.0


def centroid(embeddings: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Unit-norm (weighted) mean of embeddings, ignoring NaN rows."""
    emb = np.asarray(embeddings, dtype=np.float64)
    ok = np.isfinite(emb).all(axis=1)
    if not ok.any():
        raise ValueError("no embeddings to average")
    w = np.ones(len(emb)) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = (emb[ok] * w[ok, None]).sum(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


@dataclass(frozen=True)
class SpeakerCheck:
    centroid: np.ndarray  # of the main speaker
    similarity: np.ndarray  # cosine of each embedding to `centroid` (NaN where no embedding)
    outliers: list[int]  # indices judged to be another speaker
    outlier_fraction: float  # share of the seconds in outliers


def check_speakers(embeddings: np.ndarray, seconds: np.ndarray) -> SpeakerCheck:
    """Find the main speaker and the embeddings that do not belong to them.

    A plain mean of a 50/50 mix of two voices sits between them and is close to neither, so the
    centroid is made robust: start from the weighted mean, then repeatedly re-average only the
    embeddings most similar to the current centroid (the closest half by weight), a few times. It
    converges onto the largest group. Row i is an outlier when its cosine to that centroid is under
    `same_speaker_threshold(seconds[i])`; seconds are also the weights.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    n = len(emb)
    w = np.asarray(seconds, dtype=np.float64)
    limit = np.array([same_speaker_threshold(x) for x in w])
    ok = np.isfinite(emb).all(axis=1)
    if not ok.any():
        return SpeakerCheck(np.zeros(EMBED_DIM, np.float32), np.full(n, np.nan), [], 0.0)
    current = centroid(emb, w)
    for _ in range(5):
        sims = np.where(ok, np.nan_to_num(emb) @ current, -np.inf)
        order = np.argsort(-sims)
        cumulative = np.cumsum(np.where(ok, w, 0)[order])
        keep = order[: int(np.searchsorted(cumulative, cumulative[-1] * 0.5)) + 1]
        current = centroid(emb[keep], w[keep])
    # Final centroid: everything that passes, so the estimate uses all of the main speaker's data.
    sims = np.where(ok, np.nan_to_num(emb) @ current, np.nan)
    inliers = ok & (np.nan_to_num(sims, nan=-1) >= limit)
    if inliers.any():
        current = centroid(emb[inliers], w[inliers])
        sims = np.where(ok, np.nan_to_num(emb) @ current, np.nan)
    outliers = [int(i) for i in np.flatnonzero(ok & (np.nan_to_num(sims, nan=1) < limit))]
    total = float(w[ok].sum())
    fraction = float(w[outliers].sum()) / total if total > 0 else 0.0
    return SpeakerCheck(current.astype(np.float32), sims, outliers, fraction)
