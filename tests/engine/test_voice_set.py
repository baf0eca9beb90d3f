"""The parts of the four-voice plan that need no model (prosody groups, their names, measurements), and what the
bespoke stage's guard hears of a voice (real Kokoro, Whisper and Resemblyzer)."""

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


def test_the_guard_hears_each_voice_once_and_tells_speech_from_a_garbled_voice(speech_data):
    from tests.engine.adapt_data import load_clips
    from voicesmith.engine import speaker, style_space
    from voicesmith.engine.adapt import IntelligibilityGuard, Sentence
    from voicesmith.engine.phonemes import phonemize
    from voicesmith.engine.rendering import Renderer
    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.engine.voice_profile import SpeakerProfile, measure, to_band
    from voicesmith.engine.voice_set import hear, mfcc_distance

    clips = load_clips(speech_data, "allison_en", 2, min_s=2.0)
    sentences = [Sentence.from_recording(c.text, phonemize(c.text, "en"), c.audio, 24000, 16000) for c in clips]
    stats = measure([c.audio for c in clips], 24000, [s.phonemes for s in sentences], 16000,
                    embeddings=np.stack([c.embedding for c in clips]))
    target = SpeakerProfile.from_stats(stats, 16000, centroid=speaker.centroid(np.stack([c.embedding for c in clips])))
    recorded = [to_band(c.audio, 24000, 16000) for c in clips]
    stock = style_space.stock_packs()["jf_alpha"]
    rng = np.random.default_rng(0)  # far outside the search's bound, as in test_adapt's guard test
    garbled = (stock + (40 * rng.choice([-1.0, 1.0], 256) * style_space.stock_scale())[None, :]).astype(np.float32)
    with Renderer(workers=2) as renderer:
        guard = IntelligibilityGuard(sentences, "en", renderer)
        renders = []
        speak_many = renderer.speak_many
        renderer.speak_many = lambda jobs, **kw: renders.append(len(jobs)) or speak_many(jobs, **kw)
        clear, bad = (hear(VoiceArtifact(style), guard, target, renderer) for style in (stock, garbled))
        assert renders == [2, 2]  # one render of the guard's sentences per voice: Whisper and the encoder share it
        near, far = (mfcc_distance(VoiceArtifact(style), sentences, recorded, target, renderer)
                     for style in (stock, garbled))
    assert clear.error <= 0.25 and bad.error >= 0.5
    assert -1.0 <= bad.similarity < clear.similarity <= 1.0
    assert 0 < near < far
