"""Instant clone: a voice from one 5-30 s clip in well under 3 s, with no synthesis in the loop.

At clone time: detect the clip's real bandwidth (8 kHz phone audio stays 8 kHz audio whatever rate
it was saved at), embed it with Resemblyzer at that bandwidth, measure its median F0, and apply the
small shipped mapping (`CloneMapping`, built by scripts/train_clone_mapping.py from the model's own
syntheses): a similarity-weighted blend of the stock packs, plus a learned offset where it helped,
at the pitch scale that puts the voice on the clip's median F0. Speed stays 1.0 (the clip's speaking
rate would need a transcript). Then the new voice speaks one reference sentence, and a timbre filter
(`engine.timbre`) fitted from its long-term spectrum to the clip's is kept if the speaker encoder hears
the filtered sentence closer to the clip: measured on allison_en (21 s clip, 12 held-out utterances),
held-out similarity 0.742 -> 0.801; the clone then takes about 2 s warm instead of 0.3 s
(docs/benchmarks.md).

The same mapping is one of the start points the fine-tune considers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from voicesmith.engine import segment, speaker, style_space
from voicesmith.engine.adapt import PITCH_LIMITS
from voicesmith.engine.audio import f0_stats
from voicesmith.engine.synthesis import Synthesizer, get_synthesizer
from voicesmith.engine.timbre import TimbreFilter
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.engine.voice_profile import comparison_rate, effective_rate, ltas_power, to_band

MAPPING_FILE = "clone_mapping.npz"
MIN_CLIP_S = 2.0
# Phonetically varied, about 4 s: one sentence measured as good as two for the filter, at half the time.
REFERENCE_TEXT = "She sells fresh fish and warm bread at the market every Thursday."


class CloneError(ValueError):
    """The clip cannot be cloned (too short, no voice)."""


@dataclass
class CloneMapping:
    """Embedding (+ F0) -> voice, in two parts.

    1. Anchors: the five stock packs' embedding centroids at each bandwidth. A clip's embedding is
       compared with them and the packs are blended with softmax(cosine / tau) weights: the packs
       it sounds most like dominate.
    2. A learned residual (optional): ridge regression from the embedding to a shared style offset
       in a low-rank basis, fitted on model-generated pairs; absent when cross-validation found no
       gain.
    The pitch scale puts the voice on the clip's median F0, using the F0 the pairs measured.
    """

    bands: list[int]
    packs: list[str]  # anchor order
    anchors: dict[int, np.ndarray]  # band -> (n_packs, 256) unit centroids
    anchor_f0: np.ndarray  # (n_packs,) median F0 of each pack at pitch scale 1
    tau: float
    coef: dict[int, np.ndarray] | None  # band -> (257, k)
    basis: np.ndarray | None  # (k, 256)
    f0_coef: np.ndarray | None  # (257,): [z, 1] -> log F0 of a shared-offset style at pitch scale 1
    meta: dict

    def weights(self, embedding: np.ndarray, band: int) -> np.ndarray:
        sims = self.anchors[band] @ np.asarray(embedding, dtype=np.float64)
        w = np.exp((sims - sims.max()) / self.tau)
        return w / w.sum()

    def predict(self, embedding: np.ndarray, f0_median_hz: float, source_rate: int) -> tuple[dict[str, float], np.ndarray, float]:
        """(pack blend weights, residual offset z (256,), pitch scale) for a speaker embedded at `source_rate`."""
        band = min(self.bands, key=lambda b: abs(b - source_rate))
        w = self.weights(embedding, band)
        z = np.zeros(256)
        if self.coef is not None and self.basis is not None:
            z = (np.append(np.asarray(embedding, dtype=np.float64), 1.0) @ self.coef[band]) @ self.basis
            z = np.clip(z, -style_space.DEFAULT_BOUND, style_space.DEFAULT_BOUND)
        pitch = 1.0
        if f0_median_hz and math.isfinite(f0_median_hz) and f0_median_hz > 0:
            predicted = float(np.exp(w @ np.log(self.anchor_f0)))
            if self.f0_coef is not None:  # the residual's effect on F0
                predicted *= math.exp(float(np.append(z, 0.0) @ self.f0_coef))
            pitch = float(np.clip(f0_median_hz / predicted, *PITCH_LIMITS))
        return dict(zip(self.packs, (float(x) for x in w))), z, pitch

    def save(self, path: Path) -> None:
        arrays = {f"anchors_{b}": self.anchors[b].astype(np.float16) for b in self.bands}
        if self.coef is not None:
            arrays.update({f"coef_{b}": self.coef[b].astype(np.float16) for b in self.bands})
            arrays["basis"] = self.basis.astype(np.float16)
        if self.f0_coef is not None:
            arrays["f0_coef"] = self.f0_coef.astype(np.float32)
        header = {"packs": self.packs, "tau": self.tau, "bands": self.bands, "meta": self.meta}
        np.savez_compressed(path, anchor_f0=self.anchor_f0.astype(np.float32),
                            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)

    @classmethod
    def load(cls, path) -> "CloneMapping":
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            bands = [int(b) for b in header["bands"]]
            learned = "basis" in npz.files
            return cls(
                bands=bands,
                packs=list(header["packs"]),
                anchors={b: npz[f"anchors_{b}"].astype(np.float64) for b in bands},
                anchor_f0=npz["anchor_f0"].astype(np.float64),
                tau=float(header["tau"]),
                coef={b: npz[f"coef_{b}"].astype(np.float64) for b in bands} if learned else None,
                basis=npz["basis"].astype(np.float64) if learned else None,
                f0_coef=npz["f0_coef"].astype(np.float64) if "f0_coef" in npz.files else None,
                meta=header["meta"],
            )


@lru_cache(maxsize=1)
def load_mapping() -> CloneMapping | None:
    """The shipped mapping, or None if the package was built without it."""
    ref = resources.files("voicesmith.engine") / "data" / MAPPING_FILE
    if not ref.is_file():
        return None
    with resources.as_file(ref) as path:
        return CloneMapping.load(path)


def instant_clone(audio: np.ndarray, sr: int, synthesizer: Synthesizer | None = None) -> VoiceArtifact:
    """A voice that sounds like the speaker of `audio` (5-30 s of one person speaking)."""
    mapping = load_mapping()
    if mapping is None:
        raise RuntimeError(f"the instant-clone mapping ({MAPPING_FILE}) is not installed")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if len(audio) < MIN_CLIP_S * sr:
        raise CloneError(f"the clip is too short to clone: {len(audio) / sr:.1f} s (need at least {MIN_CLIP_S:.0f} s)")
    # A tone or music has a pitch and an embedding too: ask the voice-activity model for speech.
    speech_s = float((segment.speech_probabilities(audio, sr) >= 0.5).sum()) * segment.FRAME_S
    if speech_s < MIN_CLIP_S:
        raise CloneError(f"only {speech_s:.1f} s of speech found in the clip (need at least {MIN_CLIP_S:.0f} s)")
    source_rate = effective_rate(audio, sr)
    band = to_band(audio, sr, source_rate)
    f0_median, _spread = f0_stats(band, source_rate)
    if not math.isfinite(f0_median):  # under 0.2 s of voiced frames: silence, noise or a tone-less clip
        raise CloneError("no voice found in the clip")
    try:
        embedding = speaker.embed_utterance(band, source_rate)
    except ValueError as exc:
        raise CloneError("no voice found in the clip") from exc
    weights, z, pitch = mapping.predict(embedding, f0_median, source_rate)
    space = style_space.StyleSpace(style_space.blend(weights))
    voice = space.artifact(
        z, pitch, 1.0,
        meta={"source": "instant_clone", "source_rate": source_rate, "f0_median_hz": round(float(f0_median), 1),
              "blend": {k: round(v, 3) for k, v in weights.items()}},
    )
    return _with_timbre(voice, band, embedding, source_rate, synthesizer or get_synthesizer())


def _with_timbre(voice: VoiceArtifact, band: np.ndarray, embedding: np.ndarray, source_rate: int,
                 synthesizer: Synthesizer) -> VoiceArtifact:
    rate = comparison_rate(source_rate)
    spoken = synthesizer.synthesize(REFERENCE_TEXT, voice).audio
    spoken_band = to_band(spoken, synthesizer.sample_rate, source_rate)
    clip_power, clip_frames = ltas_power(band, rate)
    spoken_power, spoken_frames = ltas_power(spoken_band, rate)
    flt = TimbreFilter.fit(clip_power, clip_frames, spoken_power, spoken_frames, rate)
    filtered = to_band(flt.apply(spoken, synthesizer.sample_rate), synthesizer.sample_rate, source_rate)
    try:
        before = float(speaker.embed_utterance(spoken_band, rate) @ embedding)
        after = float(speaker.embed_utterance(filtered, rate) @ embedding)
    except ValueError:  # the reference sentence always has voice; a broken voice keeps no filter
        return voice
    keep = after > before
    meta = {**voice.meta, "timbre": "fitted" if keep else "none"}
    return replace(voice, timbre=flt.to_array() if keep else None, meta=meta)
