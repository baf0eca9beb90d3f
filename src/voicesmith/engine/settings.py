"""The engine's settings, read from the environment in this one module.

The engine knows nothing of the server's configuration (voicesmith/config.py): these are the knobs of
the speech runtimes themselves, which a worker, the API process or a script set the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

ONNX_THREADS_ENV = "VOICESMITH_ONNX_THREADS"
TRAIN_THREADS_ENV = "VOICESMITH_TRAIN_THREADS"
DEVICES = ("auto", "cpu")
RUNTIME_ENV = "VOICESMITH_TTS_RUNTIME"
TTS_RUNTIMES = ("auto", "onnxruntime", "openvino")


def _positive_int(name: str) -> int | None:
    raw = os.environ.get(name)
    return max(1, int(raw)) if raw else None


def usable_cores() -> int:
    """Cores this process may run on: the affinity mask, which container CPU limits and `taskset` narrow."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def onnx_threads() -> int:
    """Threads for one onnxruntime session: VOICESMITH_ONNX_THREADS, else every usable core.

    More threads than cores only adds contention when API serving and a training job share the
    machine, so the default never exceeds the affinity mask.
    """
    return _positive_int(ONNX_THREADS_ENV) or usable_cores()


def train_threads() -> int | None:
    """VOICESMITH_TRAIN_THREADS: a fixed number of rendering threads for the fine-tune's searches (None:
    follow the cores other processes leave free)."""
    return _positive_int(TRAIN_THREADS_ENV)


def kokoro_variant() -> str | None:
    """VOICESMITH_KOKORO_VARIANT: force the Kokoro graph variant ("int8" or "float32"); None picks per device."""
    return os.environ.get("VOICESMITH_KOKORO_VARIANT") or None


def tts_runtime() -> str:
    """VOICESMITH_TTS_RUNTIME: where the Kokoro graph runs, "auto" (default: picked at start-up, see
    engine/kokoro/runtime.py), "onnxruntime" or "openvino"."""
    choice = os.environ.get(RUNTIME_ENV, "").strip().lower() or "auto"
    if choice not in TTS_RUNTIMES:
        raise ValueError(f"{RUNTIME_ENV} must be one of {', '.join(TTS_RUNTIMES)}, not {choice!r}")
    return choice


def device_choice() -> str:
    """VOICESMITH_DEVICE: "auto" (default) uses a GPU where a runtime has one; "cpu" never does."""
    choice = os.environ.get("VOICESMITH_DEVICE", "auto").strip().lower()
    if choice not in DEVICES:
        raise ValueError(f"VOICESMITH_DEVICE must be 'auto' or 'cpu', not {choice!r}")
    return choice


def model_dir() -> Path:
    """Where assembled model files are cached: VOICESMITH_MODEL_DIR, else $XDG_CACHE_HOME/voicesmith/models."""
    explicit = os.environ.get("VOICESMITH_MODEL_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voicesmith" / "models"
