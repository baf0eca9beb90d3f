"""The official `openai` SDK speaks through voicesmith's OpenAI-compatible API (`/v1/audio/speech`, `/v1/models`):
whole bodies and streamed ones, every response_format decoded independently (PyAV/libsndfile), voices by OpenAI
name, by voicesmith name and by id, and Whisper tiny.en hears the words. Errors come back in OpenAI's shape, which
the SDK turns into its own exception classes."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from tests.tts_support import (THREE_SENTENCES, assert_speech, decode_compressed, decode_mp3, decode_raw, decode_wav,
                               rms, stock_voice_ids)
from voicesmith.engine.wer import wer

openai = pytest.importorskip("openai")

MAX_WER = 0.10
SHORT = "Please call me back after lunch tomorrow."


@pytest.fixture(scope="module")
def key(live_server) -> str:
    return live_server.make_key("openai-sdk")


@pytest.fixture(scope="module")
def client(live_server, key):
    return openai.OpenAI(api_key=key, base_url=f"{live_server.base_url}/v1", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def transcriber():
    from voicesmith.engine.transcribe import Transcriber

    return Transcriber(threads=2)


def heard(transcriber, audio: np.ndarray, rate: int) -> str:
    return transcriber.transcribe(audio, rate).text


def test_speech_bytes_mp3_whisper_hears_the_words(client, transcriber):
    response = client.audio.speech.create(model="tts-1", voice="alloy", input=THREE_SENTENCES)
    assert response.response.headers["content-type"] == "audio/mpeg"
    audio, rate = decode_mp3(response.read())
    assert rate == 24000
    assert_speech(audio, rate, min_s=4, max_s=20)
    text = heard(transcriber, audio, rate)
    assert wer(THREE_SENTENCES, text) <= MAX_WER, text


def test_streaming_response_pcm_arrives_in_pieces_and_is_heard(client, transcriber):
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="onyx", input=THREE_SENTENCES, response_format="pcm",
        instructions="Speak in a cheerful tone.",
    ) as response:
        assert response.headers["content-type"] == "audio/pcm"
        pieces = [p for p in response.iter_bytes() if p]
    assert len(pieces) >= 2  # sentence by sentence, not one buffered body
    audio = decode_raw(b"".join(pieces), "pcm_s16le")  # OpenAI's pcm: 24 kHz s16le, no header
    assert_speech(audio, 24000, min_s=4, max_s=20)
    text = heard(transcriber, audio, 24000)
    assert wer(THREE_SENTENCES, text) <= MAX_WER, text


@pytest.mark.parametrize(("response_format", "media", "codec", "rate"), [
    ("opus", "audio/ogg", "opus", 48000),
    ("aac", "audio/aac", "aac", 24000),
    ("flac", "audio/flac", "flac", 24000),
])
def test_compressed_formats_decode_to_speech(client, transcriber, response_format, media, codec, rate):
    response = client.audio.speech.create(model="tts-1-hd", voice="nova", input=SHORT,
                                          response_format=response_format)
    assert response.response.headers["content-type"] == media
    audio, got_rate, got_codec = decode_compressed(response.read())
    assert (got_rate, got_codec) == (rate, codec)
    assert_speech(audio, rate, min_s=1.5, max_s=10)
    text = heard(transcriber, audio, rate)
    assert wer(SHORT, text) <= 0.2, text


def test_wav_and_voice_by_id_name_and_object(client, live_server, key):
    ids = stock_voice_ids(live_server.base_url, live_server.headers())
    voices = httpx.get(f"{live_server.base_url}/voices", params={"limit": 100}, headers=live_server.headers()).json()
    name = next(v["name"] for v in voices["data"] if v["id"] == ids[0])
    bodies = [client.audio.speech.create(model="tts-1", voice=voice, input="Hello there.", response_format="wav").read()
              for voice in (ids[0], name.upper(), {"id": ids[0]})]
    decoded = [decode_wav(b) for b in bodies]
    for audio, rate, subtype in decoded:
        assert (rate, subtype) == (24000, "PCM_16")
        assert_speech(audio, rate, min_s=0.5, max_s=5)
    # the same voice whichever way it was named: the same audio
    assert all(np.array_equal(decoded[0][0], d[0]) for d in decoded[1:])
    other, _, _ = decode_wav(client.audio.speech.create(model="tts-1", voice=ids[1], input="Hello there.",
                                                        response_format="wav").read())
    assert other.size != decoded[0][0].size or not np.allclose(other, decoded[0][0])


def test_speed_changes_the_length(client):
    def seconds(speed: float) -> float:
        data = client.audio.speech.create(model="tts-1", voice="coral", input=SHORT, response_format="pcm",
                                          speed=speed).read()
        return len(data) / 2 / 24000

    normal, fast = seconds(1.0), seconds(2.0)
    assert fast < 0.7 * normal, (normal, fast)


def test_sse_stream_format(live_server, key, transcriber):
    body = {"model": "gpt-4o-mini-tts", "voice": "sage", "input": SHORT, "response_format": "pcm",
            "stream_format": "sse"}
    with httpx.stream("POST", f"{live_server.base_url}/v1/audio/speech", json=body,
                      headers={"Authorization": f"Bearer {key}"}, timeout=300) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in r.iter_lines() if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["input_tokens"] == len(SHORT)
    audio = decode_raw(b"".join(base64.b64decode(e["audio"]) for e in events[:-1]), "pcm_s16le")
    assert_speech(audio, 24000, min_s=1.5, max_s=10)
    text = heard(transcriber, audio, 24000)
    assert wer(SHORT, text) <= 0.2, text


def test_models(client):
    ids = [m.id for m in client.models.list()]
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "kokoro-82m-v1.0"} <= set(ids)
    assert client.models.retrieve("tts-1").owned_by == "voicesmith"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("whisper-1")
    assert info.value.code == "model_not_found"


def test_errors_have_openai_shape(client, live_server):
    with pytest.raises(openai.AuthenticationError) as info:
        openai.OpenAI(api_key="vs_wrong", base_url=f"{live_server.base_url}/v1", max_retries=0).models.list()
    assert info.value.code == "invalid_api_key"
    cases = [
        (dict(model="tts-9", voice="alloy", input="Hi."), openai.BadRequestError, "model_not_found", "model"),
        (dict(model="tts-1", voice="nobody-by-that-name", input="Hi."), openai.NotFoundError, "voice_not_found",
         "voice"),
        (dict(model="tts-1", voice="alloy", input="Hi.", speed=9.0), openai.BadRequestError, "invalid_request",
         "speed"),
        (dict(model="tts-1", voice="alloy", input="Hi.", response_format="ogg"), openai.BadRequestError,
         "invalid_output_format", "response_format"),
        (dict(model="tts-1", voice="alloy", input="   "), openai.BadRequestError, "empty_transcript", "input"),
        (dict(model="tts-1", voice="alloy", input='Hi <break time="soon"/>.'), openai.BadRequestError,
         "invalid_tag", "input"),
    ]
    for kwargs, error, code, param in cases:
        with pytest.raises(error) as info:
            client.audio.speech.create(**kwargs)
        body = info.value.body
        assert (info.value.code, info.value.param, body["type"]) == (code, param, "invalid_request_error"), kwargs
        assert body["message"] and "Traceback" not in body["message"]


def test_charged_like_tts_bytes(client, live_server, key):
    def balance() -> int:
        return httpx.get(f"{live_server.base_url}/usage/balance", headers={"Authorization": f"Bearer {key}"}
                         ).json()["balance"]

    before = balance()
    client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.", response_format="pcm").read()
    assert before - balance() == len("Hello there.")


def test_tags_are_not_read_aloud(client, transcriber):
    data = client.audio.speech.create(model="tts-1", voice="alloy", response_format="pcm",
                                      input='Hello <break time="1s"/> there.').read()
    audio = decode_raw(data, "pcm_s16le")
    text = heard(transcriber, audio, 24000).lower()
    assert "hello" in text and "there" in text and "break" not in text and "time" not in text, text
    frame = 240  # 10 ms
    quiet = [rms(audio[i: i + frame]) < 0.003 for i in range(0, audio.size - frame, frame)]
    longest, run = 0, 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert longest * 0.01 >= 1.0  # the break: at least a second of silence
