"""`/tts/websocket`: streaming TTS over one long-lived connection with multiplexed contexts (contract §7.6).

Authentication happens on the handshake (headers, or `?api_key=` / `?access_token=` for browsers); a refused
handshake gets a real HTTP status (401/403/400) with the usual JSON error body. After that every problem is an
`error` event on the socket, and the connection stays open: a garbage frame costs the client one error event.
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from voicesmith.api import tts_events as events
from voicesmith.api.auth import Principal, authenticate
from voicesmith.api.errors import ApiError, error_body, request_id_of
from voicesmith.api.tts_contexts import ContextOptions, SpeechContext
from voicesmith.api.tts_requests import (bad_request, check_pronunciation_dict, output_format_of, parse_json,
                                         plan_for, validate_body)
from voicesmith.api.tts_schemas import WebSocketCancelRequest, WebSocketGenerationRequest
from voicesmith.api.versions import V2025_11_04, ApiVersion, resolve_version
from voicesmith.config import get_settings
from voicesmith.service.errors import ServiceError
from voicesmith.service.ids import new_uuid

log = logging.getLogger("voicesmith.api.tts")

router = APIRouter()


@router.websocket("/tts/websocket")
async def tts_websocket(websocket: WebSocket) -> None:
    try:
        version = resolve_version(websocket)
        principal = await run_in_threadpool(authenticate, websocket, allow_token=True, grant="tts")
    except ApiError as exc:
        await _deny(websocket, exc)
        return
    await websocket.accept()
    await TTSConnection(websocket, principal, version).serve()


async def _deny(websocket: WebSocket, exc: ApiError) -> None:
    body = error_body(exc.status, exc.error_code, exc.title, exc.message, request_id_of(websocket))
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(body, status_code=exc.status, headers=exc.headers))
    else:  # servers without the denial extension can only refuse with a close code (seen as HTTP 403)
        await websocket.close(code=1008, reason=exc.message[:120])


class TTSConnection:
    """One client's socket: reads inputs in order, routes them to contexts, serialises outgoing events."""

    def __init__(self, websocket: WebSocket, principal: Principal, version: ApiVersion) -> None:
        self.ws = websocket
        self.principal = principal
        self.version = version
        self.request_id = request_id_of(websocket)
        # 2025-11-04 changed the default buffering from none to 3 s (contract §7.1).
        self.default_delay_s = 3.0 if version >= V2025_11_04 else 0.0
        self.contexts: dict[str, SpeechContext] = {}  # open contexts by id
        self.live: set[SpeechContext] = set()  # every context still generating (incl. cancelled ones finishing)
        self._send_lock = asyncio.Lock()
        self._closed = False

    async def serve(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._handle(message)
        except WebSocketDisconnect:
            pass
        finally:
            self._closed = True
            live = list(self.live)
            for ctx in live:
                ctx.abort()
            await asyncio.gather(*(ctx.wait() for ctx in live))

    # --- outgoing ------------------------------------------------------------------------------------------------

    async def send(self, event: dict) -> None:
        if self._closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(json.dumps(event))
            except Exception:  # the client went away mid-send; the receive loop will see the disconnect
                self._closed = True

    async def send_error(self, exc: ApiError | ServiceError, context_id: str | None) -> None:
        status = exc.status
        request_id = self.request_id if context_id is None else f"{self.request_id}:{context_id}"
        await self.send(events.error_event(status=status, error_code=exc.error_code, title=exc.title,
                                           message=exc.message, request_id=request_id, context_id=context_id,
                                           version=None))

    # --- incoming ------------------------------------------------------------------------------------------------

    async def _handle(self, message: dict) -> None:
        text = message.get("text")
        context_id: str | None = None
        try:
            if text is None:
                raise bad_request("invalid_message", "Binary frames are not accepted; send JSON text frames.",
                                  "Invalid message")
            data = parse_json(text)
            if isinstance(data, dict) and isinstance(data.get("context_id"), str):
                context_id = data["context_id"]
            if isinstance(data, dict) and "cancel" in data:
                self._cancel(validate_body(data, WebSocketCancelRequest))
                return
            await self._input(validate_body(data, WebSocketGenerationRequest))
        except (ApiError, ServiceError) as exc:
            # An input the context cannot take ends that context: the client's reader stops at this error.
            ctx = self.contexts.pop(context_id, None) if context_id is not None else None
            if ctx is not None:
                ctx.abort()
            await self.send_error(exc, context_id)

    def _cancel(self, request: WebSocketCancelRequest) -> None:
        ctx = self.contexts.pop(request.context_id, None)
        if ctx is not None:
            ctx.cancel()

    async def _input(self, req: WebSocketGenerationRequest) -> None:
        limit = get_settings().max_transcript_chars
        if len(req.transcript) > limit:
            raise bad_request("transcript_too_long",
                              f"This input has {len(req.transcript):,} characters; the limit per input is "
                              f"{limit:,}. Send it as several inputs with continue: true.", "Transcript too long")
        context_id = req.context_id or new_uuid()  # optional before 2025-11-04: one context per request then
        ctx = self.contexts.get(context_id)
        if ctx is None:
            if not req.transcript and not req.continue_ and not req.flush:
                # Closing a context that never received text (SDK no_more_inputs() right away): nothing to say.
                await self.send(events.done_event(context_id))
                return
            ctx = await self._open(context_id, req)
        elif ctx.closing:
            raise bad_request("context_closed",
                              f"Context {context_id!r} was closed with continue: false; use a new context_id.",
                              "Context closed")
        ctx.add_input(req.transcript, flush=bool(req.flush), more=req.continue_)

    async def _open(self, context_id: str, req: WebSocketGenerationRequest) -> SpeechContext:
        missing = [name for name in ("model_id", "voice", "output_format") if getattr(req, name) is None]
        if missing:
            raise bad_request("invalid_request",
                              f"The first input of a context needs {', '.join(missing)}.")
        fmt = output_format_of(req.output_format, raw_only=True)
        check_pronunciation_dict(req.pronunciation_dict_id, self.version)
        plan = await plan_for(self.principal, voice=req.voice, model_id=req.model_id, language=req.language,
                              locale=req.locale, speed=req.speed, generation_config=req.generation_config)
        delay_s = self.default_delay_s if req.max_buffer_delay_ms is None else req.max_buffer_delay_ms / 1000.0
        options = ContextOptions(plan=plan, output_format=fmt, add_timestamps=bool(req.add_timestamps),
                                 add_phoneme_timestamps=bool(req.add_phoneme_timestamps), buffer_delay_s=delay_s)
        ctx = SpeechContext(context_id, options, self.send, self.send_error, self._finished)
        self.contexts[context_id] = ctx
        self.live.add(ctx)
        return ctx

    def _finished(self, ctx: SpeechContext) -> None:
        self.live.discard(ctx)
        if self.contexts.get(ctx.id) is ctx:
            del self.contexts[ctx.id]
