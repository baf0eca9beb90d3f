"""Small real WAV files for upload tests: uploads named as audio must decode (service/datasets.py)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def wav_bytes(seconds: float = 0.05, freq: float = 220.0, rate: int = 24000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


TINY_WAV = wav_bytes()  # 2,444 bytes
