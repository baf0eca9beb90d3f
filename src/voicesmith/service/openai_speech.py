"""Rules of the OpenAI-compatible speech API (`POST /v1/audio/speech`, `GET /v1/models`).

Tools built for OpenAI's speech endpoint (Open WebUI, AnythingLLM, SillyTavern, Home Assistant, the `openai` SDK)
send `model`, `input`, `voice`, `response_format`, `speed` and `instructions`. This module turns those into the same
`SpeechPlan` and `OutputFormat` that /tts/bytes uses, so both APIs share one synthesis and one encoding path:

- `model`: OpenAI's speech models (`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`, dated variants) all run on voicesmith's
  engine, as do voicesmith's own engine id and Cartesia's model ids.
- `voice`: a voice id, a voice name (the organisation's own voices first, then the stock voices), or one of
  OpenAI's built-in names, each mapped onto a stock voice of the same gender.
- `response_format`: OpenAI's formats at 24 kHz mono (48 kHz for Opus), `pcm` being headerless 16-bit
  little-endian, as OpenAI sends it.
- `instructions` is accepted and has no effect: the engine has no prompt-driven delivery control.
- `pronunciation_dict_id` (voicesmith's addition, e.g. through the SDK's `extra_body`) applies a pronunciation
  dictionary, as on the Cartesia routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicesmith.engine.encoding import OutputFormat, content_type
from voicesmith.engine.stock import stock_voice_id
from voicesmith.engine.synthesis import SUPPORTED_LANGUAGES
from voicesmith.service import voices
from voicesmith.service.errors import InvalidRequest, NotFound
from voicesmith.service.models import DEFAULT_ENGINE_MODEL, ENGINE_MODELS, is_cartesia_alias
from voicesmith.service.synthesis import SpeechPlan, pronunciation_lexicon

OPENAI_SPEECH_MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
_OPENAI_MODEL = re.compile(r"^(?:tts-1(?:-hd)?(?:-\d{4})?|gpt-4o-mini-tts(?:-\d{4}-\d{2}-\d{2})?)$")
# When the listed models "were created" (OpenAI's `created`, seconds): a fixed date, so listings are stable.
_MODELS_CREATED = 1767225600  # 2026-01-01

RESPONSE_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
_FORMATS = {
    "mp3": OutputFormat("mp3", sample_rate=24000, bit_rate=128000),
    "opus": OutputFormat("opus", sample_rate=48000, bit_rate=64000),
    "aac": OutputFormat("aac", sample_rate=24000, bit_rate=96000),
    "flac": OutputFormat("flac", sample_rate=24000),
    "wav": OutputFormat("wav", "pcm_s16le", 24000),
    "pcm": OutputFormat("raw", "pcm_s16le", 24000),
}

MIN_SPEED, MAX_SPEED = 0.25, 4.0

# OpenAI's built-in voices -> the stock voice (Kokoro pack) that stands in for each, by gender and register.
OPENAI_VOICES = {
    "alloy": "jf_alpha", "coral": "jf_nezumi", "nova": "jf_tebukuro", "sage": "jf_gongitsune",
    "shimmer": "jf_tebukuro", "marin": "jf_nezumi",
    "ash": "jm_kumo", "ballad": "jm_kumo", "echo": "jm_kumo", "fable": "jm_kumo", "onyx": "jm_kumo",
    "verse": "jm_kumo", "cedar": "jm_kumo",
}


@dataclass(frozen=True)
class ModelInfo:
    id: str
    created: int
    owned_by: str


def list_models() -> list[ModelInfo]:
    """What `GET /v1/models` lists: the speech models this server answers to."""
    return [ModelInfo(m, _MODELS_CREATED, "voicesmith") for m in (*ENGINE_MODELS, *OPENAI_SPEECH_MODELS)]


def get_model(model_id: str) -> ModelInfo:
    if model_id in ENGINE_MODELS or _OPENAI_MODEL.match(model_id) or is_cartesia_alias(model_id):
        return ModelInfo(model_id, _MODELS_CREATED, "voicesmith")
    raise NotFound(f"The model {model_id!r} does not exist on this server.", error_code="model_not_found",
                   title="Model not found")


def resolve_model(model: str) -> str:
    """The engine model that serves an OpenAI `model`; InvalidRequest(model_not_found) otherwise."""
    if model in ENGINE_MODELS:
        return model
    if _OPENAI_MODEL.match(model) or is_cartesia_alias(model):
        return DEFAULT_ENGINE_MODEL
    raise InvalidRequest(
        f"Model {model!r} is not available. Use {', '.join(OPENAI_SPEECH_MODELS)} or {DEFAULT_ENGINE_MODEL!r} "
        "(they all run on voicesmith's engine).", error_code="model_not_found", title="Model not found")


def output_format(response_format: str) -> OutputFormat:
    try:
        return _FORMATS[response_format]
    except KeyError:
        raise InvalidRequest(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}; got "
                             f"{response_format!r}.", error_code="invalid_output_format") from None


def media_type(response_format: str) -> str:
    return "audio/pcm" if response_format == "pcm" else content_type(output_format(response_format))


def resolve_voice_id(org_id: str, voice: str) -> str:
    """A voice id for `voice`: an id, a voice name, or one of OpenAI's built-in voice names."""
    wanted = voice.strip()
    if not wanted:
        raise InvalidRequest("voice must name a voice: its id, its name, or an OpenAI voice such as 'alloy'.",
                             error_code="invalid_voice")
    if (voice_id := voices.find_by_name(org_id, wanted)) is not None:
        return voice_id
    if (pack := OPENAI_VOICES.get(wanted.lower())) is not None:
        return stock_voice_id(pack)
    return wanted  # an id; voices.resolve says 404 if there is no such voice


def plan(org_id: str, api_key_id: str | None, *, model: str, voice: str, speed: float,
         pronunciation_dict_id: str | None = None) -> SpeechPlan:
    """Validate an OpenAI speech request (but its text). Does database and blob I/O: call off the event loop."""
    engine_model = resolve_model(model)
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidRequest(f"speed must be between {MIN_SPEED} and {MAX_SPEED}; got {speed}.",
                             error_code="invalid_speed")
    resolved = voices.resolve(org_id, resolve_voice_id(org_id, voice))
    # OpenAI's request has no language: a voice speaks its own language (English where the engine lacks it).
    language = resolved.language if resolved.language in SUPPORTED_LANGUAGES else "en"
    return SpeechPlan(org_id=org_id, api_key_id=api_key_id, voice=resolved, engine_model=engine_model,
                      language=language, speed=speed, lexicon=pronunciation_lexicon(org_id, pronunciation_dict_id))
