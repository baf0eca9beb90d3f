"""Text-to-speech rules: which voice an organisation may speak with, what a request may ask for, what it costs,
and streaming the engine's audio off the event loop.

Callers (the HTTP and WebSocket routes) validate first with `plan_speech`, charge with `charge_speech`, then
consume `stream_speech`. Failures are ServiceErrors, which the API turns into structured errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import numpy as np

from voicesmith.config import get_settings
# Output formats, encoders, scripts (the transcript's tags) and timings are part of what this module gives the API:
# routes parse, encode and stream what it yields without knowing the engine.
from voicesmith.engine.encoding import Encoder, OutputFormat, content_type, make_encoder
from voicesmith.engine.markup import Delivery, MarkupError, Script, open_tail, parse
from voicesmith.engine.pronunciation import Lexicon
from voicesmith.engine.synthesis import SUPPORTED_LANGUAGES, PhonemeTiming, WordTiming, get_synthesizer
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.service import consent, pronunciation, speech_pool, usage, voices
from voicesmith.service.errors import InvalidRequest, NotFound
from voicesmith.service.models import resolve_model
from voicesmith.service.ids import new_uuid
from voicesmith.store.blobs import get_blob_store

__all__ = [
    "Encoder", "OutputFormat", "PhonemeTiming", "SavedAudio", "Script", "SpeechPiece", "SpeechPlan", "WordTiming",
    "cancel_warm_up", "charge_speech", "check_transcript", "complete_markup_prefix", "content_type", "new_encoder",
    "parse_script", "plan_speech", "pronunciation_lexicon", "resolve_language", "save_audio", "stream_speech",
    "warm_up",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechPlan:
    """A validated request: everything but the text, which may arrive in pieces (WebSocket contexts)."""

    org_id: str
    api_key_id: str | None
    voice: voices.ResolvedVoice
    engine_model: str
    language: str
    speed: float = 1.0
    volume: float = 1.0
    lexicon: Lexicon | None = None  # the request's pronunciation dictionary


@dataclass(frozen=True)
class SpeechPiece:
    """One streamed piece: encoded audio plus word/phoneme timings relative to the start of this piece's text."""

    data: bytes
    duration_s: float
    compute_ms: float  # synthesis + encoding time of this piece (the events' `step_time`)
    words: list[WordTiming]
    phonemes: list[PhonemeTiming]


# --- request rules --------------------------------------------------------------------------------------------------

def resolve_language(language: str | None, locale: str | None) -> str:
    """The engine language for a request's `language` or `locale` (2026-08-14: one or the other, never both)."""
    if language and locale:
        raise InvalidRequest("Send either 'language' or 'locale', not both.", error_code="invalid_request")
    requested = language or locale or "en"
    base = requested.strip().replace("_", "-").split("-")[0].lower()
    if base not in SUPPORTED_LANGUAGES:
        raise InvalidRequest(
            f"Language {requested!r} is not supported by this server's engine. "
            f"Supported: {', '.join(sorted(SUPPORTED_LANGUAGES))}.",
            error_code="unsupported_language", title="Unsupported language",
        )
    return base


def check_transcript(text: str) -> None:
    if not text.strip():
        raise InvalidRequest("The transcript is empty.", error_code="empty_transcript", title="Empty transcript")
    limit = get_settings().max_transcript_chars
    if len(text) > limit:
        raise InvalidRequest(
            f"The transcript has {len(text):,} characters; the limit is {limit:,}. Split it into several requests "
            "(or several inputs on one WebSocket context).",
            error_code="transcript_too_long", title="Transcript too long",
        )


def parse_script(text: str, after: Script | None = None) -> Script:
    """The transcript's tags (<break/>, <spell>, <speed/>, <volume/>, <emotion/>) parsed into what to say;
    InvalidRequest (invalid_tag, unknown_tag) for a bad tag. `after`: the script before this one on the same
    WebSocket context, whose speed/volume/emotion tags still hold."""
    try:
        return parse(text, after.delivery_after if after is not None else Delivery())
    except MarkupError as exc:
        title = "Unknown tag" if exc.code == "unknown_tag" else "Invalid tag"
        raise InvalidRequest(exc.message, error_code=exc.code, title=title) from None


def complete_markup_prefix(text: str) -> int:
    """How much of streamed-in `text` can be parsed now: everything before a tag or <spell> left open."""
    return open_tail(text)


def pronunciation_lexicon(org_id: str, dict_id: str | None, *, unknown_is_error: bool = True) -> Lexicon | None:
    """The organisation's dictionary `dict_id` as the engine applies it. An unknown id is a 404
    (pronunciation_dict_not_found), or, with `unknown_is_error=False` (API versions before 2026-03-01, which never
    validated the field), no dictionary."""
    if not dict_id:
        return None
    try:
        return pronunciation.lexicon(org_id, dict_id)
    except NotFound:
        if unknown_is_error:
            raise
        return None


def plan_speech(org_id: str, api_key_id: str | None, *, voice_id: str, model_id: str | None,
                language: str | None = None, locale: str | None = None,
                speed: float = 1.0, volume: float = 1.0, pronunciation_dict_id: str | None = None,
                unknown_dict_is_error: bool = True) -> SpeechPlan:
    """Validate everything about a request except its text. Does database and blob I/O: call off the event loop."""
    engine_model = resolve_model(model_id)
    lang = resolve_language(language, locale)
    voice = voices.resolve(org_id, voice_id)
    lexicon = pronunciation_lexicon(org_id, pronunciation_dict_id, unknown_is_error=unknown_dict_is_error)
    return SpeechPlan(org_id=org_id, api_key_id=api_key_id, voice=voice, engine_model=engine_model,
                      language=lang, speed=speed, volume=volume, lexicon=lexicon)


