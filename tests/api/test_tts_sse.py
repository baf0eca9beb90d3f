"""POST /tts/sse: event framing and payloads per API version, base64 PCM that decodes to speech, word and
phoneme timestamps aligned with the audio, and in-band errors once the stream has started."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import numpy as np
import pytest

from tests.tts_support import TWO_SENTENCES, assert_speech, decode_raw, stock_voice_ids, tts_body
from voicesmith.engine.wer import normalize_words


@pytest.fixture(scope="module")
def voice(server) -> str:
    return stock_voice_ids(server.base_url, server.headers())[1]


def parse_sse(body: str) -> list[tuple[str | None, dict]]:
    """(event name, JSON data) of every frame; fails on a frame without JSON data."""
    frames = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data.append(value[1:] if value.startswith(" ") else value)
        assert data, f"frame without data: {block!r}"
        frames.append((name, json.loads("\n".join(data))))
    return frames


def sse(server, body: dict, version: str | None = None) -> list[tuple[str | None, dict]]:
    headers = {**server.headers(), "Accept": "text/event-stream"}
    if version:
        headers["Cartesia-Version"] = version
    r = httpx.post(f"{server.base_url}/tts/sse", json=body, headers=headers, timeout=300)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/event-stream")
    return parse_sse(r.text)


def test_structured_events_with_timestamps(server, voice):
    body = tts_body(voice, TWO_SENTENCES, {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 22050},
                    add_timestamps=True, add_phoneme_timestamps=True, context_id="ctx-42")
    frames = sse(server, body, version="2025-11-04")
    events = [data for _, data in frames]
    types = [e["type"] for e in events]
    assert types[-1] == "done" and types.count("done") == 1 and events[-1]["done"] is True
    assert "error" not in types
    assert all(e.get("context_id") == "ctx-42" for e in events)

    chunks = [e for e in events if e["type"] == "chunk"]
    assert len(chunks) >= 2, "audio should arrive in several chunks"
    assert all(e["done"] is False and isinstance(e["step_time"], (int, float)) for e in chunks)
    audio = decode_raw(b"".join(base64.b64decode(e["data"]) for e in chunks), "pcm_s16le")
    assert_speech(audio, 22050, min_s=1.5, max_s=15)
    duration = audio.size / 22050

    words = [w for e in events if e["type"] == "timestamps" for w in zip(*(e["word_timestamps"][k] for k in
                                                                            ("words", "start", "end")))]
    assert normalize_words(" ".join(w for w, _, _ in words)) == normalize_words(TWO_SENTENCES)
    starts = [s for _, s, _ in words]
    assert starts == sorted(starts)
    assert all(0 <= s < e <= duration + 0.05 for _, s, e in words)

    phonemes = [p for e in events if e["type"] == "phoneme_timestamps" for p in
                zip(*(e["phoneme_timestamps"][k] for k in ("phonemes", "start", "end")))]
    assert len(phonemes) > len(words)
    assert all(0 <= s <= e <= duration + 0.05 for _, s, e in phonemes)
    # Timestamps come after the audio they describe: no word starts beyond the audio sent before it.
    sent = 0.0
    for e in events:
        if e["type"] == "chunk":
            sent += len(base64.b64decode(e["data"])) / 2 / 22050
        elif e["type"] == "timestamps":
            assert min(e["word_timestamps"]["start"]) <= sent + 0.05


def test_fern_version_stream(server, voice):
    body = tts_body(voice, "Short and sweet.", {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 16000})
    frames = sse(server, body, version="2024-11-13")
    assert [name for name, _ in frames] == [None] * len(frames)  # only errors carry an event name
    events = [data for _, data in frames]
    assert events[-1]["type"] == "done"
    audio = decode_raw(b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "chunk"), "pcm_f32le")
    assert_speech(audio, 16000)


# In-band errors: the response has started (status 200), so a failure becomes an `event: error` frame ------------

class _Piece:
    data, duration_s, compute_ms, words, phonemes = b"\x00\x00" * 10, 0.001, 1.0, [], []


def _failing_stream(exc: Exception):
    async def stream(*_args, **_kwargs):
        yield _Piece()
        raise exc

    return stream


class _Encoder:
    def encode(self, _audio) -> bytes:  # noqa: ANN001
        return b""

    def end(self) -> bytes:
        return b""


@pytest.mark.parametrize(("version", "structured"), [("2026-08-14", True), ("2025-04-16", False)])
def test_in_band_error_frame(monkeypatch, version, structured):
    from voicesmith.api.routes import tts
    from voicesmith.api.tts_schemas import SSERequest
    from voicesmith.api.versions import parse_version
    from voicesmith.service.errors import InsufficientCredits

    monkeypatch.setattr(tts, "stream_speech", _failing_stream(InsufficientCredits("out of credits")))
    body = SSERequest.model_validate(tts_body("v", "x", {"container": "raw", "encoding": "pcm_s16le",
                                                          "sample_rate": 8000}))

    async def collect() -> list[bytes]:
        return [frame async for frame in tts._sse_events(None, body, None, _Encoder(), parse_version(version),
                                                                  "req-1")]

    frames = parse_sse(b"".join(asyncio.run(collect())).decode())
    assert [d["type"] for _, d in frames] == ["chunk", "error"]
    name, error = frames[-1]
    assert name == "error"
    assert error["done"] is True and error["status_code"] == 402
    if structured:
        assert error["title"] == "Insufficient credits" and error["message"] == "out of credits"
        assert error["error_code"] == "insufficient_credits" and error["request_id"] == "req-1"
    else:
        assert error["error"] == "Insufficient credits: out of credits"


def test_engine_failure_is_reported_in_band(monkeypatch):
    from voicesmith.api.routes import tts
    from voicesmith.api.tts_schemas import SSERequest
    from voicesmith.api.versions import LATEST

    monkeypatch.setattr(tts, "stream_speech", _failing_stream(RuntimeError("onnx exploded")))
    body = SSERequest.model_validate(tts_body("v", "x", {"container": "raw", "encoding": "pcm_s16le",
                                                          "sample_rate": 8000}))

    async def collect() -> list[bytes]:
        return [frame async for frame in tts._sse_events(None, body, None, _Encoder(), LATEST, "req-2")]

    frames = parse_sse(b"".join(asyncio.run(collect())).decode())
    name, error = frames[-1]
    assert name == "error" and error["status_code"] == 500 and error["error_code"] == "internal_error"
    assert "onnx" not in json.dumps(error)  # internals stay in the server log
    assert np.frombuffer(base64.b64decode(frames[0][1]["data"]), dtype="<i2").size == 10
