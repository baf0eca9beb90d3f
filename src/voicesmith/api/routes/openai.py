"""OpenAI-compatible speech: `POST /v1/audio/speech`, `GET /v1/models`, `GET /v1/models/{id}`.

Point any OpenAI client at `http://HOST:8000/v1` with a voicesmith API key as its API key. The request is
validated, charged and limited exactly like `/tts/bytes` (same credits, same concurrency slots, same synthesis and
encoders); only the request fields, the error shape (`{"error": {message, type, param, code}}`, api/errors.py) and
the streaming events differ. `stream_format: "sse"` sends OpenAI's `speech.audio.delta` events (base64 audio of the
requested format) and a closing `speech.audio.done`; `"audio"` (the default) streams the file itself.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Literal, Union

from fastapi import Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from voicesmith.api.auth import Principal, tts_principal
from voicesmith.api.errors import ApiError, openai_error_body, request_id_of
from voicesmith.api.routes.tts import HeldResponse, released_on_error
from voicesmith.api.routing import SlashRouter
from voicesmith.service import openai_speech
from voicesmith.service.errors import ServiceError
from voicesmith.service.limits import acquire_generation
from voicesmith.service.synthesis import (Encoder, Script, SpeechPlan, charge_speech, check_transcript, new_encoder,
                                          parse_script, stream_speech)

log = logging.getLogger("voicesmith.api.openai")

router = SlashRouter(prefix="/v1", tags=["openai-compatible"])

_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


class VoiceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    input: str
    voice: Union[str, VoiceRef]
    instructions: str | None = None  # accepted; the engine has no prompt-driven delivery control
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(default=1.0, ge=openai_speech.MIN_SPEED, le=openai_speech.MAX_SPEED)
    stream_format: Literal["sse", "audio"] = "audio"
    pronunciation_dict_id: str | None = None  # voicesmith's addition (the SDK's extra_body)


def _parse(raw: bytes) -> SpeechRequest:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "Invalid JSON", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "Invalid request", "The request body must be a JSON object.")
    try:
        return SpeechRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        text = "field required" if first["type"] == "missing" else first["msg"]
        code = "invalid_output_format" if param == "response_format" else "invalid_request"
        raise ApiError(400, code, "Invalid request", f"Invalid request: {param}: {text}.", param=param) from None


@router.post("/audio/speech", summary="Text to speech (OpenAI-compatible)", openapi_extra=_BODY_DOC,
             response_class=StreamingResponse)
async def create_speech(request: Request, principal: Principal = Depends(tts_principal)) -> StreamingResponse:
    body = _parse(await request.body())
    try:
        check_transcript(body.input)
        script = parse_script(body.input)
    except ServiceError as exc:
        raise ApiError(exc.status, exc.error_code, exc.title, exc.message, param="input") from None
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    try:
        plan = await run_in_threadpool(openai_speech.plan, principal.org_id, principal.api_key_id,
                                       model=body.model, voice=voice, speed=body.speed,
                                       pronunciation_dict_id=body.pronunciation_dict_id)
    except ServiceError as exc:
        param = {"model_not_found": "model", "invalid_speed": "speed",
                 "pronunciation_dict_not_found": "pronunciation_dict_id"}.get(exc.error_code, "voice")
        raise ApiError(exc.status, exc.error_code, exc.title, exc.message, param=param) from None
    fmt = openai_speech.output_format(body.response_format)
    slot = acquire_generation(principal.org_id)  # 429 over the organisation's concurrency limit
    with released_on_error(slot):
        await run_in_threadpool(charge_speech, plan, script.billable_chars)
        encoder = new_encoder(fmt)
        if body.stream_format == "sse":
            events = _sse_events(plan, script, encoder, request_id_of(request))
            return HeldResponse(slot, events, media_type="text/event-stream",
                                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return HeldResponse(slot, _audio(plan, script, encoder),
                            media_type=openai_speech.media_type(body.response_format))


async def _audio(plan: SpeechPlan, script: Script, encoder: Encoder) -> AsyncIterator[bytes]:
    yield encoder.begin()
    async with aclosing(stream_speech(plan, script, encoder.encode)) as pieces:
        async for piece in pieces:
            yield piece.data
    yield encoder.end()


def _event(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def _delta(data: bytes) -> bytes:
    return _event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})


async def _sse_events(plan: SpeechPlan, script: Script, encoder: Encoder, request_id: str) -> AsyncIterator[bytes]:
    try:
        head = encoder.begin()
        if head:
            yield _delta(head)
        async with aclosing(stream_speech(plan, script, encoder.encode)) as pieces:
            async for piece in pieces:
                if piece.data:
                    yield _delta(piece.data)
        tail = encoder.end()
        if tail:
            yield _delta(tail)
        # OpenAI reports tokens; voicesmith bills characters, so input_tokens is the billed character count.
        chars = script.billable_chars
        yield _event({"type": "speech.audio.done",
                      "usage": {"input_tokens": chars, "output_tokens": 0, "total_tokens": chars}})
    except ServiceError as exc:
        yield _event({"type": "error", **openai_error_body(exc.status, exc.error_code, exc.message)})
    except Exception:
        # The response has started (status 200): report the failure in-band, log the cause.
        log.exception("OpenAI speech SSE stream failed (request %s)", request_id)
        yield _event({"type": "error", **openai_error_body(
            500, "internal_error", f"The server failed while generating audio (request_id {request_id}).")})


@router.get("/models", summary="List models (OpenAI-compatible)")
def list_models(principal: Principal = Depends(tts_principal)) -> dict:
    return {"object": "list", "data": [_model_json(m) for m in openai_speech.list_models()]}


@router.get("/models/{model_id}", summary="Get a model (OpenAI-compatible)")
def get_model(model_id: str, principal: Principal = Depends(tts_principal)) -> dict:
    return _model_json(openai_speech.get_model(model_id))


def _model_json(model: openai_speech.ModelInfo) -> dict:
    return {"id": model.id, "object": "model", "created": model.created, "owned_by": model.owned_by}
