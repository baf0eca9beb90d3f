"""The likeness measures on real speech: a speaker's own other clips are closer to their held-out clips
than another speaker's, identical sets are at distance 0, and DNSMOS hears added noise."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.engine.adapt_data import corpus_rows
from voicesmith.engine import likeness
from voicesmith.engine.audio import load_audio, resample


def _clips(speech_data: Path, speaker: str, count: int, offset: int, rate: int) -> list[np.ndarray]:
    """`count` clips of 1.5-6 s, every other one from `offset` (so offsets 0 and 1 never share a clip)."""
    rows = [r for r in corpus_rows(speech_data, speaker) if 1.5 <= float(r["seconds"]) <= 6.0][offset::2][:count]
    return [load_audio(speech_data / r["path"], rate)[0] for r in rows]


@pytest.fixture(scope="module")
def allison(speech_data):
    """Two disjoint sets of allison_en's clips at 16 kHz: her 'held-out' and her 'other' recordings."""
    return _clips(speech_data, "allison_en", 8, 0, 16000), _clips(speech_data, "allison_en", 8, 1, 16000)


def test_fraction_on_known_numbers():
    assert likeness.fraction(6.0, 10.0, 2.0) == pytest.approx(0.5)
    assert likeness.fraction(10.0, 10.0, 2.0) == 0.0  # as far as the best stock voice
    assert likeness.fraction(2.0, 10.0, 2.0) == 1.0  # as close as the speaker to themself
    assert likeness.fraction(12.0, 10.0, 2.0) == pytest.approx(-0.25)  # farther than the best stock voice
    assert likeness.fraction(1.0, 10.0, 2.0) == pytest.approx(1.125)
    assert likeness.fraction(5.0, 2.0, 2.0) is None  # no gap to close
    assert likeness.fraction(5.0, 1.0, 2.0) is None
    assert likeness.fraction(math.nan, 10.0, 2.0) is None


def test_frechet_on_known_gaussians():
    eye = np.eye(2)
    assert likeness.frechet(np.zeros(2), eye, np.array([3.0, 4.0]), eye) == pytest.approx(25.0)
    # 1-D: (m1-m2)^2 + (s1-s2)^2 = 0 + (1-2)^2
    assert likeness.frechet(np.zeros(1), np.eye(1), np.zeros(1), 4 * np.eye(1)) == pytest.approx(1.0)


def test_identical_sets_are_at_distance_zero_and_close_the_whole_gap(allison):
    held, _ = allison
    found = likeness.features(held, 16000, quality=False)
    same = likeness.distances(found, found)
    assert set(same) == set(likeness.DISTANCES)
    assert all(v == pytest.approx(0.0, abs=1e-6) for v in same.values()), same
    assert likeness.fraction(same["mfcc_frechet"], 40.0, 0.0) == pytest.approx(1.0)


def test_the_speaker_is_closer_to_themself_than_another_speaker_on_every_measure(allison, speech_data):
    held, own = allison
    real = likeness.features(held, 16000, quality=False)
    mine = likeness.distances(likeness.features(own, 16000, quality=False), real)
    # A male LibriVox reader at the same 16 kHz.
    other = likeness.distances(likeness.features(_clips(speech_data, "librivox_en", 5, 0, 16000)
                                                 + _clips(speech_data, "librivox_en", 5, 1, 16000), 16000,
                                                 quality=False), real)
    for m in likeness.DISTANCES:
        assert 0 < mine[m] < other[m], (m, mine, other)
    assert other["f0_semitones"] > 6  # an octave-ish apart, not a detail of the method
    # A female speaker at 8 kHz (June, Canadian French): compared at her bandwidth.
    real_8k = likeness.features([resample(c, 16000, 8000) for c in held], 8000, quality=False)
    mine_8k = likeness.distances(likeness.features([resample(c, 16000, 8000) for c in own], 8000, quality=False), real_8k)
    june = likeness.distances(likeness.features(_clips(speech_data, "june_fr", 8, 0, 8000), 8000, quality=False), real_8k)
    for m in likeness.DISTANCES:
        assert mine_8k[m] < june[m], (m, mine_8k, june)


def test_the_guards_mfcc_distance_is_the_reports_and_needs_speech(allison):
    held, own = allison
    found = likeness.distances(likeness.features(own, 16000, quality=False), likeness.features(held, 16000, quality=False))
    assert likeness.mfcc_frechet(own, held, 16000) == pytest.approx(found["mfcc_frechet"])
    with pytest.raises(ValueError):
        likeness.mfcc_frechet([np.zeros(100, np.float32)], held, 16000)


def test_dnsmos_scores_clean_speech_above_the_same_speech_in_noise(allison):
    clean = allison[0][:4]
    rng = np.random.default_rng(0)
    noisy = [np.clip(c + np.std(c) * rng.standard_normal(len(c)).astype(np.float32), -1, 1) for c in clean]  # ~0 dB SNR
    clean_q, noisy_q = likeness.dnsmos_ovrl(clean, 16000), likeness.dnsmos_ovrl(noisy, 16000)
    assert 1.0 <= noisy_q and clean_q <= 5.0
    assert clean_q > noisy_q + 0.8, (clean_q, noisy_q)
    assert likeness.dnsmos_ovrl([], 16000) is None
