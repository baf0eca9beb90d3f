"""WebSocket TTS contexts (Cartesia's API): many independent speech streams multiplexed on one connection.

A context is created by its first input and lives until its audio is done, it is cancelled, or it fails. Inputs
are buffered (tts_buffer), then queued as segments; one task per context synthesizes the segments in order, so a
context's audio always follows its inputs' order while different contexts generate concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from voicesmith.api import tts_events as events
from voicesmith.api.tts_buffer import TranscriptBuffer
from voicesmith.service.errors import ServiceError
from voicesmith.service.synthesis import (OutputFormat, SpeechPlan, charge_speech, make_encoder, speech_sample_rate,
                                          stream_speech)

log = logging.getLogger("voicesmith.api.tts")

# Raw audio is sent in frames of at most this many bytes: a whole sentence at 48 kHz float32, base64-encoded,
# would exceed the 1 MiB message limit that websocket clients (python `websockets`) apply by default.
MAX_FRAME_BYTES = 32 * 1024


def frames(data: bytes) -> list[bytes]:
    """Split encoded PCM into frames of whole samples (MAX_FRAME_BYTES is a multiple of every sample width)."""
    return [data[i : i + MAX_FRAME_BYTES] for i in range(0, len(data), MAX_FRAME_BYTES)] if data else []


@dataclass(frozen=True)
class ContextOptions:
    plan: SpeechPlan
    output_format: OutputFormat
    add_timestamps: bool
    add_phoneme_timestamps: bool
    buffer_delay_s: float


@dataclass(frozen=True)
class _Segment:
    text: str
    flush_id: int


@dataclass(frozen=True)
class _Flush:
    flush_id: int


class _Close:
    pass


Send = Callable[[dict], Awaitable[None]]
ErrorSender = Callable[[ServiceError, str], Awaitable[None]]


class SynthesisFailed(ServiceError):
    """The engine failed inside a context: the client gets this, the server log gets the traceback."""

    status = 500
    default_code = "internal_error"
    default_title = "Synthesis failed"


class SpeechContext:
    """One context: its buffer, its queue of work, and the task that turns the queue into audio events."""

    def __init__(self, context_id: str, options: ContextOptions, send: Send, send_error: ErrorSender,
                 on_finished: Callable[["SpeechContext"], None]) -> None:
        self.id = context_id
        self.options = options
        self._send = send
        self._send_error = send_error
        self._on_finished = on_finished
        self._buffer = TranscriptBuffer(options.buffer_delay_s)
        self._queue: asyncio.Queue[_Segment | _Flush | _Close] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self.flush_id = 1
        self.closing = False  # `continue: false` received: no more input is accepted
        self.cancelled = False
        self._offset_s = 0.0  # audio already sent on this context (timestamps are context-relative)
        self._encoder = make_encoder(options.output_format, speech_sample_rate())
        self._task = asyncio.create_task(self._run(), name=f"tts-context-{context_id}")

    # --- input side (called by the connection's receive loop) -----------------------------------------------

    def add_input(self, transcript: str, *, flush: bool, more: bool) -> None:
        ready = self._buffer.add(transcript)
        if flush or not more:
            ready += self._buffer.drain()
        self._enqueue(ready)
        if flush:
            self._queue.put_nowait(_Flush(self.flush_id))
            self.flush_id += 1
        if not more:
            self.closing = True
            self._cancel_timer()
            self._queue.put_nowait(_Close())
        elif self._buffer.text and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._buffer.delay_s, self._on_timer)

    def cancel(self) -> None:
        """Drop every input that has not started generating; a segment being generated runs to its end."""
        self.cancelled = True
        self._cancel_timer()
        self._buffer.drain()
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_Close())  # wakes the task if it is idle; it exits without `done`

    def abort(self) -> None:
        """The connection is gone: stop at once (the synthesis pool stops at the next chunk)."""
        self._cancel_timer()
        self._task.cancel()

    async def wait(self) -> None:
        await asyncio.gather(self._task, return_exceptions=True)

    def _enqueue(self, text: str) -> None:
        if text.strip():
            self._queue.put_nowait(_Segment(text, self.flush_id))

    def _on_timer(self) -> None:
        self._timer = None
        self._enqueue(self._buffer.on_timeout())
        if self._buffer.text and not self.closing:
            self._timer = asyncio.get_running_loop().call_later(self._buffer.delay_s, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- output side -------------------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                item = await self._queue.get()
                if self.cancelled:
                    return
                if isinstance(item, _Segment):
                    await self._generate(item)
                elif isinstance(item, _Flush):
                    await self._send_tail(item.flush_id)
                    await self._send(events.flush_done_event(self.id, item.flush_id))
                else:
                    await self._send_tail(self.flush_id)
                    await self._send(events.done_event(self.id))
                    return
        except ServiceError as exc:
            await self._send_error(exc, self.id)
        except asyncio.CancelledError:
            raise
        except Exception:  # an engine failure: end this context with an error, keep the connection
            log.exception("TTS context %s failed", self.id)
            await self._send_error(SynthesisFailed("The server failed while generating audio; quote the "
                                                   "request_id when reporting it."), self.id)
        finally:
            self._cancel_timer()
            self._on_finished(self)

    async def _generate(self, segment: _Segment) -> None:
        opts = self.options
        await run_in_threadpool(charge_speech, opts.plan, len(segment.text))
        start_s = self._offset_s  # the engine times words from the start of this segment's text
        async with aclosing(stream_speech(opts.plan, segment.text, self._encoder.encode)) as pieces:
            async for piece in pieces:
                for i, frame in enumerate(frames(piece.data)):
                    await self._send(events.chunk_event(frame, piece.compute_ms if i == 0 else 0.0, self.id,
                                                        segment.flush_id))
                if opts.add_timestamps and piece.words:
                    await self._send(events.word_timestamps_event(piece.words, start_s, self.id,
                                                                  segment.flush_id))
                if opts.add_phoneme_timestamps and piece.phonemes:
                    await self._send(events.phoneme_timestamps_event(piece.phonemes, start_s, self.id,
                                                                     segment.flush_id))
                self._offset_s += piece.duration_s

    async def _send_tail(self, flush_id: int) -> None:
        """Audio the encoder still holds (resampler delay) belongs before flush_done/done."""
        tail = self._encoder.end()
        self._encoder = make_encoder(self.options.output_format, speech_sample_rate())
        for frame in frames(tail):
            await self._send(events.chunk_event(frame, 0.0, self.id, flush_id))
