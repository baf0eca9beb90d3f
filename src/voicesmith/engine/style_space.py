"""The space voices are searched in: a shared offset added to every row of a base style pack.

A Kokoro voice pack has one 256-d style row per text length (510 rows). Adapting every row would
mean 130k free values; the rows of a pack move together (they encode one speaker), so we adapt a
single 256-d offset shared by all rows, measured in units of the stock packs' own spread per
dimension and bounded to ±`bound` of those units. The bound is what keeps a searched voice inside
the region real voices occupy: an unbounded offset (norm 7.3 in raw units, measured while the model
was set up) made the voice unintelligible while a bounded one kept WER unchanged.

Dimensions 0..127 condition the decoder (timbre), 128..255 the prosody predictor (durations, F0,
energy): engine.voice.TIMBRE and PROSODY.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from voicesmith.engine.kokoro import weights
from voicesmith.engine.voice import STYLE_DIM, VoiceArtifact
DEFAULT_BOUND = 4.0


@lru_cache(maxsize=1)
def stock_packs() -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float32) for k, v in sorted(weights.voice_packs().items())}


@lru_cache(maxsize=1)
def stock_scale() -> np.ndarray:
    """Per-dimension spread of the stock packs: std across packs, averaged over rows (256,)."""
    packs = np.stack(list(stock_packs().values()))  # (5, 510, 256)
    return packs.std(axis=0).mean(axis=0).astype(np.float32)


@lru_cache(maxsize=1)
def stock_mean() -> np.ndarray:
    return np.stack(list(stock_packs().values())).mean(axis=0).astype(np.float32)


def stock_offsets() -> dict[str, np.ndarray]:
    """Each pack's mean offset from the stock mean, in scale units (256,): where it sits in the space."""
    mean, scale = stock_mean(), stock_scale()
    return {k: ((p - mean).mean(axis=0) / scale).astype(np.float64) for k, p in stock_packs().items()}


def blend(weights_by_pack: dict[str, float]) -> np.ndarray:
    """A (510, 256) convex blend of stock packs."""
    packs = stock_packs()
    total = sum(weights_by_pack.values())
    return sum((w / total) * packs[k] for k, w in weights_by_pack.items()).astype(np.float32)


@dataclass
class StyleSpace:
    """style(z) = base + z * scale, with z clipped to ±bound (optionally only some dimensions free)."""

    base: np.ndarray  # (510, 256)
    bound: float = DEFAULT_BOUND
    scale: np.ndarray | None = None  # (256,), default: stock_scale()

    def __post_init__(self) -> None:
        self.base = np.asarray(self.base, dtype=np.float32)
        if self.scale is None:
            self.scale = stock_scale()

    def style(self, z: np.ndarray) -> np.ndarray:
        z = np.clip(np.asarray(z, dtype=np.float64), -self.bound, self.bound)
        if z.shape != (STYLE_DIM,):
            raise ValueError(f"offset must have {STYLE_DIM} values")
        return (self.base + (z * self.scale)[None, :]).astype(np.float32)

    def artifact(self, z: np.ndarray, pitch_scale: float, speed: float, meta: dict | None = None) -> VoiceArtifact:
        return VoiceArtifact(style=self.style(z), pitch_scale=float(pitch_scale), speed=float(speed), meta=meta or {})
