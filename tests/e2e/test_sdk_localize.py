"""The official `cartesia` v4 SDK lists voicesmith's accents and localizes a voice through them (2026-08-14)."""

from __future__ import annotations

import pytest

from tests.tts_support import stock_voice_ids

cartesia = pytest.importorskip("cartesia", minversion="4")


@pytest.fixture(scope="module")
def client(live_server):
    return cartesia.Cartesia(api_key=live_server.make_key("sdk-localize"), base_url=live_server.base_url,
                             max_retries=0, timeout=300)


def test_sdk_lists_accents_and_localizes(client, live_server):
    accents = client.voices.list_accents().accents
    assert "parisian" in [a.id for a in accents] and all(a.is_localizable for a in accents)
    source = stock_voice_ids(live_server.base_url, live_server.headers())[0]
    made = client.voices.localize(voice_id=source, name="Stock in French", accent="parisian",
                                  original_speaker_gender="female", tagline="Bonjour")
    assert made.language == "fr" and made.name == "Stock in French"
    voice = client.voices.get(made.id)
    assert (voice.accent, voice.tagline, voice.is_owner) == ("parisian", "Bonjour", True)
    with pytest.raises(cartesia.BadRequestError) as refused:
        client.voices.localize(voice_id=source, name="x", accent="mandarin")
    assert "unsupported_accent" in str(refused.value)
