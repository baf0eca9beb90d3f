"""Kokoro-82M inference with onnxruntime: phoneme tokens + style row -> 24 kHz audio and durations.

The session runs the instrumented graph (see `kokoro.graph`), so every call also returns the
per-token durations (in frames of `FRAME_SAMPLES` samples) and the F0 curve, and accepts a pitch
scale. onnxruntime's `InferenceSession.run` is thread-safe, so one session serves every thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from voicesmith.engine import device
from voicesmith.engine.kokoro import graph, weights
from voicesmith.engine.settings import kokoro_variant, onnx_threads

SAMPLE_RATE = 24000
# One predicted duration frame = 600 samples (25 ms): the decoder upsamples the aligned features
# x2 and the iSTFT generator hops 300 samples; measured as len(audio) / sum(durations) == 600.
FRAME_SAMPLES = 600
# Kokoro's context is 512 positions including the two pad tokens.
MAX_PHONEMES = 510
# The model variant served by default on the CPU: the faster one at equal quality (bench/bench_engine.py).
# On a GPU the float32 graph: the int8 graph's ConvInteger/MatMulInteger have no CUDA kernels.
DEFAULT_VARIANT = "int8"
GPU_VARIANT = "float32"


@dataclass
class KokoroOutput:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    durations: np.ndarray  # int64 frames per token, len(tokens) + 2 (the pads at both ends)
    f0: np.ndarray  # float32 Hz, two values per frame (already multiplied by pitch_scale)


class KokoroOnnx:
    """One onnxruntime session of the instrumented Kokoro graph."""

    sample_rate = SAMPLE_RATE

    def __init__(self, variant: str | None = None, threads: int | None = None) -> None:
        providers = device.onnx_providers()
        on_gpu = providers[0] != "CPUExecutionProvider"
        self.variant = (variant or kokoro_variant()
                        or (GPU_VARIANT if on_gpu else DEFAULT_VARIANT))
        self.threads = threads or onnx_threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the export triggers harmless shape-merge warnings
        path = graph.build_variant(self.variant)
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        self.vocab = weights.vocab()

    def tokenize(self, phonemes: str) -> list[int]:
        """Token ids of the phoneme symbols the vocabulary knows (others are dropped)."""
        return [self.vocab[symbol] for symbol in phonemes if symbol in self.vocab]

    def run(self, tokens: list[int], style: np.ndarray, speed: float = 1.0, pitch_scale: float = 1.0) -> KokoroOutput:
        if not tokens:
            raise ValueError("no phoneme tokens to synthesize")
        if len(tokens) > MAX_PHONEMES:
            raise ValueError(f"{len(tokens)} phoneme tokens; the model takes at most {MAX_PHONEMES} per call")
        style = np.asarray(style, dtype=np.float32).reshape(1, 256)
        audio, durations, f0 = self.session.run(
            ["audio", "durations", "f0"],
            {
                "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
                "pitch_scale": np.array([pitch_scale], dtype=np.float32),
            },
        )
        return KokoroOutput(
            audio=np.asarray(audio, dtype=np.float32).reshape(-1),
            durations=np.asarray(durations, dtype=np.int64).reshape(-1),
            f0=np.asarray(f0, dtype=np.float32).reshape(-1),
        )
