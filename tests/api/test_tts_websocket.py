"""/tts/websocket: contexts multiplexed on one connection, continuations joined verbatim, flush ids, cancel,
transcript buffering (and its per-version default), context expiry, the concurrency limit, handshake
authentication, and the buffering rules. (Limits in depth, with a stand-in engine: test_tts_limits.py.)"""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.tts_support import assert_speech, decode_raw, stock_voice_ids
from voicesmith.api.tts_buffer import TranscriptBuffer, complete_prefix, word_prefix
from voicesmith.config import get_settings
from voicesmith.engine.wer import normalize_words

FMT = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}


@pytest.fixture(scope="module")
def voice(server) -> str:
    return stock_voice_ids(server.base_url, server.headers())[2]


def ws_connect(server, version: str | None = "2026-08-14", query: str | None = None, headers: bool = True):
    url = f"{server.ws_url}/tts/websocket"
    params = [p for p in (query, f"cartesia_version={version}" if version else None) if p]
    if params:
        url += "?" + "&".join(params)
    return connect(url, additional_headers=server.headers() if headers else None, open_timeout=60,
                   max_size=2**20)


def generation(voice: str, context_id: str, transcript: str, more: bool, **extra) -> str:
    return json.dumps({"model_id": "sonic-3", "voice": {"mode": "id", "id": voice}, "output_format": FMT,
                       "language": "en", "context_id": context_id, "transcript": transcript, "continue": more,
                       **extra})


def collect(ws, context_ids: set[str], timeout: float = 300) -> dict[str, list[dict]]:
    """Every event per context until each has ended (done or error)."""
    events: dict[str, list[dict]] = {c: [] for c in context_ids}
    open_ids = set(context_ids)
    deadline = time.monotonic() + timeout
    while open_ids:
        event = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        cid = event.get("context_id")
        assert cid in events, f"event for an unknown context: {event}"
        events[cid].append(event)
        if event["type"] in ("done", "error"):
            open_ids.discard(cid)
    return events


def audio_of(events: list[dict]) -> bytes:
    return b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "chunk")


def words_of(events: list[dict]) -> list[str]:
    return [w for e in events if e["type"] == "timestamps" for w in e["word_timestamps"]["words"]]


def test_two_contexts_on_one_connection(server, voice):
    a, b = "ctx-a", "ctx-b"
    with ws_connect(server) as ws:
        ws.send(generation(voice, a, "First context speaking.", more=False, add_timestamps=True))
        ws.send(generation(voice, b, "Second context here.", more=False, add_timestamps=True))
        events = collect(ws, {a, b})
    for cid, text in ((a, "First context speaking."), (b, "Second context here.")):
        evs = events[cid]
        assert [e["type"] for e in evs].count("done") == 1 and evs[-1]["type"] == "done"
        assert all(e["type"] != "error" for e in evs), evs
        assert_speech(decode_raw(audio_of(evs), "pcm_s16le"), 16000)
        assert normalize_words(" ".join(words_of(evs))) == normalize_words(text)
        assert all(e.get("flush_id") == 1 for e in evs if e["type"] == "chunk")


def test_continuations_are_joined_verbatim(server, voice):
    cid = str(uuid.uuid4())
    parts = ["The weather ", "is lovely", " today. Let us go ", "outside."]
    with ws_connect(server) as ws:
        for part in parts:
            ws.send(generation(voice, cid, part, more=True, add_timestamps=True))
        ws.send(generation(voice, cid, "", more=False))
        events = collect(ws, {cid})[cid]
    assert events[-1]["type"] == "done"
    assert normalize_words(" ".join(words_of(events))) == normalize_words("".join(parts))
    audio = decode_raw(audio_of(events), "pcm_s16le")
    assert_speech(audio, 16000, min_s=1.0)
    # Word times are relative to the context: they keep increasing across the inputs' segments.
    starts = [s for e in events if e["type"] == "timestamps" for s in e["word_timestamps"]["start"]]
    assert starts == sorted(starts) and starts[-1] < audio.size / 16000


def test_flush_ids_and_flush_done(server, voice):
    cid = "flushing"
    with ws_connect(server) as ws:
        ws.send(generation(voice, cid, "One.", more=True))
        ws.send(generation(voice, cid, "", more=True, flush=True))
        ws.send(generation(voice, cid, "Two.", more=True))
        ws.send(generation(voice, cid, "", more=False))
        events = collect(ws, {cid})[cid]
    kinds = [(e["type"], e.get("flush_id")) for e in events if e["type"] in ("chunk", "flush_done", "done")]
    flush_at = kinds.index(("flush_done", 1))
    assert {k for k in kinds[:flush_at]} == {("chunk", 1)}
    assert {k for k in kinds[flush_at + 1 : -1]} == {("chunk", 2)}
    assert kinds[-1][0] == "done"
    assert events[flush_at]["flush_done"] is True


def test_cancel_drops_pending_input(server, voice):
    with ws_connect(server) as ws:
        # No sentence end yet and a 5 s buffer: nothing has started generating when the cancel arrives.
        ws.send(generation(voice, "doomed", "This will never be", more=True, max_buffer_delay_ms=5000))
        ws.send(json.dumps({"context_id": "doomed", "cancel": True}))
        ws.send(generation(voice, "kept", "Still here.", more=False))
        events = collect(ws, {"kept"})  # fails on any event of the cancelled context
        assert events["kept"][-1]["type"] == "done"
        with pytest.raises(TimeoutError):
            ws.recv(timeout=6)  # nothing more arrives for "doomed", not even after its buffer delay


