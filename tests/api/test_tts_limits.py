"""TTS limits and WebSocket lifetimes (Cartesia's API): per-organisation concurrency with 429s, the
connection cap, slots coming back on every path, context expiry, and the idle close.

The real app runs in a real uvicorn server in this process (VOICESMITH_TTS_CONCURRENCY=2), with a stand-in
synthesizer whose speaking time is set by the transcript (one chunk per word, 20 ms apart), so a request can be
held open for as long as a test needs without loading the CPU. Real synthesis: test_tts_websocket.py.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from cartesia import Cartesia, RateLimitError
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.tts_support import uvicorn_in_thread
from voicesmith.engine.synthesis import SpeechChunk, WordTiming

LIMIT = 2
STEP_S = 0.02
LONG = "la " * 1000  # 20 s of chunks: only ever abandoned
SHORT = "la la."
RAW = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}


class PacedSynthesizer:
    """One 0.1 s tone per word, STEP_S apart; a transcript starting "Explode" fails after its first chunk."""

    sample_rate = 24000

    def stream(self, text: str, voice: object, *, language: str = "en",
               speed: float = 1.0) -> Iterator[SpeechChunk]:
        tone = (0.2 * np.sin(np.arange(2400) * 0.1)).astype(np.float32)
        for i, word in enumerate(text.split()):
            time.sleep(STEP_S)
            if i == 1 and text.startswith("Explode"):
                raise RuntimeError("kaboom in the engine")
            yield SpeechChunk(audio=tone, words=[WordTiming(word, i * 0.1, i * 0.1 + 0.05)])

    def synthesize(self, text: str, voice, **_kw) -> SpeechChunk:  # noqa: ANN001 (warm-up)
        return SpeechChunk(audio=np.zeros(240, dtype=np.float32))


class Local:
    def __init__(self, host: str, voice: str) -> None:
        self.host = host
        self.voice = voice
        self._keys: dict[str, str] = {}

    def key(self, org: str) -> str:
        from voicesmith import admin

        if org not in self._keys:
            self._keys[org] = admin.create_key(org=org, description="limits test")
        return self._keys[org]

    def headers(self, org: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(org)}"}

    def sdk(self, org: str) -> Cartesia:
        # Retries off: by default the SDK retries a 429 twice before raising.
        return Cartesia(api_key=self.key(org), base_url=f"http://{self.host}", websocket_base_url=f"ws://{self.host}",
                        max_retries=0)

    def body(self, transcript: str, **extra: object) -> dict:
        return {"model_id": "sonic-2", "voice": {"mode": "id", "id": self.voice}, "transcript": transcript,
                "output_format": RAW, "language": "en", **extra}

    def ws(self, org: str) -> ClientConnection:
        return connect(f"ws://{self.host}/tts/websocket", additional_headers=self.headers(org), open_timeout=10)

    def generation(self, context_id: str, transcript: str, *, more: bool, **extra: object) -> str:
        # No buffering unless asked: text generates as it arrives (the default holds unfinished text 3 s).
        return json.dumps({"max_buffer_delay_ms": 0, **self.body(transcript, **extra), "context_id": context_id,
                           "continue": more})


@pytest.fixture(scope="module")
def local(tmp_path_factory, data_dir_switch) -> Iterator[Local]:
    data_dir = tmp_path_factory.mktemp("limits-data")
    with data_dir_switch(data_dir, VOICESMITH_TTS_CONCURRENCY=str(LIMIT)), pytest.MonkeyPatch.context() as mp:
        from voicesmith import admin
        from voicesmith.api.app import create_app
        from voicesmith.service import synthesis

        mp.setattr(synthesis, "get_synthesizer", lambda: PacedSynthesizer())
        with uvicorn_in_thread(create_app()) as port:
            key = admin.create_key(org="lister", description="limits test")
            voice = httpx.get(f"http://127.0.0.1:{port}/voices", headers={"Authorization": f"Bearer {key}"},
                              timeout=30).json()["data"][0]["id"]
            yield Local(f"127.0.0.1:{port}", voice)


@pytest.fixture
def idle_timeout(local) -> Iterator[float]:
    """The server closes idle sockets after 1.5 s in this test (settings are read as each socket opens)."""
    from voicesmith.config import get_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOICESMITH_WS_IDLE_TIMEOUT_S", "1.5")
        get_settings.cache_clear()
        yield 1.5
    get_settings.cache_clear()


def new_org() -> str:
    return f"org-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def streaming(local: Local, org: str, endpoint: str = "bytes") -> Iterator[httpx.Response]:
    """A long HTTP TTS request that has started streaming; leaving the block disconnects mid-stream."""
    with httpx.stream("POST", f"http://{local.host}/tts/{endpoint}", json=local.body(LONG),
                      headers=local.headers(org), timeout=30) as r:
        assert r.status_code == 200, r.read()
        chunks = r.iter_bytes()  # kept until the end: dropping the iterator would close the response
        assert next(chunks)
        yield r


def short_request(local: Local, org: str, endpoint: str = "bytes") -> httpx.Response:
    return httpx.post(f"http://{local.host}/tts/{endpoint}", json=local.body(SHORT), headers=local.headers(org),
                      timeout=30)


def assert_all_slots_free(local: Local, org: str, timeout: float = 10.0) -> None:
    """All LIMIT slots of `org` come back: that many long requests can stream at once. Polls, because the server
    gives a slot back when it notices a client has gone, a moment after the client leaves."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.ExitStack() as stack:
            statuses = []
            for _ in range(LIMIT):
                r = stack.enter_context(httpx.stream("POST", f"http://{local.host}/tts/bytes",
                                                     json=local.body(LONG), headers=local.headers(org),
                                                     timeout=30))
                statuses.append(r.status_code)
            if statuses == [200] * LIMIT:
                return
        assert time.monotonic() < deadline, f"slots still held after {timeout} s: {statuses}"
        time.sleep(0.2)


