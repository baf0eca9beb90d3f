"""`POST /tts/bytes` and `POST /tts/sse` (Cartesia's API); `/tts/websocket` lives in tts_websocket.py.

Both endpoints validate everything, take one of the organisation's TTS concurrency slots and charge credits
before the response starts, so every client error is a proper 4xx (429 over the limit). The body then streams as
the engine produces audio; if the client goes away, generation stops at the next chunk. The slot is held until
the response has ended, however it ends.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing, asynccontextmanager, contextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from voicesmith.api import tts_events as events
from voicesmith.api.auth import Principal, tts_principal
from voicesmith.api.errors import request_id_of
from voicesmith.api.routes import tts_websocket
from voicesmith.api.tts_contexts import frames
from voicesmith.api.tts_requests import check_pronunciation_dict, output_format_of, parse_json, plan_for, validate_body
from voicesmith.api.tts_schemas import BytesRequest, SSERequest
from voicesmith.api.versions import ApiVersion, api_version
from voicesmith.service.errors import ServiceError
from voicesmith.service.limits import Slot, acquire_generation
from voicesmith.service.synthesis import (Encoder, OutputFormat, SavedAudio, SpeechPlan, charge_speech, check_transcript,
                                          content_type, make_encoder, save_audio, speech_sample_rate, stream_speech,
                                          warm_up)

log = logging.getLogger("voicesmith.api.tts")


@asynccontextmanager
async def _lifespan(_app: object) -> AsyncIterator[None]:
    # Load the engine before serving, so the first TTS request does not pay for it (and a failure shows in the
    # log at once). Off the event loop; a failure leaves the rest of the API up.
    try:
        await run_in_threadpool(warm_up)
    except Exception:
        log.exception("loading the speech engine failed; TTS requests will fail until it loads")
    yield


router = APIRouter(tags=["tts"], lifespan=_lifespan)
router.include_router(tts_websocket.router)

_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


Body = TypeVar("Body", BytesRequest, SSERequest)


class _HeldResponse(StreamingResponse):
    """A streamed response that gives its concurrency slot back when it ends: complete, failed in-band, or cut
    short by the client (Starlette then cancels the body or raises from `send`; either way this returns)."""

    def __init__(self, slot: Slot, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


@contextmanager
def _released_on_error(slot: Slot) -> Iterator[None]:
    """Until a _HeldResponse owns the slot, a failure (an error response instead) must give it back."""
    try:
        yield
    except BaseException:
        slot.release()
        raise


async def _prepare(request: Request, principal: Principal, version: ApiVersion, model: type[Body], *,
                   raw_only: bool) -> tuple[Body, OutputFormat, SpeechPlan, Slot]:
    """Parse, validate, take a concurrency slot and charge; raises 4xx before anything is streamed. The caller
    must hand the slot to a _HeldResponse, or release it."""
    body = validate_body(parse_json(await request.body()), model)
    fmt = output_format_of(body.output_format, raw_only=raw_only)
    check_transcript(body.transcript)
    check_pronunciation_dict(body.pronunciation_dict_id, version)
    plan = await plan_for(principal, voice=body.voice, model_id=body.model_id, language=body.language,
                          locale=body.locale, speed=body.speed, generation_config=body.generation_config)
    # After validation, so a bad request learns what is wrong with it; before charging, so a refused one is free.
    slot = acquire_generation(principal.org_id)
    with _released_on_error(slot):
        await run_in_threadpool(charge_speech, plan, len(body.transcript))
    return body, fmt, plan, slot


@router.post("/tts/bytes", summary="Text to speech (audio file, streamed)", openapi_extra=_BODY_DOC,
             response_class=StreamingResponse)
async def tts_bytes(request: Request, principal: Principal = Depends(tts_principal),
                    version: ApiVersion = Depends(api_version)) -> StreamingResponse:
    # The SDKs send `Accept: audio/wav` whatever the container; the body's output_format decides.
    body, fmt, plan, slot = await _prepare(request, principal, version, BytesRequest, raw_only=False)
    with _released_on_error(slot):
        encoder = make_encoder(fmt, speech_sample_rate())
        saved = await run_in_threadpool(save_audio, plan, fmt.container) if body.save else None
        headers = {"Cartesia-File-ID": saved.file_id} if saved is not None else {}
        return _HeldResponse(slot, _audio_body(plan, body, encoder, saved), media_type=content_type(fmt),
                             headers=headers)


async def _audio_body(plan: SpeechPlan, body: BytesRequest, encoder: Encoder,
                      saved: SavedAudio | None) -> AsyncIterator[bytes]:
    def out(data: bytes) -> bytes:
        if saved is not None and data:
            saved.write(data)
        return data

    complete = False
    try:
        yield out(encoder.begin())
        async with aclosing(stream_speech(plan, body.transcript, encoder.encode,
                                          max_duration_s=body.duration)) as pieces:
            async for piece in pieces:
                yield out(piece.data)
        yield out(encoder.end())
        complete = True
    finally:
        if saved is not None:
            await run_in_threadpool(saved.finish, complete)


@router.post("/tts/sse", summary="Text to speech (server-sent events)", openapi_extra=_BODY_DOC,
             response_class=StreamingResponse)
async def tts_sse(request: Request, principal: Principal = Depends(tts_principal),
                  version: ApiVersion = Depends(api_version)) -> StreamingResponse:
    body, fmt, plan, slot = await _prepare(request, principal, version, SSERequest, raw_only=True)
    with _released_on_error(slot):
        encoder = make_encoder(fmt, speech_sample_rate())
        stream = _sse_events(plan, body, encoder, version, request_id_of(request))
        return _HeldResponse(slot, stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _sse(event: dict) -> bytes:
    # Every frame carries a JSON `data` payload: the SDKs parse the data of every frame and ignore event names.
    prefix = "event: error\n" if event["type"] == "error" else ""
    return f"{prefix}data: {json.dumps(event)}\n\n".encode()


async def _sse_events(plan: SpeechPlan, body: SSERequest, encoder: Encoder, version: ApiVersion,
                      request_id: str) -> AsyncIterator[bytes]:
    ctx = body.context_id
    try:
        async with aclosing(stream_speech(plan, body.transcript, encoder.encode,
                                          max_duration_s=body.duration)) as pieces:
            async for piece in pieces:
                for i, frame in enumerate(frames(piece.data)):
                    yield _sse(events.chunk_event(frame, piece.compute_ms if i == 0 else 0.0, ctx))
                if body.add_timestamps and piece.words:
                    yield _sse(events.word_timestamps_event(piece.words, 0.0, ctx))
                if body.add_phoneme_timestamps and piece.phonemes:
                    yield _sse(events.phoneme_timestamps_event(piece.phonemes, 0.0, ctx))
        for frame in frames(encoder.end()):
            yield _sse(events.chunk_event(frame, 0.0, ctx))
        yield _sse(events.done_event(ctx))
    except ServiceError as exc:
        yield _sse(events.error_event(status=exc.status, error_code=exc.error_code, title=exc.title,
                                      message=exc.message, request_id=request_id, context_id=ctx, version=version))
    except Exception:
        # The response has started, so the status is already 200: report the failure in-band, log the cause.
        log.exception("TTS SSE stream failed (request %s)", request_id)
        yield _sse(events.error_event(status=500, error_code="internal_error", title="Synthesis failed",
                                      message="The server failed while generating audio; quote the request_id "
                                              "when reporting it.",
                                      request_id=request_id, context_id=ctx, version=version))
