import numpy as np
import pytest

from voicesmith.engine import audio, speaker


@pytest.fixture(scope="module")
def voices(speech_clips) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(embeddings, seconds) of a few real utterances per speaker, 2.5-9 s long."""
    counts = {"allison_en": 8, "carlo_it": 5, "june_fr": 5, "librivox_en": 3}
    out = {}
    for name, n in counts.items():
        clips = speech_clips.pick(name, n, max_s=15.0)
        audios = [audio.load_audio(c.path) for c in clips]
        out[name] = (
            np.stack([speaker.embed_utterance(a, sr) for a, sr in audios]),
            np.array([len(a) / sr for a, sr in audios]),
        )
    return out


def test_embeddings_are_unit_vectors_and_rate_independent(speech_clips):
    clip = speech_clips.pick("allison_en", 1)[0]
    samples, sr = audio.load_audio(clip.path)
    e16 = speaker.embed_utterance(samples, sr)
    e24 = speaker.embed_utterance(audio.resample(samples, sr, 24000), 24000)
    assert e16.shape == (256,) and np.linalg.norm(e16) == pytest.approx(1.0, abs=1e-4)
    assert speaker.cosine(e16, e24) > 0.98  # resampled to 16 kHz inside


def test_same_speaker_is_closer_than_other_speakers(voices):
    allison, seconds = voices["allison_en"]
    for i in range(len(allison)):
        rest = speaker.centroid(np.delete(allison, i, axis=0))
        # The measured thresholds hold on these clips: own voice above, others below.
        assert speaker.cosine(allison[i], rest) >= speaker.same_speaker_threshold(seconds[i])
    centre = speaker.centroid(allison)
    for other in ("carlo_it", "june_fr", "librivox_en"):
        embeddings, other_seconds = voices[other]
        for e, s in zip(embeddings, other_seconds):
            assert speaker.cosine(e, centre) < speaker.same_speaker_threshold(s), other


def test_check_speakers_finds_the_main_voice_in_a_mixture(voices):
    allison, a_s = voices["allison_en"]
    carlo, c_s = voices["carlo_it"]
    check = speaker.check_speakers(np.concatenate([allison, carlo]), np.concatenate([a_s, c_s]))
    # Allison has more speech: she is the main voice and every Carlo utterance is an outlier.
    assert sorted(check.outliers) == list(range(len(allison), len(allison) + len(carlo)))
    assert check.outlier_fraction == pytest.approx(c_s.sum() / (a_s.sum() + c_s.sum()))
    assert speaker.cosine(check.centroid, speaker.centroid(allison)) > 0.99


def test_check_speakers_keeps_a_single_voice_whole(voices):
    june, seconds = voices["june_fr"]
    check = speaker.check_speakers(june, seconds)
    assert check.outliers == [] and check.outlier_fraction == 0.0


def test_bandwidth_is_not_a_different_speaker(speech_clips):
    clips = speech_clips.pick("allison_en", 4)
    wide = [audio.load_audio(c.path, 16000)[0] for c in clips]
    narrow = [speaker.narrowband(a, 16000) for a in wide]
    both = speaker.embed_many(narrow, 16000)
    # Compared at one bandwidth, the voice matches itself.
    for i in range(len(both)):
        assert speaker.cosine(both[i], speaker.centroid(np.delete(both, i, axis=0))) > 0.8


def test_too_short_audio_cannot_be_embedded():
    with pytest.raises(ValueError):
        speaker.embed_utterance(np.zeros(1600, np.float32), 16000)
    rows = speaker.embed_many([np.zeros(1600, np.float32)], 16000)
    assert rows.shape == (1, 256) and np.isnan(rows).all()
