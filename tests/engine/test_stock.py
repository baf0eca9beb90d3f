import uuid

import numpy as np

from voicesmith.engine.stock import STOCK_NAMESPACE, prosody_donor, stock_voice, stock_voices
from voicesmith.engine.voice import VoiceArtifact


def test_five_stock_voices_with_stable_ids():
    voices = stock_voices()
    assert [v.key for v in voices] == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    # ids are a pure function of the pack name: the same on every install and restart
    assert STOCK_NAMESPACE == uuid.uuid5(uuid.NAMESPACE_URL, "https://voicesmith.dev/stock-voices")
    for v in voices:
        assert v.voice_id == str(uuid.uuid5(STOCK_NAMESPACE, v.key))
        assert stock_voice(v.voice_id) is v
    assert len({v.voice_id for v in voices}) == 5
    assert stock_voice(str(uuid.uuid4())) is None


def test_stock_voice_metadata():
    for v in stock_voices():
        assert v.gender == ("masculine" if v.key.startswith("jm_") else "feminine")
        assert v.language == "en"
        assert "Japanese" in v.description  # honest about where the voice comes from
        assert v.name and v.name[0].isupper()


def test_stock_artifacts_are_the_shipped_packs_and_round_trip():
    for v in stock_voices():
        assert v.artifact.style.shape == (510, 256)
        again = VoiceArtifact.from_bytes(v.artifact.to_bytes())
        assert np.array_equal(again.style, v.artifact.style)
        assert again.meta["pack"] == v.key


def test_prosody_donor_is_the_nearest_stock_voice_of_the_language_and_gender():
    by_key = {v.key: v for v in stock_voices()}
    # Each stock voice is nearest to itself; a gender narrows the choice; a language without stock voices has none.
    for v in stock_voices():
        assert prosody_donor(v.artifact, "en").key == v.key
    assert prosody_donor(by_key["jf_alpha"].artifact, "en", "masculine").key == "jm_kumo"
    assert prosody_donor(by_key["jm_kumo"].artifact, "en", "feminine").gender == "feminine"
    assert prosody_donor(by_key["jf_alpha"].artifact, "fr") is None


def test_with_prosody_of_swaps_the_second_half_only():
    a, b = stock_voices()[0].artifact, stock_voices()[4].artifact
    timbre = np.array([[300.0, 3000.0], [2.0, -1.0]], dtype=np.float32)
    source = VoiceArtifact(style=a.style, pitch_scale=1.2, speed=0.9, timbre=timbre)
    mixed = source.with_prosody_of(b, {"note": "x"})
    assert np.array_equal(mixed.style[:, :128], a.style[:, :128])
    assert np.array_equal(mixed.style[:, 128:], b.style[:, 128:])
    assert (mixed.pitch_scale, mixed.speed, mixed.meta) == (1.2, b.speed, {"note": "x"})
    assert np.array_equal(mixed.timbre, timbre)
    assert source.kokoro_pack().shape == (510, 1, 256)
