"""Generated signals for the ingest tests' bad cases (noise, music, tones) and a concatenation helper."""

from __future__ import annotations

import numpy as np


def white_noise(seconds: float, sr: int = 16000, level: float = 0.1, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(seconds * sr)) * level).astype(np.float32)


def pink_noise(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    n = int(seconds * sr)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    x = np.fft.irfft(spectrum, n)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def music(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Chords with harmonics, a plucked melody, kick, snare and hi-hat at 120 bpm."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros(n)
    chords = [[261.6, 329.6, 392.0], [220.0, 261.6, 329.6], [174.6, 220.0, 261.6], [196.0, 246.9, 293.7]]
    bar = 2.0
    for k in range(int(np.ceil(seconds / bar))):
        s, e = int(k * bar * sr), min(n, int((k + 1) * bar * sr))
        tt = t[s:e] - t[s]
        for f in chords[k % 4]:
            for h in range(1, 6):
                out[s:e] += 0.05 / h * np.sin(2 * np.pi * f * h * tt) * np.exp(-0.5 * tt)
        out[s:e] += 0.08 * np.sin(2 * np.pi * 2 * chords[k % 4][rng.integers(3)] * tt) * np.exp(-tt)
    for b in range(int(seconds / 0.5)):
        s = int(b * 0.5 * sr)
        e = min(n, s + int(0.15 * sr))
        tt = np.arange(e - s) / sr
        out[s:e] += (0.5 * np.sin(2 * np.pi * 60 * tt) if b % 2 == 0 else 0.2 * rng.standard_normal(e - s)) * np.exp(-28 * tt)
        hs = int((b * 0.5 + 0.25) * sr)
        he = min(n, hs + int(0.03 * sr))
        out[hs:he] += 0.05 * rng.standard_normal(max(0, he - hs))
    return (0.5 * out / np.abs(out).max()).astype(np.float32)


def harmonic_tone(f0: float, seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))).astype(np.float32)


def concat(parts: list[np.ndarray], gap_s: float, sr: int) -> np.ndarray:
    gap = np.zeros(int(gap_s * sr), dtype=np.float32)
    out: list[np.ndarray] = [gap]
    for p in parts:
        out += [np.asarray(p, dtype=np.float32), gap]
    return np.concatenate(out)
