"""engine/voice_profile.py: the measurements every voice is compared with (comparison rate, band
detection, active duration, long-term spectrum)."""

from __future__ import annotations

import numpy as np

from voicesmith.engine.audio import resample
from voicesmith.engine.voice_profile import (
    active_duration_s,
    comparison_rate,
    effective_rate,
    ltas_db,
    ltas_distance_db,
    ltas_total,
    phone_count,
)

SR = 48000


def _noise(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, int(seconds * sr)).astype(np.float32)


def test_comparison_rate_is_the_sources_capped_at_the_models() -> None:
    assert comparison_rate(8000) == 8000
    assert comparison_rate(11025) == 11025
    assert comparison_rate(48000) == 24000
    assert comparison_rate(4000) == 8000


def test_effective_rate_finds_phone_audio_resampled_to_a_high_rate() -> None:
    phone = resample(_noise(3.0, 8000), 8000, SR)  # nothing above 4 kHz, stored at 48 kHz
    assert effective_rate(phone, SR) == 8000
    assert effective_rate(_noise(3.0), SR) == 24000  # full-band content: the model's rate


def test_active_duration_ignores_leading_and_trailing_silence_but_keeps_pauses() -> None:
    speech, pause = _noise(1.0), np.zeros(SR // 2, np.float32)
    audio = np.concatenate([np.zeros(SR, np.float32), speech, pause, speech, np.zeros(2 * SR, np.float32)])
    assert abs(active_duration_s(audio, SR) - 2.5) < 0.05


def test_long_term_spectrum_distance_is_zero_for_the_same_sound_and_grows_with_a_filter() -> None:
    sr = 24000
    clips = [_noise(2.0, sr, seed) for seed in range(3)]
    same = ltas_db(*ltas_total(clips, sr))
    again = ltas_db(*ltas_total([_noise(2.0, sr, seed) for seed in range(3, 6)], sr))
    muffled = ltas_db(*ltas_total([resample(resample(c, sr, 8000), 8000, sr) for c in clips], sr))
    assert ltas_distance_db(same, again) < 1.0
    assert ltas_distance_db(same, muffled) > 5 * max(ltas_distance_db(same, again), 0.1)


def test_phone_count_leaves_out_stress_and_spacing() -> None:
    assert phone_count("hˈɛloʊ wˈɜːld") < len("hˈɛloʊ wˈɜːld")
    assert phone_count("") == 0