def events_until_end(ws: ClientConnection, context_id: str, timeout: float = 30.0) -> list[dict]:
    """The events of one context up to its done or error; other contexts' events are skipped."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    while not events or events[-1]["type"] not in ("done", "error"):
        event = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        if event.get("context_id") == context_id:
            events.append(event)
    return events


def first_event(ws: ClientConnection, context_id: str) -> dict:
    while True:
        event = json.loads(ws.recv(timeout=30))
        if event.get("context_id") == context_id:
            return event


def assert_limited(event: dict, context_id: str) -> None:
    assert event["type"] == "error" and event["done"] is True, event
    assert event["status_code"] == 429 and event["error_code"] == "concurrency_limited", event
    assert event["context_id"] == context_id and event["message"] and event["request_id"], event


# --- HTTP ------------------------------------------------------------------------------------------------------------

def test_http_over_the_limit_gets_429_and_a_dropped_stream_frees_its_slot(local):
    org = new_org()
    with streaming(local, org, "bytes"), streaming(local, org, "sse") as sse:
        for endpoint in ("bytes", "sse"):
            r = short_request(local, org, endpoint)
            assert r.status_code == 429 and r.headers["content-type"] == "application/json", r.status_code
            error = r.json()
            assert error["error_code"] == "concurrency_limited" and error["title"], error
            assert "2" in error["message"] and error["request_id"] == r.headers["x-request-id"]
        assert short_request(local, new_org()).status_code == 200  # other organisations are not affected
        with pytest.raises(RateLimitError):  # what the official SDK makes of it
            local.sdk(org).tts.generate(**local.body(SHORT))
        sse.close()  # one client hangs up mid-stream: its slot comes back, the other stream keeps its own
        deadline = time.monotonic() + 10
        while (r := short_request(local, org)).status_code == 429:
            assert time.monotonic() < deadline, "the dropped stream's slot was not given back"
            time.sleep(0.1)
        assert r.status_code == 200 and len(r.content) == 2 * 4800  # two words: two 0.1 s chunks at 24 kHz s16
        assert short_request(local, org).status_code == 200  # finished requests give theirs back too
        with streaming(local, org):
            assert short_request(local, org).status_code == 429  # ...but the limit still holds
    assert_all_slots_free(local, org)


def test_failed_requests_give_their_slot_back(local):
    from sqlalchemy import select

    from voicesmith.store.db import session_scope
    from voicesmith.store.models import Organization

    org = new_org()
    local.headers(org)

    def set_balance(credits: int) -> None:
        with session_scope() as s:
            s.scalar(select(Organization).where(Organization.name == org)).credits_balance = credits

    # Refused after the slot was taken (credits are charged after it): more refusals than slots, none a 429.
    set_balance(0)
    assert [short_request(local, org).status_code for _ in range(LIMIT + 1)] == [402] * (LIMIT + 1)
    set_balance(1_000_000)
    # The engine fails mid-stream: an in-band error event (SSE) or a cut-off body (bytes).
    for _ in range(LIMIT + 1):
        r = httpx.post(f"http://{local.host}/tts/sse", json=local.body("Explode now please"),
                       headers=local.headers(org), timeout=30)
        assert r.status_code == 200 and '"error_code": "internal_error"' in r.text
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"http://{local.host}/tts/bytes", json=local.body("Explode now please"),
                       headers=local.headers(org), timeout=30)
    assert_all_slots_free(local, org)


# --- WebSocket contexts ----------------------------------------------------------------------------------------------

def test_each_websocket_context_counts_and_shares_the_limit_with_http(local):
    org = new_org()
    with local.ws(org) as ws:
        ws.send(local.generation("speaking", LONG, more=False))
        assert first_event(ws, "speaking")["type"] == "chunk"
        with streaming(local, org):  # the second slot: HTTP requests and contexts share one count
            ws.send(local.generation("third", SHORT, more=False))
            assert_limited(first_event(ws, "third"), "third")
            # The connection and the generating context carry on.
            assert first_event(ws, "speaking")["type"] == "chunk"
        # The HTTP client hung up: once its slot is back, the refused context id is usable (it never started).
        deadline = time.monotonic() + 10
        while True:
            ws.send(local.generation("third", SHORT, more=False))
            events = events_until_end(ws, "third")
            if events[-1]["type"] == "done":
                break
            assert_limited(events[-1], "third")
            assert time.monotonic() < deadline, "the HTTP request's slot was not given back"
            time.sleep(0.1)
        assert [e["type"] for e in events] == ["chunk", "chunk", "done"]
        assert short_request(local, org).status_code == 200  # "third" gave its slot back when done
        ws.send(local.generation("fourth", SHORT, more=False))
        assert events_until_end(ws, "fourth")[-1]["type"] == "done"
    assert_all_slots_free(local, org)  # closing the socket ended "speaking" mid-stream


def test_open_contexts_hold_slots_until_cancelled_or_done(local):
    org = new_org()
    with local.ws(org) as ws:
        # Open but silent: unfinished text waits in a 5 s buffer, so nothing generates yet.
        for cid in ("waiting-1", "waiting-2"):
            ws.send(local.generation(cid, "Hello there my", more=True, max_buffer_delay_ms=5000))
        ws.send(local.generation("refused", SHORT, more=False))
        assert_limited(first_event(ws, "refused"), "refused")
        ws.send(json.dumps({"context_id": "waiting-1", "cancel": True}))
        ws.send(local.generation("after-cancel", SHORT, more=False))
        assert events_until_end(ws, "after-cancel")[-1]["type"] == "done"
        ws.send(local.generation("waiting-2", "", more=False))  # closing speaks the buffered text, then done
        assert [e["type"] for e in events_until_end(ws, "waiting-2")] == ["chunk"] * 3 + ["done"]
        for cid in ("a", "b"):  # both slots are free again
            ws.send(local.generation(cid, "Hello there my", more=True, max_buffer_delay_ms=5000))
        ws.send(local.generation("c", SHORT, more=False))
        assert_limited(first_event(ws, "c"), "c")
        for cid in ("a", "b"):
            ws.send(local.generation(cid, "", more=False))
            assert events_until_end(ws, cid)[-1]["type"] == "done"


@pytest.mark.parametrize("how", ["close handshake", "dropped TCP"])
def test_disconnect_mid_stream_frees_the_contexts_slots(local, how):
    org = new_org()
    with local.ws(org) as ws:
        for cid in ("one", "two"):
            ws.send(local.generation(cid, LONG, more=False))
            assert first_event(ws, cid)["type"] == "chunk"
        assert short_request(local, org).status_code == 429
        if how == "dropped TCP":  # as a crashed client would: no close frame
            ws.socket.shutdown(socket.SHUT_RDWR)
    assert_all_slots_free(local, org)


# --- connections -----------------------------------------------------------------------------------------------------

def test_connections_are_capped_at_ten_times_the_limit(local):
    org = new_org()
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(local.ws(org)) for _ in range(10 * LIMIT)]
        with pytest.raises(InvalidStatus) as info:
            local.ws(org)
        assert info.value.response.status_code == 429
        error = json.loads(info.value.response.body)
        assert error["error_code"] == "concurrency_limited" and "20" in error["message"]
        # The official SDK's connect surfaces the same refusal (websockets' InvalidStatus, status 429).
        with pytest.raises(InvalidStatus) as info, local.sdk(org).tts.websocket_connect():
            pass
        assert info.value.response.status_code == 429
        with local.ws(new_org()):  # other organisations connect as usual
            pass
        sockets[0].close()
        deadline = time.monotonic() + 10
        while True:  # the closed socket's place comes back once the server has seen it go
            try:
                with local.ws(org) as ws:
                    ws.send(local.generation("fits", SHORT, more=False))
                    assert events_until_end(ws, "fits")[-1]["type"] == "done"
                break
            except InvalidStatus as exc:
                assert exc.response.status_code == 429 and time.monotonic() < deadline
                time.sleep(0.1)


def test_idle_socket_is_closed_normally_and_frees_its_slots(local, idle_timeout):
    org = new_org()
    with local.ws(org) as ws:
        ws.send(local.generation("open", "Hello there my", more=True, max_buffer_delay_ms=5000))
        sent = time.monotonic()
        with pytest.raises(ConnectionClosedOK) as info:
            ws.recv(timeout=idle_timeout + 10)
        idle_for = time.monotonic() - sent
    assert idle_timeout * 0.9 <= idle_for < idle_timeout + 5, idle_for
    assert info.value.rcvd.code == 1000 and "Idle" in info.value.rcvd.reason
    assert_all_slots_free(local, org)  # the open context's slot went with the socket


def test_messages_either_way_keep_a_socket_open(local, idle_timeout):
    org = new_org()
    with local.ws(org) as ws:
        # Only the client talks (a cancel for no context gets no answer) for twice the timeout.
        for _ in range(6):
            ws.send(json.dumps({"context_id": "nothing", "cancel": True}))
            time.sleep(idle_timeout / 3)
        # Only the server talks: a context that speaks for twice the timeout, the client silent meanwhile.
        words = int(2 * idle_timeout / STEP_S)
        ws.send(local.generation("long", "la " * words, more=False))
        events = events_until_end(ws, "long")
        assert [e["type"] for e in events] == ["chunk"] * words + ["done"]
        with pytest.raises(ConnectionClosedOK):  # then silence both ways: closed
            ws.recv(timeout=idle_timeout + 10)


# --- context expiry --------------------------------------------------------------------------------------------------

def test_ended_context_ids_cannot_be_reused(local):
    with local.ws(new_org()) as ws:
        ws.send(local.generation("once", SHORT, more=False))
        assert events_until_end(ws, "once")[-1]["type"] == "done"
        ws.send(local.generation("once", SHORT, more=False))
        closed = events_until_end(ws, "once")
        assert [(e["type"], e.get("error_code")) for e in closed] == [("error", "context_closed")]
        time.sleep(1.1)  # past the 1 s expiry
        ws.send(local.generation("once", SHORT, more=False))
        expired = events_until_end(ws, "once")
        assert len(expired) == 1, expired
        error = expired[0]
        assert error["type"] == "error" and error["done"] is True and error["error_code"] == "context_expired"
        assert error["status_code"] == 400 and error["title"] and error["message"] and error["request_id"]
        # A cancelled context's id is spent too; new ids work.
        ws.send(local.generation("dropped", "Hello there my", more=True, max_buffer_delay_ms=5000))
        ws.send(json.dumps({"context_id": "dropped", "cancel": True}))
        ws.send(local.generation("dropped", SHORT, more=False))
        assert events_until_end(ws, "dropped")[-1]["error_code"] == "context_closed"
        ws.send(local.generation("fresh", SHORT, more=False))
        assert events_until_end(ws, "fresh")[-1]["type"] == "done"


def test_open_context_keeps_working_across_pauses(local):
    with local.ws(new_org()) as ws:
        ws.send(local.generation("chat", "One two.", more=True, flush=True))
        events = events_until_end_of_flush(ws, "chat")
        assert [e["type"] for e in events] == ["chunk", "chunk", "flush_done"]
        time.sleep(1.5)  # longer than a finished context would live
        ws.send(local.generation("chat", " Three.", more=False))
        events = events_until_end(ws, "chat")
        assert [e["type"] for e in events] == ["chunk", "done"]
        assert events[0]["flush_id"] == 2


def events_until_end_of_flush(ws: ClientConnection, context_id: str) -> list[dict]:
    events: list[dict] = []
    while not events or events[-1]["type"] not in ("flush_done", "done", "error"):
        events.append(first_event(ws, context_id))
    return events
