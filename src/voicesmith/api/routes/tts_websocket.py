"""`/tts/websocket`: streaming TTS over one long-lived connection with multiplexed contexts (Cartesia's API).

Authentication happens on the handshake (headers, or `?api_key=` / `?access_token=` for browsers); a refused
handshake gets a real HTTP status (401/403/400, 429 over the organisation's connection limit) with the usual JSON
error body. After that every problem is an `error` event on the socket, and the connection stays open: a garbage
frame costs the client one error event.

Limits (Cartesia's API): each open context holds one of the organisation's TTS concurrency slots, so a
context over the limit gets a 429 `error` event; a finished context's id cannot be used again (it expires 1 s
after its last audio); a socket with no message either way for `ws_idle_timeout_s` is closed normally.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict

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
from voicesmith.service.limits import Slot, acquire_connection, acquire_generation

log = logging.getLogger("voicesmith.api.tts")

router = APIRouter()

# A context expires this long after its last audio went out (Cartesia's API).
CONTEXT_EXPIRY_S = 1.0
# Ended context ids remembered per connection, so that reusing one is refused; the oldest are forgotten first,
# which bounds the memory of a connection that lives for hours.
ENDED_CONTEXTS_KEPT = 10_000


@router.websocket("/tts/websocket")
async def tts_websocket(websocket: WebSocket) -> None:
    try:
        version = resolve_version(websocket)
        principal = await run_in_threadpool(authenticate, websocket, allow_token=True, grant="tts")
        connection = acquire_connection(principal.org_id)
    except (ApiError, ServiceError) as exc:
        await _deny(websocket, exc)
        return
    try:
        await websocket.accept()
        await TTSConnection(websocket, principal, version).serve()
    finally:
        connection.release()


async def _deny(websocket: WebSocket, exc: ApiError | ServiceError) -> None:
    body = error_body(exc.status, exc.error_code, exc.title, exc.message, request_id_of(websocket))
    headers = exc.headers if isinstance(exc, ApiError) else None
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse(body, status_code=exc.status, headers=headers))
    else:  # servers without the denial extension can only refuse with a close code (seen as HTTP 403)
        await websocket.close(code=1008, reason=exc.message[:120])


class TTSConnection:
    """One client's socket: reads inputs in order, routes them to contexts, serialises outgoing events."""

    def __init__(self, websocket: WebSocket, principal: Principal, version: ApiVersion) -> None:
        self.ws = websocket
        self.principal = principal
        self.version = version
        self.request_id = request_id_of(websocket)
        # 2025-11-04 changed the default buffering from none to 3 s (Cartesia's API).
        self.default_delay_s = 3.0 if version >= V2025_11_04 else 0.0
        self.contexts: dict[str, SpeechContext] = {}  # open contexts by id
        self.live: set[SpeechContext] = set()  # every context still generating (incl. cancelled ones finishing)
        self._slots: dict[SpeechContext, Slot] = {}  # the concurrency slot each live context holds
        self._ended: OrderedDict[str, float] = OrderedDict()  # finished context ids -> when they finished
        self._last_message = time.monotonic()  # in either direction; the idle timer counts from here
        self._send_lock = asyncio.Lock()
        self._closed = False

    async def serve(self) -> None:
        idle_close = asyncio.create_task(self._close_when_idle(get_settings().ws_idle_timeout_s))
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                self._last_message = time.monotonic()
                await self._handle(message)
        except WebSocketDisconnect:
            pass
        finally:
            self._closed = True
            idle_close.cancel()
            live = list(self.live)
            for ctx in live:
                ctx.abort()
            # Released here, not only as each context finishes: a context aborted before its task first ran
            # never reports finishing.
            for slot in self._slots.values():
                slot.release()
            self._slots.clear()
            await asyncio.gather(idle_close, *(ctx.wait() for ctx in live), return_exceptions=True)

    async def _close_when_idle(self, timeout_s: float) -> None:
        """Close the socket normally once no message has gone either way for `timeout_s`. The receive loop then
        sees the disconnect and ends every context."""
        while (idle_s := time.monotonic() - self._last_message) < timeout_s:
            await asyncio.sleep(timeout_s - idle_s)
        async with self._send_lock:
            if self._closed:
                return
            self._closed = True
            try:
                await self.ws.close(code=1000, reason=f"Idle for {timeout_s:g} s: no messages either way")
            except Exception:  # the client went away at the same moment
                pass

    # --- outgoing ------------------------------------------------------------------------------------------------

    async def send(self, event: dict) -> None:
        if self._closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(json.dumps(event))
                self._last_message = time.monotonic()
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
                await self._cancel(validate_body(data, WebSocketCancelRequest))
                return
            await self._input(validate_body(data, WebSocketGenerationRequest))
        except (ApiError, ServiceError) as exc:
            # An input the context cannot take ends that context: the client's reader stops at this error.
            ctx = self.contexts.pop(context_id, None) if context_id is not None else None
            if ctx is not None:
                ctx.abort()
                self._finished(ctx)  # now: if its task had not started yet, it will never report finishing
            await self.send_error(exc, context_id)

    async def _cancel(self, request: WebSocketCancelRequest) -> None:
        ctx = self.contexts.pop(request.context_id, None)
        if ctx is not None:
            ctx.cancel()
            # Its id is spent now; its slot comes back when its task ends. A context that was only waiting for
            # input ends on the task's next step: yield to it, so that a new context sent right after the cancel
            # finds the slot free. One speaking a segment keeps the slot until that segment is done.
            self._mark_ended(ctx.id)
            await asyncio.sleep(0)

    async def _input(self, req: WebSocketGenerationRequest) -> None:
        limit = get_settings().max_transcript_chars
        if len(req.transcript) > limit:
            raise bad_request("transcript_too_long",
                              f"This input has {len(req.transcript):,} characters; the limit per input is "
                              f"{limit:,}. Send it as several inputs with continue: true.", "Transcript too long")
        context_id = req.context_id or new_uuid()  # optional before 2025-11-04: one context per request then
        ctx = self.contexts.get(context_id)
        if ctx is None:
            self._refuse_if_ended(context_id)
            if not req.transcript and not req.continue_ and not req.flush:
                # Closing a context that never received text (SDK no_more_inputs() right away): nothing to say.
                await self.send(events.done_event(context_id))
                self._mark_ended(context_id)
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
        # Last, so a bad first input gets its own error rather than a 429; raises ConcurrencyLimited (429).
        slot = acquire_generation(self.principal.org_id)
        try:
            ctx = SpeechContext(context_id, options, self.send, self.send_error, self._finished)
        except BaseException:
            slot.release()
            raise
        self._slots[ctx] = slot
        self.contexts[context_id] = ctx
        self.live.add(ctx)
        return ctx

    def _finished(self, ctx: SpeechContext) -> None:
        """The context has sent its last event (done or error), or was aborted; may be called twice."""
        self.live.discard(ctx)
        if self.contexts.get(ctx.id) is ctx:
            del self.contexts[ctx.id]
        slot = self._slots.pop(ctx, None)
        if slot is not None:
            slot.release()
        self._mark_ended(ctx.id)

    def _mark_ended(self, context_id: str) -> None:
        self._ended[context_id] = time.monotonic()
        self._ended.move_to_end(context_id)
        while len(self._ended) > ENDED_CONTEXTS_KEPT:
            self._ended.popitem(last=False)

    def _refuse_if_ended(self, context_id: str) -> None:
        """A context id cannot be used again once its context has ended (Cartesia's API)."""
        ended_at = self._ended.get(context_id)
        if ended_at is None:
            return
        if time.monotonic() - ended_at < CONTEXT_EXPIRY_S:
            raise bad_request("context_closed",
                              f"Context {context_id!r} has ended (done, cancelled or failed); use a new context_id.",
                              "Context closed")
        raise bad_request("context_expired",
                          f"Context {context_id!r} expired {CONTEXT_EXPIRY_S:g} s after its last audio and cannot "
                          f"be reused; use a new context_id.", "Context expired")
