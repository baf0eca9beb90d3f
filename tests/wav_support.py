"""Small WAV files built in memory (the standard `wave`-free way: the header is written by hand, so
tests can also make headers that lie)."""

from __future__ import annotations

import struct

import numpy as np


def wav_header(data_bytes: int, *, rate: int = 16000, channels: int = 1, bits: int = 16, fmt: int = 1,
               riff_bytes: int | None = None) -> bytes:
    """A 44-byte RIFF/WAVE header for `data_bytes` of sample data (fmt 1 = PCM, 3 = IEEE float)."""
    align = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * align, align, bits)
    riff = 4 + 8 + len(fmt_chunk) + 8 + data_bytes if riff_bytes is None else riff_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
            + b"data" + struct.pack("<I", data_bytes))


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def tone(seconds: float = 0.5, freq: float = 220.0, rate: int = 16000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav_bytes(seconds: float = 0.5, freq: float = 220.0, rate: int = 16000, amplitude: float = 0.3) -> bytes:
    """A mono 16-bit PCM tone: the smallest upload the server accepts as audio."""
    data = pcm16(tone(seconds, freq, rate, amplitude))
    return wav_header(len(data), rate=rate) + data
