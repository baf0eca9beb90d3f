"""The official `cartesia` v4 SDK manages pronunciation dictionaries on voicesmith (create, list, retrieve, update,
delete) and speaks through one: the phonemes and the audio change, and the word timestamps still name the word as
written; on /tts/sse, /tts/bytes and the WebSocket."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tts_support import decode_raw, stock_voice_ids

cartesia = pytest.importorskip("cartesia", minversion="4")

RAW = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}
TEXT = "I met Nguyen today."


@pytest.fixture(scope="module")
def client(live_server):
    return cartesia.Cartesia(api_key=live_server.make_key("sdk-dicts"), base_url=live_server.base_url,
                             websocket_base_url=live_server.ws_url, max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def voice(live_server) -> str:
    return stock_voice_ids(live_server.base_url, live_server.headers())[0]


def test_sdk_crud(client):
    created = client.pronunciation_dicts.create(name="Team", items=[{"text": "Nguyen", "alias": "win"}])
    assert created.items[0].alias == "win"
    assert created.id in [d.id for d in client.pronunciation_dicts.list()]
    updated = client.pronunciation_dicts.update(created.id, items=[{"text": "Nguyen", "alias": "<<wɪn>>"}])
    assert updated.name == "Team" and updated.items[0].alias == "<<wɪn>>"
    assert client.pronunciation_dicts.retrieve(created.id).items == updated.items
    client.pronunciation_dicts.delete(created.id)
    with pytest.raises(cartesia.NotFoundError):
        client.pronunciation_dicts.retrieve(created.id)


def _sse(client, voice, **extra):
    audio, words, phonemes = [], [], []
    for event in client.tts.generate_sse(model_id="sonic-3", transcript=TEXT, voice={"mode": "id", "id": voice},
                                         output_format=RAW, add_timestamps=True, add_phoneme_timestamps=True,
                                         **extra):
        if event.type == "chunk":
            audio.append(event.audio)
        elif event.type == "timestamps":
            words += event.word_timestamps.words
        elif event.type == "phoneme_timestamps":
            phonemes += event.phoneme_timestamps.phonemes
        assert event.type != "error", event
    return decode_raw(b"".join(audio), "pcm_s16le"), words, phonemes


@pytest.mark.parametrize("alias", ["win", "<<wɪn>>"])
def test_dictionary_changes_phonemes_and_audio_not_the_words(client, voice, alias):
    pd = client.pronunciation_dicts.create(name="Names", items=[{"text": "nguyen", "alias": alias}])
    plain_audio, plain_words, plain_phonemes = _sse(client, voice)
    audio, words, phonemes = _sse(client, voice, pronunciation_dict_id=pd.id)
    assert words == plain_words == ["I", "met", "Nguyen", "today"]
    assert "".join(phonemes) != "".join(plain_phonemes)
    assert "w" in "".join(phonemes) and "w" not in "".join(plain_phonemes)
    assert audio.size != plain_audio.size or not np.allclose(audio, plain_audio)
    # /tts/bytes speaks through the dictionary too: the same audio as SSE
    data = client.tts.generate(model_id="sonic-3", transcript=TEXT, voice={"mode": "id", "id": voice},
                               output_format=RAW, pronunciation_dict_id=pd.id).read()
    assert np.array_equal(decode_raw(data, "pcm_s16le"), audio)


def test_websocket_uses_the_dictionary(client, voice):
    pd = client.pronunciation_dicts.create(name="WS", items=[{"text": "Nguyen", "alias": "win"}])
    _, _, sse_phonemes = _sse(client, voice, pronunciation_dict_id=pd.id)
    with client.tts.websocket_connect() as connection:
        ctx = connection.context(model_id="sonic-3", voice={"mode": "id", "id": voice}, output_format=RAW,
                                 language="en", add_phoneme_timestamps=True, pronunciation_dict_id=pd.id)
        ctx.push(TEXT)
        ctx.no_more_inputs()
        phonemes = []
        for event in ctx.receive():
            assert event.type != "error", event
            if event.type == "phoneme_timestamps":
                phonemes += event.phoneme_timestamps.phonemes
    assert phonemes == sse_phonemes


def test_openai_route_takes_a_dictionary_too(client, live_server):
    openai = pytest.importorskip("openai")
    pd = client.pronunciation_dicts.create(name="OpenAI", items=[{"text": "Nguyen", "alias": "win"}])
    speech = openai.OpenAI(api_key=client.api_key, base_url=f"{live_server.base_url}/v1", max_retries=0,
                           timeout=300).audio.speech
    plain = speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm").read()
    custom = speech.create(model="tts-1", voice="alloy", input=TEXT, response_format="pcm",
                           extra_body={"pronunciation_dict_id": pd.id}).read()
    assert plain != custom
    with pytest.raises(openai.NotFoundError) as info:
        speech.create(model="tts-1", voice="alloy", input=TEXT, extra_body={"pronunciation_dict_id": "nope"})
    assert (info.value.code, info.value.param) == ("pronunciation_dict_not_found", "pronunciation_dict_id")
