import io
import json

import numpy as np
import pytest

from voicesmith.engine.voice import VoiceArtifact


def _version(data: bytes) -> int:
    with np.load(io.BytesIO(data)) as npz:
        return json.loads(npz["header"].tobytes().decode())["format_version"]


def test_an_adapter_survives_the_round_trip_and_raises_the_version():
    rng = np.random.default_rng(0)
    adapter = {"generator.conv_post.A": rng.normal(size=(4, 896)).astype(np.float32),
               "generator.conv_post.B": rng.normal(size=(22, 4)).astype(np.float32)}
    voice = VoiceArtifact(np.zeros((510, 256), np.float32), adapter=adapter, meta={"source": "bespoke"})
    data = voice.to_bytes()
    assert _version(data) == 3
    back = VoiceArtifact.from_bytes(data)
    assert back.adapter.keys() == adapter.keys()
    for key, value in adapter.items():
        np.testing.assert_array_equal(back.adapter[key], value)
    assert back.meta == {"source": "bespoke"}


def test_a_voice_without_an_adapter_stays_readable_by_older_servers():
    data = VoiceArtifact(np.zeros((510, 256), np.float32)).to_bytes()
    assert _version(data) == 1
    assert VoiceArtifact.from_bytes(data).adapter is None


def test_a_localized_voice_keeps_its_adapter():
    adapter = {"generator.conv_post.A": np.ones((4, 896), np.float32),
               "generator.conv_post.B": np.ones((22, 4), np.float32)}
    voice = VoiceArtifact(np.zeros((510, 256), np.float32), adapter=adapter)
    donor = VoiceArtifact(np.ones((510, 256), np.float32), speed=1.2)
    assert voice.with_prosody_of(donor, {}).adapter.keys() == adapter.keys()


@pytest.mark.parametrize("adapter", [{}, {"x.A": np.full((2, 2), np.nan)}, {"x.A": np.zeros(3)}])
def test_a_damaged_adapter_is_refused(adapter):
    with pytest.raises(ValueError, match="adapter"):
        VoiceArtifact(np.zeros((510, 256), np.float32), adapter=adapter)
