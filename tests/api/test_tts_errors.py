"""Every bad TTS request gets the right status and error_code, never a 500 or a hang, and leaves the server
healthy: HTTP bodies and WebSocket frames (refused handshakes: test_tts_websocket.py; clients that vanish
mid-stream: test_tts_disconnect.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from websockets.sync.client import connect

from tests.tts_support import tts_body

RAW = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}
UNKNOWN_VOICE = "00000000-0000-4000-8000-000000000000"
LONG_TEXT = "This sentence is here to make a very long transcript. " * 120  # about 6,500 characters


def _body(voice: str, /, **changes: object) -> dict:
    body = tts_body(voice, "Hello.", RAW)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key)
        else:
            body[key] = value
    return body


_DROP = object()

# (id, endpoint, body builder (voice -> dict or raw str), extra headers, status, error_code)
HTTP_CASES: list[tuple[str, str, Callable[[str], object], dict, int, str]] = [
    ("unknown voice", "bytes", lambda v: _body(v, voice={"mode": "id", "id": UNKNOWN_VOICE}), {}, 404,
     "voice_not_found"),
    ("voice not a uuid", "bytes", lambda v: _body(v, voice="not-a-voice"), {}, 404, "voice_not_found"),
    ("embedding voice", "bytes", lambda v: _body(v, voice={"mode": "embedding", "embedding": [0.1] * 192}), {},
     400, "embedding_not_supported"),
    ("voice without id", "bytes", lambda v: _body(v, voice={"mode": "id"}), {}, 400, "invalid_voice"),
    ("bad container", "bytes", lambda v: _body(v, output_format={"container": "ogg", "sample_rate": 16000}), {},
     400, "invalid_output_format"),
    ("bad encoding", "bytes", lambda v: _body(v, output_format={**RAW, "encoding": "pcm_s24le"}), {}, 400,
     "invalid_output_format"),
    ("bad sample rate", "bytes", lambda v: _body(v, output_format={**RAW, "sample_rate": 12345}), {}, 400,
     "invalid_output_format"),
    ("bad mp3 bit rate", "bytes",
     lambda v: _body(v, output_format={"container": "mp3", "sample_rate": 44100, "bit_rate": 1000}), {}, 400,
     "invalid_output_format"),
    ("empty transcript", "bytes", lambda v: _body(v, transcript=""), {}, 400, "empty_transcript"),
    ("blank transcript", "sse", lambda v: _body(v, transcript="  \n "), {}, 400, "empty_transcript"),
    ("too long", "bytes", lambda v: _body(v, transcript=LONG_TEXT), {}, 400, "transcript_too_long"),
    ("malformed JSON", "bytes", lambda v: '{"model_id": "sonic-2", "transcript": ', {}, 400, "invalid_json"),
    ("JSON array body", "bytes", lambda v: [1, 2], {}, 400, "invalid_request"),
    ("missing transcript", "bytes", lambda v: _body(v, transcript=_DROP), {}, 400, "invalid_request"),
    ("missing output_format", "sse", lambda v: _body(v, output_format=_DROP), {}, 400, "invalid_request"),
    ("unknown model", "bytes", lambda v: _body(v, model_id="gpt-voice-9"), {}, 400, "model_not_found"),
    ("unsupported language", "bytes", lambda v: _body(v, language="xx"), {}, 400, "unsupported_language"),
    ("language the engine lacks", "sse", lambda v: _body(v, language="ko"), {}, 400, "unsupported_language"),
    ("language and locale", "bytes", lambda v: _body(v, locale="en-GB"), {}, 400, "invalid_request"),
    ("speed out of range", "bytes", lambda v: _body(v, generation_config={"speed": 3.0}), {}, 400,
     "invalid_request"),
    ("unknown speed name", "bytes", lambda v: _body(v, speed="warp"), {}, 400, "invalid_request"),
    ("SSE with wav", "sse", lambda v: _body(v, output_format={**RAW, "container": "wav"}), {}, 400,
     "invalid_output_format"),
    ("SSE with mp3", "sse", lambda v: _body(v, output_format={"container": "mp3", "sample_rate": 44100,
                                                             "bit_rate": 128000}), {}, 400,
     "invalid_output_format"),
    ("unknown pronunciation dict", "bytes", lambda v: _body(v, pronunciation_dict_id="pd_123"),
     {"Cartesia-Version": "2026-03-01"}, 404, "pronunciation_dict_not_found"),
    ("bad API key", "bytes", lambda v: _body(v), {"Authorization": "Bearer sk_vs_nope"}, 401, "unauthorized"),
    ("bad version", "sse", lambda v: _body(v), {"Cartesia-Version": "last-tuesday"}, 400, "invalid_version"),
]


def assert_healthy(server) -> None:
    r = httpx.get(f"{server.base_url}/", timeout=30)
    assert r.status_code == 200 and r.json()["ok"] is True


@pytest.mark.parametrize(("endpoint", "build", "headers", "status", "code"),
                         [pytest.param(*case[1:], id=case[0]) for case in HTTP_CASES])
def test_bad_http_request(server, voice, endpoint, build, headers, status, code):
    body = build(voice)
    content = body if isinstance(body, str) else json.dumps(body)
    r = httpx.post(f"{server.base_url}/tts/{endpoint}", content=content,
                   headers={**server.headers(), "Content-Type": "application/json", **headers}, timeout=60)
    assert r.status_code == status, r.text
    error = r.json()
    assert error["error_code"] == code, error
    assert error["message"] and error["request_id"]
    assert_healthy(server)


def ws_open(server, version: str = "2026-08-14"):
    return connect(f"{server.ws_url}/tts/websocket?cartesia_version={version}",
                   additional_headers=server.headers(), open_timeout=60)


def generation(voice: str, context_id: str, /, **changes: object) -> dict:
    body = {**_body(voice, **changes), "context_id": context_id, "continue": False}
    return body


# (id, frame builder (voice -> str | bytes), status, error_code, whether the error names the context)
WS_CASES: list[tuple[str, Callable[[str], str | bytes], int, str, bool]] = [
    ("garbage text frame", lambda v: "hello?? {not json", 400, "invalid_json", False),
    ("binary frame", lambda v: b"\x00\x01\x02garbage", 400, "invalid_message", False),
    ("JSON that is not an object", lambda v: "[1, 2, 3]", 400, "invalid_request", False),
    ("bad JSON in a context", lambda v: '{"context_id": "c1", "transcript": "Hi", "continue": tru', 400,
     "invalid_json", False),
    ("unknown voice", lambda v: json.dumps(generation(v, "c1", voice=UNKNOWN_VOICE)), 404, "voice_not_found",
     True),
    ("wav on the socket", lambda v: json.dumps(generation(v, "c1", output_format={**RAW, "container": "wav"})),
     400, "invalid_output_format", True),
    ("bad sample rate", lambda v: json.dumps(generation(v, "c1", output_format={**RAW, "sample_rate": 1})), 400,
     "invalid_output_format", True),
    ("unknown model", lambda v: json.dumps(generation(v, "c1", model_id="nope")), 400, "model_not_found", True),
    ("first input without voice", lambda v: json.dumps(generation(v, "c1", voice=_DROP)), 400, "invalid_request",
     True),
    ("too long", lambda v: json.dumps(generation(v, "c1", transcript=LONG_TEXT)), 400, "transcript_too_long",
     True),
    ("buffer delay out of range", lambda v: json.dumps(generation(v, "c1", max_buffer_delay_ms=99999)), 400,
     "invalid_request", True),
    ("embedding voice", lambda v: json.dumps(generation(v, "c1", voice={"mode": "embedding", "embedding": [0.0]})),
     400, "embedding_not_supported", True),
]


@pytest.mark.parametrize(("build", "status", "code", "names_context"),
                         [pytest.param(*case[1:], id=case[0]) for case in WS_CASES])
def test_bad_websocket_frame_keeps_connection(server, voice, build, status, code, names_context):
    with ws_open(server) as ws:
        ws.send(build(voice))
        error = json.loads(ws.recv(timeout=60))
        assert error["type"] == "error" and error["done"] is True, error
        assert error["status_code"] == status and error["error_code"] == code, error
        # Both SDK generations can read it: `error` (Fern) and title/message (2025-11-04+).
        assert error["error"] and error["title"] and error["message"] and error["request_id"]
        assert (error.get("context_id") == "c1") == names_context
        # The same connection still serves a good request.
        ws.send(json.dumps(generation(voice, "after", transcript="Still fine.")))
        events = []
        while not events or events[-1]["type"] not in ("done", "error"):
            events.append(json.loads(ws.recv(timeout=300)))
        assert events[-1]["type"] == "done" and any(e["type"] == "chunk" for e in events), events[-1]


def test_input_on_closed_context(server, voice):
    with ws_open(server) as ws:
        ws.send(json.dumps(generation(voice, "once", transcript="First and last.")))
        ws.send(json.dumps({**generation(voice, "once", transcript="One more?"), "continue": True}))
        events = []
        while not events or events[-1]["type"] not in ("done", "error"):
            events.append(json.loads(ws.recv(timeout=300)))
        assert events[-1]["error_code"] == "context_closed"


def test_server_still_speaks_after_all_of_the_above(server, voice):
    r = httpx.post(f"{server.base_url}/tts/bytes", json=_body(voice, transcript="All good."),
                   headers=server.headers(), timeout=300)
    assert r.status_code == 200 and len(r.content) > 16000  # > 0.5 s of 16 kHz s16 audio
