"""A client that goes away mid-stream stops generation at the next chunk, on all three TTS endpoints.

Measured exactly rather than by CPU load (which other processes disturb): the app runs in a real uvicorn server
in this process, with a stand-in synthesizer that counts the chunks it is asked for. A transcript that would take
it ~20 s is abandoned after the first audio; the count must freeze within a second and the server keep serving.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from tests.tts_support import uvicorn_in_thread
from voicesmith.engine.synthesis import SpeechChunk, WordTiming

CHUNKS = 2000  # x 10 ms each: what an unstopped generation would cost
RAW = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}


class CountingSynthesizer:
    """Produces a 0.1 s tone per chunk, 10 ms apart, and counts how many chunks were pulled."""

    sample_rate = 24000

    def __init__(self) -> None:
        self.produced = 0

    def stream_script(self, script: object, voice: object, *, language: str = "en", speed: float = 1.0,
                      lexicon: object = None) -> Iterator[SpeechChunk]:
        text = "".join(getattr(part, "text", "") for part in script.parts)  # type: ignore[attr-defined]
        tone = (0.2 * np.sin(np.arange(2400) * 0.1)).astype(np.float32)
        if text.startswith("Explode"):
            yield SpeechChunk(audio=tone)
            raise RuntimeError("kaboom in the engine")
        for i in range(CHUNKS):
            time.sleep(0.01)
            self.produced += 1
            yield SpeechChunk(audio=tone, words=[WordTiming("la", i * 0.1, i * 0.1 + 0.05)])

    def synthesize(self, text: str, voice, **_kw) -> SpeechChunk:  # noqa: ANN001 (warm-up)
        return SpeechChunk(audio=np.zeros(240, dtype=np.float32))


@pytest.fixture(scope="module")
def local(api):
    """(base url, headers, synthesizer) of a uvicorn server on the `api` fixture's data directory."""
    from voicesmith.api.app import create_app
    from voicesmith.service import synthesis

    fake = CountingSynthesizer()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synthesis, "get_synthesizer", lambda: fake)
        with uvicorn_in_thread(create_app()) as port:
            voice = api.client.get("/voices", headers=api.h("listener")).json()["data"][0]["id"]
            yield f"127.0.0.1:{port}", api.h("listener"), voice, fake


def _body(voice: str) -> dict:
    return {"model_id": "sonic-2", "voice": {"mode": "id", "id": voice}, "transcript": "La la la. " * 50,
            "output_format": RAW, "context_id": "gone", "continue": False, "add_timestamps": True}


def _assert_stopped(fake: CountingSynthesizer, before: int) -> None:
    time.sleep(1.0)  # at most the chunk in flight completes
    settled = fake.produced
    time.sleep(1.0)
    assert fake.produced == settled, "chunks are still being generated after the client left"
    assert settled - before < 200, f"{settled - before} of {CHUNKS} chunks were generated for a gone client"


def _still_serves(host: str, headers: dict, voice: str, fake: CountingSynthesizer) -> None:
    r = httpx.get(f"http://{host}/", timeout=10)
    assert r.status_code == 200
    ws_body = {**_body(voice), "context_id": "after", "transcript": "La."}
    with connect(f"ws://{host}/tts/websocket", additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps(ws_body))
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "chunk" and first["context_id"] == "after"


def test_sse(local):
    host, headers, voice, fake = local
    before = fake.produced
    with httpx.stream("POST", f"http://{host}/tts/sse", json=_body(voice), headers=headers, timeout=30) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))
    _assert_stopped(fake, before)
    _still_serves(host, headers, voice, fake)


def test_bytes(local):
    host, headers, voice, fake = local
    before = fake.produced
    with httpx.stream("POST", f"http://{host}/tts/bytes", json=_body(voice), headers=headers, timeout=30) as r:
        assert r.status_code == 200
        assert next(r.iter_bytes())
    _assert_stopped(fake, before)
    _still_serves(host, headers, voice, fake)


@pytest.mark.parametrize("how", ["close handshake", "dropped TCP"])
def test_websocket(local, how):
    host, headers, voice, fake = local
    before = fake.produced
    with connect(f"ws://{host}/tts/websocket", additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps(_body(voice)))
        assert json.loads(ws.recv(timeout=10))["type"] == "chunk"
        if how == "dropped TCP":  # as a crashed client would: no close frame
            ws.socket.shutdown(socket.SHUT_RDWR)
    _assert_stopped(fake, before)
    _still_serves(host, headers, voice, fake)


def test_engine_failure_ends_only_its_context(local):
    host, headers, voice, fake = local
    with connect(f"ws://{host}/tts/websocket", additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps({**_body(voice), "context_id": "broken", "transcript": "Explode now."}))
        events = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
        assert [e["type"] for e in events] == ["chunk", "error"]
        assert events[1]["status_code"] == 500 and events[1]["error_code"] == "internal_error"
        assert events[1]["context_id"] == "broken" and "kaboom" not in json.dumps(events[1])
        ws.send(json.dumps({**_body(voice), "context_id": "fine", "transcript": "La."}))
        assert json.loads(ws.recv(timeout=10))["context_id"] == "fine"
