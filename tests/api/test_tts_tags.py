"""Cartesia's SSML-like tags on every TTS route (/tts/bytes, /tts/sse, /tts/websocket): never read aloud (Whisper
hears the words and not the tag), a break is real silence that shifts the later word timestamps by its length,
bad tags are a 400 with `invalid_tag` / `unknown_tag`, and on a WebSocket a tag split across inputs still works."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from tests.tts_support import decode_raw, rms, tts_body
from voicesmith.api.tts_buffer import TranscriptBuffer

RAW = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}
BREAK_TEXT = 'Hello <break time="1s"/> there, my friend.'
PLAIN_TEXT = "Hello there, my friend."


@pytest.fixture(scope="module")
def transcriber():
    from voicesmith.engine.transcribe import Transcriber

    return Transcriber(threads=2)


def longest_silence_s(audio: np.ndarray, rate: int) -> float:
    frame = rate // 100
    longest = run = 0
    for i in range(0, audio.size - frame, frame):
        run = run + 1 if rms(audio[i: i + frame]) < 0.003 else 0
        longest = max(longest, run)
    return longest / 100


def assert_tag_not_heard(transcriber, audio: np.ndarray, rate: int) -> None:
    heard = transcriber.transcribe(audio, rate).text.lower()
    assert "hello" in heard and "friend" in heard, heard
    assert not {"break", "time", "equals"} & set(heard.replace(",", " ").replace(".", " ").split()), heard


def sse_events(server, body: dict) -> list[dict]:
    with httpx.stream("POST", f"{server.base_url}/tts/sse", json=body, headers=server.headers(), timeout=300) as r:
        assert r.status_code == 200, r.read()
        return [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]


def test_bytes_break_is_silence_and_not_read_aloud(server, voice, transcriber):
    r = httpx.post(f"{server.base_url}/tts/bytes", json=tts_body(voice, BREAK_TEXT, RAW), headers=server.headers(),
                   timeout=300)
    assert r.status_code == 200, r.text
    audio = decode_raw(r.content, "pcm_s16le")
    plain = decode_raw(httpx.post(f"{server.base_url}/tts/bytes", json=tts_body(voice, PLAIN_TEXT, RAW),
                                  headers=server.headers(), timeout=300).content, "pcm_s16le")
    assert longest_silence_s(audio, 24000) >= 1.0 > longest_silence_s(plain, 24000)
    assert_tag_not_heard(transcriber, audio, 24000)


def test_spell_is_heard_letter_by_letter(server, voice, transcriber):
    r = httpx.post(f"{server.base_url}/tts/bytes", json=tts_body(voice, "My code is <spell>XKCD</spell> today.", RAW),
                   headers=server.headers(), timeout=300)
    assert r.status_code == 200, r.text
    heard = transcriber.transcribe(decode_raw(r.content, "pcm_s16le"), 24000).text.lower()
    assert "xkcd" in "".join(ch for ch in heard if ch.isalnum()) and "spell" not in heard, heard


def test_sse_timestamps_shift_by_the_break(server, voice, transcriber):
    def words(text: str) -> tuple[list[tuple[str, float, float]], np.ndarray]:
        events = sse_events(server, tts_body(voice, text, RAW, add_timestamps=True))
        assert events[-1]["type"] == "done"
        audio = decode_raw(b"".join(base64.b64decode(e["data"]) for e in events if e["type"] == "chunk"),
                           "pcm_s16le")
        stamps = [w for e in events if e["type"] == "timestamps"
                  for w in zip(e["word_timestamps"]["words"], e["word_timestamps"]["start"],
                               e["word_timestamps"]["end"])]
        return stamps, audio

    short, _ = words('Hello <break time="100ms"/> there, my friend.')
    long, audio = words('Hello <break time="1100ms"/> there, my friend.')
    assert [w for w, _, _ in long] == ["Hello", "there", "my", "friend"]  # the tag is no word
    assert long[0][1:] == pytest.approx(short[0][1:])
    for (_, s1, e1), (_, s0, e0) in zip(long[1:], short[1:]):
        assert s1 - s0 == pytest.approx(1.0, abs=0.01) and e1 - e0 == pytest.approx(1.0, abs=0.01)
    assert long[-1][2] <= audio.size / 24000 + 0.05
    assert_tag_not_heard(transcriber, audio, 24000)


def test_websocket_tag_split_across_inputs(server, voice, transcriber):
    pieces = ["Hello <brea", 'k time="1s"', "/> there, my ", "friend."]
    context = str(uuid.uuid4())
    with connect(f"{server.ws_url}/tts/websocket?cartesia_version=2026-08-14", additional_headers=server.headers(),
                 open_timeout=60, max_size=2**20) as ws:
        for i, piece in enumerate(pieces):
            ws.send(json.dumps({"model_id": "sonic-3", "voice": {"mode": "id", "id": voice}, "output_format": RAW,
                                "language": "en", "context_id": context, "transcript": piece,
                                "continue": i < len(pieces) - 1, "max_buffer_delay_ms": 0}))
        chunks = []
        while True:
            event = json.loads(ws.recv(timeout=300))
            assert event["type"] != "error", event
            if event["type"] == "chunk":
                chunks.append(base64.b64decode(event["data"]))
            if event["type"] == "done":
                break
    audio = decode_raw(b"".join(chunks), "pcm_s16le")
    assert longest_silence_s(audio, 24000) >= 1.0
    assert_tag_not_heard(transcriber, audio, 24000)


def test_buffer_never_cuts_inside_a_tag():
    buffer = TranscriptBuffer(0.0)
    assert buffer.add("Hello <brea") == "Hello "
    assert buffer.add('k time="1s"/> the') == '<break time="1s"/> the'
    assert buffer.add("re <spell>A") == "re "
    assert buffer.on_timeout() == ""  # an open <spell> waits for its end, whatever the timer says
    assert buffer.add("B</spell>.") == "<spell>AB</spell>."
    buffered = TranscriptBuffer(3.0)
    assert buffered.add('One. Two <break time="1s"/> three <spe') == "One. "
    assert buffered.on_timeout() == 'Two <break time="1s"/> three '
    assert buffered.drain() == "<spe"  # a flush or close takes everything (then it is a bad tag)


@pytest.mark.parametrize(("transcript", "code"), [
    ('Hello <break time="forever"/>.', "invalid_tag"),
    ("Hello <whisper>there</whisper>.", "unknown_tag"),
    ("Say <spell>ABC", "invalid_tag"),
    ('Go <speed ratio="7"/> now.', "invalid_tag"),
])
@pytest.mark.parametrize("route", ["bytes", "sse"])
def test_bad_tags_are_400(server, voice, transcript, code, route):
    before = server_balance(server)
    r = httpx.post(f"{server.base_url}/tts/{route}", json=tts_body(voice, transcript, RAW), headers=server.headers(),
                   timeout=60)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == code and "<" in r.json()["message"]
    assert server_balance(server) == before  # refused before charging


def test_bad_tag_on_websocket_is_an_error_event(server, voice):
    with connect(f"{server.ws_url}/tts/websocket?cartesia_version=2026-08-14", additional_headers=server.headers(),
                 open_timeout=60) as ws:
        ws.send(json.dumps({"model_id": "sonic-3", "voice": voice, "output_format": RAW, "context_id": "c1",
                            "transcript": "Hi <shout/>.", "continue": False}))
        event = json.loads(ws.recv(timeout=60))
        assert (event["type"], event["status_code"], event["error_code"]) == ("error", 400, "unknown_tag")
        # the connection stays usable
        ws.send(json.dumps({"model_id": "sonic-3", "voice": voice, "output_format": RAW, "context_id": "c2",
                            "transcript": 'Hi <break time="200ms"/> there.', "continue": False}))
        types = []
        while not types or types[-1] not in ("done", "error"):
            types.append(json.loads(ws.recv(timeout=300))["type"])
        assert types[-1] == "done" and "chunk" in types


def server_balance(server) -> int:
    return httpx.get(f"{server.base_url}/usage/balance", headers=server.headers(), timeout=30).json()["balance"]


def test_buffer_timeout_releases_a_complete_tag_whose_inside_has_spaces():
    buffered = TranscriptBuffer(3.0)
    assert buffered.add('Wait <break time="1s"/>') == ""
    assert buffered.on_timeout() == "Wait "
    assert buffered.on_timeout() == '<break time="1s"/>'
