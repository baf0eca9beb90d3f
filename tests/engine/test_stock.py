import uuid

import numpy as np

from voicesmith.engine.stock import STOCK_NAMESPACE, stock_voice, stock_voices
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
