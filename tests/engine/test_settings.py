"""The engine's environment settings (engine/settings.py)."""

import pytest

from voicesmith.engine import settings


@pytest.mark.parametrize("raw, value", [(None, "auto"), ("", "auto"), ("auto", "auto"), ("onnxruntime", "onnxruntime"),
                                        (" OpenVINO ", "openvino")])
def test_the_tts_runtime_setting(monkeypatch, raw, value):
    if raw is None:
        monkeypatch.delenv("VOICESMITH_TTS_RUNTIME", raising=False)
    else:
        monkeypatch.setenv("VOICESMITH_TTS_RUNTIME", raw)
    assert settings.tts_runtime() == value


def test_an_unknown_tts_runtime_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("VOICESMITH_TTS_RUNTIME", "tensorrt")
    with pytest.raises(ValueError, match=r"VOICESMITH_TTS_RUNTIME must be one of auto, onnxruntime, openvino, "
                                         r"not 'tensorrt'"):
        settings.tts_runtime()
