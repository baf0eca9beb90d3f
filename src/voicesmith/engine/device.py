"""Where the engine's models run: a CUDA GPU when one is present, else the CPU, with the same code.

Each model runtime is asked for itself, because each needs its own GPU build: torch (the speaker
encoder) by `torch.cuda.is_available()`, onnxruntime (Kokoro) by its CUDA execution provider (the
`onnxruntime-gpu` package), CTranslate2 (Whisper) by its CUDA device count. A runtime without GPU
support stays on the CPU while the others use the GPU.

VOICESMITH_DEVICE: "auto" (default) uses a GPU where the runtime has one; "cpu" never does (to leave a
GPU to other work, or to compare).
"""

from __future__ import annotations

from voicesmith.engine.settings import device_choice


def _allowed() -> bool:
    return device_choice() == "auto"


def torch_device() -> str:
    if not _allowed():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def onnx_providers() -> list[str]:
    """onnxruntime execution providers, best first (the CPU always last, for ops the GPU lacks)."""
    import onnxruntime as ort

    if _allowed() and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def whisper_device() -> tuple[str, str]:
    """(device, compute type) for faster-whisper."""
    if _allowed():
        import ctranslate2

        if ctranslate2.get_cuda_device_count() > 0:
            return "cuda", "float16"
    return "cpu", "int8"
