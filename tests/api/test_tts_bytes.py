"""POST /tts/bytes: every container and encoding decodes to speech at the requested rate; request options change
the audio the way the contract says; credits are charged per character; voices are private to their owner."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest

from tests.tts_support import assert_speech, decode_mp3, decode_raw, decode_wav, rms, tts_body

SHORT = "Hello there, how are you today?"


def post(server, body: dict, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/tts/bytes", json=body, headers={**server.headers(), **headers},
                      timeout=300)


@pytest.mark.parametrize(("encoding", "rate", "subtype"), [
    ("pcm_s16le", 16000, "PCM_16"),
    ("pcm_f32le", 44100, "FLOAT"),
    ("pcm_mulaw", 8000, "ULAW"),
])
def test_wav(server, voice, encoding, rate, subtype):
    r = post(server, tts_body(voice, SHORT, {"container": "wav", "encoding": encoding, "sample_rate": rate}))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    audio, sr, sub = decode_wav(r.content)
    assert (sr, sub) == (rate, subtype)
    assert_speech(audio, sr, min_s=0.8, max_s=8)


@pytest.mark.parametrize(("encoding", "rate"), [
    ("pcm_s16le", 24000), ("pcm_f32le", 48000), ("pcm_mulaw", 8000), ("pcm_alaw", 22050),
])
def test_raw(server, voice, encoding, rate):
    r = post(server, tts_body(voice, SHORT, {"container": "raw", "encoding": encoding, "sample_rate": rate}))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    assert "content-length" not in r.headers  # streamed as produced (chunked), not buffered whole
    audio = decode_raw(r.content, encoding)
    assert_speech(audio, rate, min_s=0.8, max_s=8)


def test_mp3_ignores_accept_header(server, voice):
    # The v3/v4 SDKs send Accept: audio/wav whatever the container; the body's output_format decides.
    r = post(server, tts_body(voice, SHORT, {"container": "mp3", "sample_rate": 44100, "bit_rate": 64000}),
             Accept="audio/wav")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/mpeg"
    audio, sr = decode_mp3(r.content)
    assert sr == 44100
    assert_speech(audio, sr, min_s=0.8, max_s=8)
    # A constant-bit-rate stream's size follows its bit rate (frame padding aside).
    expected = 64000 / 8 * audio.size / sr
    assert 0.7 * expected < len(r.content) < 1.4 * expected


@pytest.mark.parametrize("voice_shape", ["bare", "id_only", "mode_id"])
def test_voice_specifier_shapes(server, voice, voice_shape):
    spec = {"bare": voice, "id_only": {"id": voice}, "mode_id": {"mode": "id", "id": voice}}[voice_shape]
    body = tts_body(voice, "One two three.", {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000})
    r = post(server, {**body, "voice": spec})
    assert r.status_code == 200, r.text
    assert_speech(decode_raw(r.content, "pcm_s16le"), 16000)


def _duration(server, voice, **options) -> tuple[float, float]:
    fmt = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 24000}
    r = post(server, tts_body(voice, "Seven quick little mice ran across the floor.", fmt, **options))
    assert r.status_code == 200, r.text
    audio = decode_raw(r.content, "pcm_f32le")
    return audio.size / 24000, rms(audio)


def test_speed_and_volume(server, voice):
    slow, quiet = _duration(server, voice, speed="slow", generation_config={"volume": 0.5})
    fast, loud = _duration(server, voice, generation_config={"speed": 1.5, "volume": 2.0})
    assert fast < 0.8 * slow, (fast, slow)
    assert loud > 2.0 * quiet, (loud, quiet)


def test_duration_truncates(server, voice):
    fmt = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}
    r = post(server, tts_body(voice, SHORT + " " + SHORT, fmt, duration=1.0))
    assert r.status_code == 200, r.text
    audio = decode_raw(r.content, "pcm_s16le")
    assert 0.5 <= audio.size / 16000 <= 1.01


def test_save_returns_file_id(server, voice):
    fmt = {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000}
    r = post(server, tts_body(voice, "Saved.", fmt, save=True))
    assert r.status_code == 200, r.text
    file_id = r.headers.get("cartesia-file-id")
    assert file_id
    saved = list(server.data_dir.rglob(f"{file_id}.wav"))
    assert len(saved) == 1 and saved[0].read_bytes() == r.content


# In-process: credits and ownership ---------------------------------------------------------------------------------

def _speak(api, org: str, voice_id: str, text: str) -> httpx.Response:
    body = tts_body(voice_id, text, {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 8000})
    return api.client.post("/tts/bytes", json=body, headers=api.h(org))


def _own_voice(api, org: str, kind: str) -> str:
    """A voice owned by `org`, made of a real stock style (a random style can make the engine ramble)."""
    from voicesmith.engine.stock import stock_voices
    from voicesmith.service.ids import new_uuid
    from voicesmith.service.voices import store_voice
    from voicesmith.store.db import session_scope

    voice_id = new_uuid()
    with session_scope() as session:
        store_voice(session, voice_id=voice_id, org_id=api.org_id(org), kind=kind, name=f"{org} voice",
                    description="", language="en", artifact=stock_voices()[0].artifact)
    return voice_id


def test_credits_per_character(api):
    stock = api.client.get("/voices", headers=api.h("payer")).json()["data"][0]["id"]
    text = "Four words cost this."
    before, _ = api.credits("payer")
    r = _speak(api, "payer", stock, text)
    assert r.status_code == 200, r.text
    after, _ = api.credits("payer")
    assert before - after == len(text)


def test_professional_voice_costs_one_and_a_half(api):
    own = _own_voice(api, "studio", "fine_tune")
    text = "Odd length text."  # 16 characters -> 24 credits; an odd count would show the rounding up
    before, _ = api.credits("studio")
    r = _speak(api, "studio", own, text)
    assert r.status_code == 200, r.text
    assert before - api.credits("studio")[0] == math.ceil(1.5 * len(text))


def test_insufficient_credits_is_402(api):
    stock = api.client.get("/voices", headers=api.h("broke")).json()["data"][0]["id"]
    api.set_balance("broke", 5)
    r = _speak(api, "broke", stock, "More than five characters.")
    assert r.status_code == 402, r.text
    assert r.json()["error_code"] == "insufficient_credits"
    assert api.credits("broke")[0] == 5  # nothing was taken


def test_other_orgs_voice_is_not_found(api):
    private = _own_voice(api, "owner-org", "clone")
    r = _speak(api, "intruder-org", private, "Let me use your voice.")
    assert r.status_code == 404, r.text
    assert r.json()["error_code"] == "voice_not_found"
    ok = _speak(api, "owner-org", private, "My own voice.")
    assert ok.status_code == 200, ok.text
    assert np.frombuffer(ok.content, dtype="<i2").size > 0