# --- credits and usage ----------------------------------------------------------------------------------------------

def charge_speech(plan: SpeechPlan, characters: int) -> int:
    """Deduct the credits for `characters` (a Script's `billable_chars`; 1.5x for professional voices) and record
    the usage; raises InsufficientCredits (402). Does database I/O: call off the event loop."""
    return usage.charge_tts(plan.org_id, plan.api_key_id, characters, voice_kind=plan.voice.kind,
                            voice_id=plan.voice.id)


# --- saved audio (`save: true` on /tts/bytes) -------------------------------------------------------------------------

class SavedAudio:
    """The response body of a /tts/bytes request with `save: true`, written to the blob store as it streams;
    committed only if the whole body was produced."""

    def __init__(self, org_id: str, container: str) -> None:
        self.file_id = new_uuid()
        self._writer = get_blob_store().writer(f"tts/{org_id}/{self.file_id}.{container}")

    def write(self, data: bytes) -> None:
        self._writer.write(data)

    def finish(self, complete: bool) -> None:
        if complete:
            self._writer.commit()
        else:
            self._writer.abort()


def save_audio(plan: SpeechPlan, container: str) -> SavedAudio:
    return SavedAudio(plan.org_id, container)


# --- streaming ------------------------------------------------------------------------------------------------------

def speech_sample_rate() -> int:
    """The rate of the engine's audio (what encoders resample from)."""
    return get_synthesizer().sample_rate


def new_encoder(fmt: OutputFormat) -> Encoder:
    """An encoder from the engine's audio to `fmt` (every TTS route encodes through one of these)."""
    return make_encoder(fmt, speech_sample_rate())


_warm_up_cancelled = threading.Event()


def cancel_warm_up() -> None:
    """The process is stopping: a warm-up not begun is skipped and one under way ends after its current step.

    The server does not serve until the warm-up returns, so a stop during it would otherwise wait for all of it
    (seconds; tens of seconds on a busy machine). A step inside onnxruntime or espeak-ng cannot be interrupted.
    """
    _warm_up_cancelled.set()


def warm_up() -> None:
    """Load the engine and run it once, so the first request does not pay for loading (call off the loop).

    Loading the model decides the process's TTS runtime (VOICESMITH_TTS_RUNTIME; `auto` times both) and runs
    every warm-up input through it (engine/kokoro/runtime.py); an invalid setting raises here, at start-up."""
    if _warm_up_cancelled.is_set():
        return
    log.info("loading the speech engine")
    synthesizer = get_synthesizer()
    speech_pool.set_threads_per_task(getattr(getattr(synthesizer, "model", None), "threads", 1))
    if _warm_up_cancelled.is_set():
        log.info("speech engine warm-up cut short: stopping")
        return
    # The whole text path once: normalisation, espeak-ng (initialised here, single-threaded) and the model.
    synthesizer.synthesize("Hello.", VoiceArtifact(style=np.zeros(256, dtype=np.float32)))
    log.info("speech engine ready")


def stream_speech(plan: SpeechPlan, script: Script, encode: Callable[[np.ndarray], bytes], *,
                  max_duration_s: float | None = None) -> AsyncIterator[SpeechPiece]:
    """Synthesize a script (`parse_script`) chunk by chunk on the synthesis pool, encoding each chunk there too.

    Timings in each piece are relative to the start of the script (breaks included). `max_duration_s` truncates
    the audio (the contract's `duration`). Stops producing as soon as the consumer stops iterating.
    """

    def pieces() -> Iterator[SpeechPiece]:
        consent.note_synthesis(script.text, voice_kind=plan.voice.kind)  # before any audio exists (docs/consent.md)
        synthesizer = get_synthesizer()  # loaded once per process; first use may load it, on the pool
        rate = synthesizer.sample_rate
        limit = None if max_duration_s is None else int(round(max_duration_s * rate))
        emitted = 0
        started = time.perf_counter()
        for chunk in synthesizer.stream_script(script, plan.voice.artifact, language=plan.language, speed=plan.speed,
                                               lexicon=plan.lexicon):
            audio = _apply_volume(chunk.audio, plan.volume)
            if limit is not None:
                audio = audio[: max(limit - emitted, 0)]
            if audio.size == 0:
                return
            end_s = (emitted + audio.size) / rate
            data = encode(audio)
            yield SpeechPiece(
                data=data,
                duration_s=audio.size / rate,
                compute_ms=(time.perf_counter() - started) * 1000.0,
                words=[w for w in chunk.words if w.start < end_s],
                phonemes=[p for p in chunk.phonemes if p.start < end_s],
            )
            emitted += audio.size
            if limit is not None and emitted >= limit:
                return
            started = time.perf_counter()

    return speech_pool.iterate_in_pool(pieces)


def _apply_volume(audio: np.ndarray, volume: float) -> np.ndarray:
    if volume == 1.0:
        return audio
    return np.clip(audio * np.float32(volume), -1.0, 1.0)
