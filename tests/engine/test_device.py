"""Device choice: the CPU here (no GPU on this machine), a GPU wherever a runtime reports one, never
when VOICESMITH_DEVICE=cpu. The GPU branches are driven by what each runtime reports (monkeypatched:
no runtime here has a GPU build)."""

import ctranslate2
import onnxruntime as ort
import pytest
import torch

from voicesmith.engine import device


def test_this_machine_runs_everything_on_the_cpu(monkeypatch):
    monkeypatch.delenv("VOICESMITH_DEVICE", raising=False)
    assert not torch.cuda.is_available()
    assert device.torch_device() == "cpu"
    assert device.onnx_providers() == ["CPUExecutionProvider"]
    assert device.whisper_device() == ("cpu", "int8")


def test_a_runtime_with_a_gpu_uses_it_unless_told_not_to(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setenv("VOICESMITH_DEVICE", "auto")
    assert device.torch_device() == "cuda"
    assert device.onnx_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert device.whisper_device() == ("cuda", "float16")
    monkeypatch.setenv("VOICESMITH_DEVICE", "cpu")
    assert device.torch_device() == "cpu"
    assert device.onnx_providers() == ["CPUExecutionProvider"]
    assert device.whisper_device() == ("cpu", "int8")


def test_an_unknown_device_setting_is_refused(monkeypatch):
    monkeypatch.setenv("VOICESMITH_DEVICE", "tpu")
    with pytest.raises(ValueError, match="VOICESMITH_DEVICE"):
        device.torch_device()
