"""The JSON events that /tts/sse and /tts/websocket stream (Cartesia's API).

Chunk, timestamps and done events have had the same fields in every version. Errors differ: the Fern versions
(before 2025-11-04) carry `error: str`, later ones `title`/`message`/`error_code`/`request_id`. WebSocket errors
carry both, because the SDKs of every era read one or the other from the same socket protocol.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from voicesmith.api.versions import V2025_11_04, ApiVersion
from voicesmith.service.synthesis import PhonemeTiming, WordTiming

# Cartesia's examples use 206 (partial content) on every streamed event but errors.
STREAM_STATUS = 206


def _with_context(event: dict, context_id: str | None, flush_id: int | None = None) -> dict:
    if context_id is not None:
        event["context_id"] = context_id
    if flush_id is not None:
        event["flush_id"] = flush_id
    return event


def chunk_event(data: bytes, step_time_ms: float, context_id: str | None, flush_id: int | None = None) -> dict:
    event = {"type": "chunk", "done": False, "status_code": STREAM_STATUS,
             "step_time": round(step_time_ms, 3), "data": base64.b64encode(data).decode("ascii")}
    return _with_context(event, context_id, flush_id)


def word_timestamps_event(words: Sequence[WordTiming], offset_s: float, context_id: str | None,
                          flush_id: int | None = None) -> dict:
    event = {"type": "timestamps", "done": False, "status_code": STREAM_STATUS,
             "word_timestamps": {"words": [w.word for w in words],
                                 "start": [round(w.start + offset_s, 4) for w in words],
                                 "end": [round(w.end + offset_s, 4) for w in words]}}
    return _with_context(event, context_id, flush_id)


def phoneme_timestamps_event(phonemes: Sequence[PhonemeTiming], offset_s: float, context_id: str | None,
                             flush_id: int | None = None) -> dict:
    event = {"type": "phoneme_timestamps", "done": False, "status_code": STREAM_STATUS,
             "phoneme_timestamps": {"phonemes": [p.phoneme for p in phonemes],
                                    "start": [round(p.start + offset_s, 4) for p in phonemes],
                                    "end": [round(p.end + offset_s, 4) for p in phonemes]}}
    return _with_context(event, context_id, flush_id)


def flush_done_event(context_id: str, flush_id: int) -> dict:
    return {"type": "flush_done", "done": False, "flush_done": True, "status_code": STREAM_STATUS,
            "context_id": context_id, "flush_id": flush_id}


def done_event(context_id: str | None) -> dict:
    return _with_context({"type": "done", "done": True, "status_code": STREAM_STATUS}, context_id)


def error_event(*, status: int, error_code: str, title: str, message: str, request_id: str,
                context_id: str | None, version: ApiVersion | None) -> dict:
    """An error event for `version`; version None means "every version" (both field sets, for WebSockets)."""
    event: dict = {"type": "error", "done": True, "status_code": status}
    structured = version is None or version >= V2025_11_04
    fern = version is None or version < V2025_11_04
    if structured:
        event.update(title=title, message=message, error_code=error_code, request_id=request_id)
    if fern:
        event["error"] = f"{title}: {message}"
        event.setdefault("error_code", error_code)
    return _with_context(event, context_id)