def test_context_expires_after_its_last_audio(server, voice):
    with ws_connect(server) as ws:
        ws.send(generation(voice, "short-lived", "Hi.", more=False))
        assert collect(ws, {"short-lived"})["short-lived"][-1]["type"] == "done"
        time.sleep(1.2)
        ws.send(generation(voice, "short-lived", "Hi again.", more=False))
        events = collect(ws, {"short-lived"})["short-lived"]
        assert [(e["type"], e.get("error_code")) for e in events] == [("error", "context_expired")], events
        assert events[0]["message"] and events[0]["request_id"]


def test_open_context_survives_a_pause(server, voice):
    cid = "chatty"
    with ws_connect(server) as ws:
        ws.send(generation(voice, cid, "One.", more=True, flush=True, max_buffer_delay_ms=0, add_timestamps=True))
        events: list[dict] = []
        while not events or events[-1]["type"] not in ("flush_done", "done", "error"):
            events.append(json.loads(ws.recv(timeout=300)))
        assert events[-1]["type"] == "flush_done", events[-1]
        time.sleep(1.5)  # all its audio went out longer ago than a finished context lives
        ws.send(generation(voice, cid, " Two.", more=False, add_timestamps=True))
        events += collect(ws, {cid})[cid]
    assert events[-1]["type"] == "done" and all(e["type"] != "error" for e in events), events[-1]
    assert normalize_words(" ".join(words_of(events))) == normalize_words("One. Two.")
    assert_speech(decode_raw(audio_of(events), "pcm_s16le"), 16000, min_s=0.5)


def test_contexts_over_the_concurrency_limit(server, voice, make_key):
    limit = get_settings().tts_concurrency  # the server's too: it runs with this process's environment
    url = f"{server.ws_url}/tts/websocket?cartesia_version=2026-08-14"
    with connect(url, additional_headers=server.headers(make_key("ws-limits")), open_timeout=60) as ws:
        for i in range(limit):  # open, holding unfinished text for 5 s: no synthesis yet
            ws.send(generation(voice, f"open-{i}", "Hello there my", more=True, max_buffer_delay_ms=5000))
        ws.send(generation(voice, "extra", "Hi.", more=False))
        error = collect(ws, {"extra"})["extra"][-1]
        assert error["type"] == "error" and error["status_code"] == 429, error
        assert error["error_code"] == "concurrency_limited" and error["message"]
        ws.send(json.dumps({"context_id": "open-0", "cancel": True}))
        ws.send(generation(voice, "extra", "Hi.", more=False))  # a refused id was never used: it may retry
        assert collect(ws, {"extra"})["extra"][-1]["type"] == "done"
        for i in range(1, limit):
            ws.send(json.dumps({"context_id": f"open-{i}", "cancel": True}))


def _first_event_time(server, voice, version: str, **extra) -> float | None:
    """Seconds until the first event for an unfinished sentence (continue: true), or None within 2 s."""
    with ws_connect(server, version=version) as ws:
        started = time.monotonic()
        ws.send(generation(voice, "buffered", "Hello there my friend", more=True, **extra))
        try:
            event = json.loads(ws.recv(timeout=2.0 if not extra else 300))
        except TimeoutError:
            return None
        assert event["type"] == "chunk", event
        return time.monotonic() - started


def test_buffer_delay_defaults_per_version(server, voice):
    # 2025-11-04 and later hold unfinished text for 3 s by default; earlier versions generate at once.
    assert _first_event_time(server, voice, "2026-08-14") is None
    assert _first_event_time(server, voice, "2024-11-13", max_buffer_delay_ms=0) is not None
    assert _first_event_time(server, voice, "2026-08-14", max_buffer_delay_ms=100) is not None


def test_handshake_auth(server, voice):
    cid = "auth"
    key = server.api_key
    token = httpx.post(f"{server.base_url}/access-token", json={"grants": {"tts": True}, "expires_in": 60},
                       headers=server.headers(), timeout=30).json()["token"]
    for query in (f"api_key={key}", f"access_token={token}"):
        with ws_connect(server, version="2024-11-13", query=query, headers=False) as ws:
            ws.send(generation(voice, cid, "Hi.", more=False))
            assert collect(ws, {cid})[cid][-1]["type"] == "done"
    for query, status in (("api_key=sk_vs_wrong", 401), ("access_token=not.a.jwt", 401), (None, 401)):
        with pytest.raises(InvalidStatus) as info:
            ws_connect(server, query=query, headers=False)
        assert info.value.response.status_code == status
        assert json.loads(info.value.response.body)["error_code"] == "unauthorized"
    with pytest.raises(InvalidStatus) as info:
        ws_connect(server, version="yesterday")
    assert info.value.response.status_code == 400


# The buffering rules, without a server ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "ready"), [
    ("Hello. How are", "Hello. "),
    ("Hello.", "Hello."),
    ("Wow! Really? yes", "Wow! Really? "),
    ("Dr. Smith is in. He", "Dr. Smith is in. "),
    ("It costs 3.", ""),  # may be "3.50" still arriving
    ("Mr.", ""),
    ("no boundary yet", ""),
])
def test_complete_prefix(text, ready):
    assert text[: complete_prefix(text)] == ready


def test_transcript_buffer():
    immediate = TranscriptBuffer(0.0)
    assert immediate.add("Hel") == "Hel"  # no delay: the client controls buffering
    buffered = TranscriptBuffer(3.0)
    assert buffered.add("The cat ") == ""
    assert buffered.add("sat. The d") == "The cat sat. "
    # The delay passed: whole words go, the partial "d" waits for the rest of its word...
    assert buffered.on_timeout() == "The " and buffered.text == "d"
    # ...unless it is all there is.
    assert buffered.on_timeout() == "d"
    assert word_prefix("The d") == 4 and word_prefix("The ") == 4 and word_prefix("d") == 0
    buffered.add("dog")
    assert buffered.drain() == "dog" and buffered.text == ""
