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


class RecordingsAsRenders:
    """A renderer that "speaks" each sentence as the speaker's own recording of it (no Kokoro), counting calls."""

    sample_rate = 24000

    def __init__(self, recordings: dict[str, np.ndarray]) -> None:
        self.recordings = recordings
        self.calls: list[int] = []

    def speak_many(self, jobs, should_cancel=None):
        self.calls.append(len(jobs))
        return [self.recordings[phonemes] for _, phonemes, *_ in jobs]


class HeardAs:
    """The intelligibility guard's interface over fixed transcripts (no Whisper): its error is the share of clips
    whose transcript is not the sentence."""

    def __init__(self, sentences, transcripts: list[str]) -> None:
        self.sentences, self.transcripts = sentences, transcripts

    def heard(self, clips):
        assert len(clips) == len(self.sentences)
        return self.transcripts

    def error(self, hypotheses):
        return float(np.mean([h != s.text for h, s in zip(hypotheses, self.sentences)]))


def test_the_guard_hears_the_clips_it_rendered_once_and_measures_them_against_the_speaker(speech_data):
    """Fast sibling of the next test: the speaker's own recordings stand in for renders (real Resemblyzer and MFCCs,
    no Kokoro or Whisper)."""
    from tests.engine.adapt_data import load_clips
    from voicesmith.engine import speaker
    from voicesmith.engine.adapt import Sentence
    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.engine.voice_profile import SpeakerProfile, measure, to_band
    from voicesmith.engine.voice_set import hear, mfcc_distance

    own, other = load_clips(speech_data, "allison_en", 4, min_s=2.0), load_clips(speech_data, "carlo_it", 2, min_s=2.0)
    sentences = [Sentence.from_recording(c.text, f"p{k}", c.audio, 24000, 16000) for k, c in enumerate(own[:2])]
    stats = measure([c.audio for c in own], 24000, [f"p{k}" for k in range(4)], 16000,
                    embeddings=np.stack([c.embedding for c in own]))
    target = SpeakerProfile.from_stats(stats, 16000, centroid=speaker.centroid(np.stack([c.embedding for c in own])))
    recorded = [to_band(c.audio, 24000, 16000) for c in own[:2]]
    voice = VoiceArtifact(np.zeros((510, 256), np.float32))
    herself = RecordingsAsRenders({s.phonemes: c.audio for s, c in zip(sentences, own)})
    someone_else = RecordingsAsRenders({s.phonemes: c.audio for s, c in zip(sentences, other)})
    guard = HeardAs(sentences, [sentences[0].text, "something else"])
    mine, theirs = hear(voice, guard, target, herself), hear(voice, guard, target, someone_else)
    assert herself.calls == [2] and someone_else.calls == [2]  # one render of the guard's sentences each
    assert mine.error == theirs.error == 0.5  # the guard judged the transcripts of those renders
    assert mine.similarity > 0.75 and theirs.similarity < mine.similarity - 0.1
    assert mfcc_distance(voice, sentences, recorded, target, herself) == pytest.approx(0.0, abs=1e-6)
    assert mfcc_distance(voice, sentences, recorded, target, someone_else) > 1.0


@pytest.mark.slow
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
