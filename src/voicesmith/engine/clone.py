"""Instant clone: a voice from one 5-30 s clip in well under 3 s, with no synthesis in the loop.

A small linear mapping, trained on pairs the model generated itself (scripts/train_clone_mapping.py):
random style offsets around the stock packs were spoken, embedded with Resemblyzer at 24, 16 and
8 kHz, and a ridge regression learned embedding -> style offset (in a low-rank basis), per
bandwidth; a second regression predicts the median F0 a style speaks at, so the pitch scale can put
the voice on the clip's own median F0. At clone time: detect the clip's real bandwidth, embed it,
measure its F0, apply the mapping. Speed stays 1.0 (the clip's speaking rate would need a transcript).

The same mapping is one of the start points the fine-tune considers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from voicesmith.engine import speaker, style_space
from voicesmith.engine.adapt import PITCH_LIMITS
from voicesmith.engine.audio import f0_stats
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.engine.voice_profile import effective_rate, to_band

MAPPING_FILE = "clone_mapping.npz"
MIN_CLIP_S = 2.0


class CloneError(ValueError):
    """The clip cannot be cloned (too short, no voice)."""


@dataclass
class CloneMapping:
    bands: list[int]  # comparison rates the mapping was trained for, e.g. [24000, 16000, 8000]
    coef: dict[int, np.ndarray]  # band -> (257, k): [embedding, 1] -> basis coordinates
    basis: np.ndarray  # (k, 256)
    z_mean: np.ndarray  # (256,)
    f0_coef: np.ndarray  # (257,): [z, 1] -> log F0 (Hz) of the style at pitch scale 1
    meta: dict

    def predict(self, embedding: np.ndarray, f0_median_hz: float, source_rate: int) -> tuple[np.ndarray, float]:
        """(style offset z (256,), pitch scale) for a speaker embedded at `source_rate`."""
        band = min(self.bands, key=lambda b: abs(b - source_rate))
        features = np.append(np.asarray(embedding, dtype=np.float64), 1.0)
        z = self.z_mean + (features @ self.coef[band]) @ self.basis
        z = np.clip(z, -style_space.DEFAULT_BOUND, style_space.DEFAULT_BOUND)
        pitch = 1.0
        if f0_median_hz and math.isfinite(f0_median_hz) and f0_median_hz > 0:
            predicted = math.exp(float(np.append(z, 1.0) @ self.f0_coef))
            pitch = float(np.clip(f0_median_hz / predicted, *PITCH_LIMITS))
        return z, pitch

    def save(self, path: Path) -> None:
        arrays = {f"coef_{b}": self.coef[b].astype(np.float16) for b in self.bands}
        np.savez_compressed(
            path,
            bands=np.asarray(self.bands, dtype=np.int32),
            basis=self.basis.astype(np.float16),
            z_mean=self.z_mean.astype(np.float32),
            f0_coef=self.f0_coef.astype(np.float32),
            meta=np.frombuffer(json.dumps(self.meta).encode(), dtype=np.uint8),
            **arrays,
        )

    @classmethod
    def load(cls, path) -> "CloneMapping":
        with np.load(path, allow_pickle=False) as npz:
            bands = [int(b) for b in npz["bands"]]
            return cls(
                bands=bands,
                coef={b: npz[f"coef_{b}"].astype(np.float64) for b in bands},
                basis=npz["basis"].astype(np.float64),
                z_mean=npz["z_mean"].astype(np.float64),
                f0_coef=npz["f0_coef"].astype(np.float64),
                meta=json.loads(npz["meta"].tobytes().decode()),
            )


@lru_cache(maxsize=1)
def load_mapping() -> CloneMapping | None:
    """The shipped mapping, or None if the package was built without it."""
    ref = resources.files("voicesmith.engine") / "data" / MAPPING_FILE
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path:
        return CloneMapping.load(path)


def instant_clone(audio: np.ndarray, sr: int) -> VoiceArtifact:
    """A voice that sounds like the speaker of `audio` (5-30 s of one person speaking)."""
    mapping = load_mapping()
    if mapping is None:
        raise RuntimeError(f"the instant-clone mapping ({MAPPING_FILE}) is not installed")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if len(audio) < MIN_CLIP_S * sr:
        raise CloneError(f"the clip is too short to clone: {len(audio) / sr:.1f} s (need at least {MIN_CLIP_S:.0f} s)")
    source_rate = effective_rate(audio, sr)
    band = to_band(audio, sr, source_rate)
    f0_median, _spread = f0_stats(band, source_rate)
    if not math.isfinite(f0_median):  # under 0.2 s of voiced frames: silence, noise or a tone-less clip
        raise CloneError("no voice found in the clip")
    try:
        embedding = speaker.embed_utterance(band, source_rate)
    except ValueError as exc:
        raise CloneError("no voice found in the clip") from exc
    z, pitch = mapping.predict(embedding, f0_median, source_rate)
    space = style_space.StyleSpace(style_space.stock_mean())
    return space.artifact(
        z, pitch, 1.0,
        meta={"source": "instant_clone", "source_rate": source_rate, "f0_median_hz": round(float(f0_median), 1)},
    )
