"""The parts of the four-voice plan that need no model: prosody groups, their names, measurements."""

from __future__ import annotations

import numpy as np
import pytest

from voicesmith.engine.voice_profile import (
    comparison_rate,
    effective_rate,
    ltas_db,
    ltas_distance_db,
    ltas_power,
    phone_count,
)
from voicesmith.engine.voice_set import ProsodyGroup, describe_contrast, prosody_groups


def test_prosody_groups_separate_two_delivery_styles():
    rng = np.random.default_rng(0)
    calm = np.column_stack([rng.normal(8, 0.5, 30), rng.normal(1.5, 0.2, 30), rng.normal(10, 0.5, 30)])
    lively = np.column_stack([rng.normal(11, 0.5, 20), rng.normal(3.0, 0.2, 20), rng.normal(13, 0.5, 20)])
    feats = np.vstack([calm, lively, [[np.nan, np.nan, np.nan]]])
    a, b = prosody_groups(feats)
    groups = sorted([a, b], key=lambda g: g.f0_median_st)
    assert sorted(groups[0].indices) == list(range(30))
    assert sorted(groups[1].indices) == list(range(30, 50))  # the NaN row is in neither
    assert groups[1].rate_pps > groups[0].rate_pps


def test_prosody_groups_refuse_too_little_data():
    assert prosody_groups(np.ones((5, 3))) is None


def test_contrast_names_the_largest_measured_difference():
    base = ProsodyGroup([0], f0_median_st=10.0, f0_spread_st=2.0, rate_pps=11.0)
    higher = ProsodyGroup([1], f0_median_st=12.0, f0_spread_st=2.1, rate_pps=11.1)
    label, text = describe_contrast(higher, base)
    assert label == "higher" and "2.0 semitones higher" in text
    assert describe_contrast(base, higher)[0] == "lower"
    faster = ProsodyGroup([1], f0_median_st=10.1, f0_spread_st=2.0, rate_pps=13.2)
    assert describe_contrast(faster, base)[0] == "brisk"
    assert "20% faster" in describe_contrast(faster, base)[1]


def test_phone_count_ignores_stress_spaces_and_punctuation():
    assert phone_count("hˈɛloʊ, wˈɜɹld.") == 10


def test_ltas_is_level_independent_and_sees_tilt():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(16000).astype(np.float32)
    a = ltas_db(*ltas_power(noise, 16000))
    b = ltas_db(*ltas_power(0.1 * noise, 16000))
    assert ltas_distance_db(a, b) < 1e-6
    tilted = np.cumsum(noise).astype(np.float32)  # brown noise: energy piled at low frequencies
    tilted /= np.abs(tilted).max()
    assert ltas_distance_db(a, ltas_db(*ltas_power(tilted, 16000))) > 5


def test_effective_rate_finds_the_band_a_signal_really_has():
    from voicesmith.engine.audio import resample

    rng = np.random.default_rng(0)
    phone = rng.standard_normal(8000 * 3).astype(np.float32) * 0.1  # white noise at 8 kHz
    assert effective_rate(resample(phone, 8000, 48000), 48000) == 8000
    assert effective_rate(resample(rng.standard_normal(16000 * 3).astype(np.float32) * 0.1, 16000, 24000), 24000) == 16000
    assert comparison_rate(44100) == 24000 and comparison_rate(8000) == 8000


@pytest.mark.parametrize("rate", [8000, 16000])
def test_effective_rate_of_native_audio_is_its_rate(rate):
    rng = np.random.default_rng(1)
    assert effective_rate(rng.standard_normal(rate * 2).astype(np.float32) * 0.1, rate) == rate
