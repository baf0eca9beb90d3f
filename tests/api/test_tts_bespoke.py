"""A bespoke voice (a voice artifact carrying a decoder adapter, engine/adapter.py) speaks through /tts/bytes,
/tts/sse and /tts/websocket on the live server: intelligibly (Whisper), and not as the stock voice it was
trained from. The voice arrives the way a user's would from another server: POST /voices/import."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.api.test_tts_sse import sse
from tests.api.test_tts_websocket import audio_of, collect, generation, ws_connect
from tests.engine.adapt_data import START_PACK, small_adapter
from tests.tts_support import TWO_SENTENCES, decode_raw, decode_wav, tts_body

RAW = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 24000}
# Whisper tiny.en on the stock voices' speech of varied sentences: 2-7% (models.md); a short request can lose a word.
MAX_WER = 0.2


def _voice_file(artifact: bytes) -> bytes:
    voice = {"id": "x", "name": "Allison (bespoke)", "description": "", "language": "en", "consent": "unverified"}
    manifest = {"format": "voicesmith-voice", "format_version": 1, "voice": voice,
                "artifact_sha256": hashlib.sha256(artifact).hexdigest()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("voice.json", json.dumps(manifest))
        zf.writestr("artifact.npz", artifact)
    return buf.getvalue()


@pytest.fixture(scope="module")
def voices(server, speech_data) -> Iterator[dict[str, str]]:
    """{"bespoke": id, "stock": id}: the trained adapter on the stock pack it started from, and that pack."""
    from voicesmith.engine.kokoro import weights
    from voicesmith.engine.stock import stock_voice_id
    from voicesmith.engine.voice import TIMBRE, VoiceArtifact

    run = small_adapter(speech_data)
    style = weights.voice_packs()[START_PACK].copy()
    style[:, TIMBRE] = run.timbre
    artifact = VoiceArtifact(style=style, adapter=run.state, meta={"source": "test"}).to_bytes()
    r = httpx.post(f"{server.base_url}/voices/import", headers=server.headers(), timeout=120,
                   files={"file": ("bespoke.voice.zip", _voice_file(artifact), "application/zip")})
    assert r.status_code in (200, 201), r.text
    yield {"bespoke": r.json()["id"], "stock": stock_voice_id(START_PACK)}
    # The live server is shared by the session: leave its voice list as it was.
    httpx.delete(f"{server.base_url}/voices/{r.json()['id']}", headers=server.headers(), timeout=60).raise_for_status()


@pytest.fixture(scope="module")
def wer_of():
    from voicesmith.engine.transcribe import Transcriber
    from voicesmith.engine.wer import wer

    transcriber = Transcriber()
    return lambda audio, sr: wer(TWO_SENTENCES, transcriber.transcribe(audio, sr).text)


def _bytes(server, voice: str) -> np.ndarray:
    r = httpx.post(f"{server.base_url}/tts/bytes", headers=server.headers(), timeout=300,
                   json=tts_body(voice, TWO_SENTENCES, {"container": "wav", "encoding": "pcm_s16le",
                                                        "sample_rate": 24000}))
    assert r.status_code == 200, r.text
    audio, rate, _ = decode_wav(r.content)
    assert rate == 24000
    return audio


def test_bytes_speak_the_bespoke_voice(server, voices, wer_of):
    bespoke, stock = _bytes(server, voices["bespoke"]), _bytes(server, voices["stock"])
    assert wer_of(bespoke, 24000) <= MAX_WER
    # Same text, same prosody half, same front: as long as the stock voice, but another sound.
    assert abs(len(bespoke) - len(stock)) <= 0.05 * len(stock)
    n = min(len(bespoke), len(stock))
    assert np.corrcoef(bespoke[:n], stock[:n])[0, 1] < 0.95


def test_sse_speaks_the_bespoke_voice(server, voices, wer_of):
    frames = sse(server, tts_body(voices["bespoke"], TWO_SENTENCES, RAW))
    events = [data for _, data in frames]
    assert events[-1]["type"] == "done" and not [e for e in events if e["type"] == "error"]
    audio = decode_raw(b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "chunk"), "pcm_f32le")
    assert wer_of(audio, 24000) <= MAX_WER


def test_websocket_speaks_the_bespoke_voice(server, voices, wer_of):
    with ws_connect(server) as ws:
        ws.send(generation(voices["bespoke"], "bespoke", TWO_SENTENCES, more=False))
        events = collect(ws, {"bespoke"})["bespoke"]
    assert events[-1]["type"] == "done" and not [e for e in events if e["type"] == "error"]
    assert wer_of(decode_raw(audio_of(events), "pcm_s16le"), 16000) <= MAX_WER
