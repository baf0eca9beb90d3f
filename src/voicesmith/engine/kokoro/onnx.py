"""Kokoro-82M inference: phoneme tokens + style row -> 24 kHz audio and durations.

The model runs the instrumented graph (see `kokoro.graph`), so every call also returns the per-token
durations (in frames of `FRAME_SAMPLES` samples) and the F0 curve, and accepts a pitch scale. The
runtime under it (onnxruntime or OpenVINO) is the process's choice (`kokoro.runtime`); either is
thread-safe, so one model serves every thread. A new model is warmed up before it is returned.
A bespoke voice (one with a decoder adapter) runs the same front and its own generator half, its adapter
merged into the weights once (`graph.build_bespoke_generator`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicesmith.engine.kokoro import graph, runtime, weights
from voicesmith.engine.settings import onnx_threads

SAMPLE_RATE = 24000
# One predicted duration frame = 600 samples (25 ms): the decoder upsamples the aligned features
# x2 and the iSTFT generator hops 300 samples; measured as len(audio) / sum(durations) == 600.
FRAME_SAMPLES = 600
# Kokoro's context is 512 positions including the two pad tokens.
MAX_PHONEMES = 510


@dataclass
class KokoroOutput:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    durations: np.ndarray  # int64 frames per token, len(tokens) + 2 (the pads at both ends)
    f0: np.ndarray  # float32 Hz, two values per frame (already multiplied by pitch_scale)


class KokoroOnnx:
    """The instrumented Kokoro graph on the process's runtime.

    `variant` ("int8" or "float32") asks for that graph on onnxruntime whatever the process's runtime
    (bench/bench_engine.py compares them); `backend` injects a loaded runtime (tests).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, variant: str | None = None, threads: int | None = None,
                 backend: runtime.Backend | None = None) -> None:
        self.threads = threads or onnx_threads()
        if backend is None and variant:
            backend = runtime.OnnxRuntimeBackend(self.threads, variant)
        self.backend = backend or runtime.open_backend(self.threads)
        # Token counts (pads included) of the inputs run once here, so no request pays a first call.
        self.warmed: list[int] = runtime.warm_up(self.backend)
        self.vocab = weights.vocab()
        self._generators: dict[str, Path] = {}  # adapter digest -> its merged generator half
        self._lock = threading.Lock()

    def _generator(self, adapter: dict[str, np.ndarray]) -> Path:
        digest = graph.adapter_digest(adapter)
        with self._lock:  # one build per voice, even when its first requests arrive together
            path = self._generators.get(digest)
            if path is not None:
                try:
                    os.utime(path)  # used now: the last to be evicted
                except FileNotFoundError:
                    path = None  # evicted (graph.BESPOKE_FILES_KEPT, maybe by another process): build it again
            if path is None:
                path = self._generators[digest] = graph.build_bespoke_generator(adapter)
        return path

    def tokenize(self, phonemes: str) -> list[int]:
        """Token ids of the phoneme symbols the vocabulary knows (others are dropped)."""
        return [self.vocab[symbol] for symbol in phonemes if symbol in self.vocab]

    def run(self, tokens: list[int], style: np.ndarray, speed: float = 1.0, pitch_scale: float = 1.0,
            adapter: dict[str, np.ndarray] | None = None) -> KokoroOutput:
        """`adapter`: a bespoke voice's decoder adapter (its generator is merged and cached on first use)."""
        if not tokens:
            raise ValueError("no phoneme tokens to synthesize")
        if len(tokens) > MAX_PHONEMES:
            raise ValueError(f"{len(tokens)} phoneme tokens; the model takes at most {MAX_PHONEMES} per call")
        inputs = runtime.feeds(tokens, style, speed, pitch_scale)
        if adapter is None:
            audio, durations, f0 = self.backend.run(inputs)
        else:
            audio, durations, f0 = self.backend.run(inputs, generator=self._generator(adapter))
        return KokoroOutput(
            audio=np.asarray(audio, dtype=np.float32).reshape(-1),
            durations=np.asarray(durations, dtype=np.int64).reshape(-1),
            f0=np.asarray(f0, dtype=np.float32).reshape(-1),
        )
