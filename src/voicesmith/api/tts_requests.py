"""From a TTS request body to a validated speech plan: parsing with precise error codes, the voice specifier,
speed and volume, the output format, and the version-dependent fields.

Shared by /tts/bytes, /tts/sse and /tts/websocket so that all three accept and reject exactly the same things.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from voicesmith.api.auth import Principal
from voicesmith.api.errors import ApiError, validation_message
from voicesmith.api.tts_schemas import GenerationConfig, Mp3OutputFormat, OutputFormatSpec, VoiceObject, VoiceSpec
from voicesmith.api.versions import V2026_03_01, ApiVersion
from voicesmith.service.synthesis import OutputFormat, SpeechPlan, plan_speech

M = TypeVar("M", bound=BaseModel)

# The deprecated `speed` enum, as multipliers of the speaking rate (generation_config.speed spans 0.6-1.5).
_NAMED_SPEEDS = {"slow": 0.8, "normal": 1.0, "fast": 1.25}

# A field whose validation failed -> the error code a client can branch on.
_FIELD_CODES = {"output_format": "invalid_output_format", "voice": "invalid_voice"}


def bad_request(error_code: str, message: str, title: str = "Invalid request") -> ApiError:
    return ApiError(400, error_code, title, message)


def parse_json(raw: bytes | str) -> object:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("invalid_json", "The request body is not valid JSON.", "Invalid JSON") from None


def validate_body(data: object, model: type[M]) -> M:
    """Validate a decoded JSON body; every failure is a 400 whose error_code names what was wrong."""
    if not isinstance(data, dict):
        raise bad_request("invalid_request", "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        _, message = validation_message([{**e, "loc": ("body", *e["loc"])} for e in errors])
        first = errors[0] if errors else {"loc": (), "type": ""}
        field = str(first["loc"][0]) if first["loc"] else ""
        # A missing field is a malformed request; a wrong value in a known field gets that field's code.
        code = "invalid_request" if first["type"] == "missing" else _FIELD_CODES.get(field, "invalid_request")
        if code == "invalid_output_format":
            message += (" output_format is {container: raw|wav, encoding: pcm_f32le|pcm_s16le|pcm_mulaw|pcm_alaw, "
                        "sample_rate: 8000|16000|22050|24000|44100|48000} or {container: mp3, sample_rate, "
                        "bit_rate: 32000|64000|96000|128000|192000}.")
        raise bad_request(code, message) from None


def voice_id_of(spec: VoiceSpec) -> str:
    """The voice id of any accepted specifier shape; embeddings were sunset on 2026-06-01 for every version."""
    if isinstance(spec, str):
        voice_id = spec
    else:
        assert isinstance(spec, VoiceObject)
        if spec.mode == "embedding" or spec.embedding is not None:
            raise bad_request("embedding_not_supported",
                              "Voices given as embeddings are not supported; pass a voice id as "
                              "{\"mode\": \"id\", \"id\": \"<voice id>\"} or as a string.",
                              "Embedding voices not supported")
        if spec.mode not in (None, "id"):
            raise bad_request("invalid_voice", f"Unknown voice mode {spec.mode!r}; use \"id\".")
        voice_id = spec.id or ""
    if not voice_id.strip():
        raise bad_request("invalid_voice", "The voice needs an id: {\"mode\": \"id\", \"id\": \"<voice id>\"}.")
    return voice_id.strip()


def speed_of(speed: str | None, config: GenerationConfig | None) -> float:
    if config is not None and config.speed is not None:
        return float(config.speed)
    return _NAMED_SPEEDS.get(speed or "normal", 1.0)


def volume_of(config: GenerationConfig | None) -> float:
    return float(config.volume) if config is not None and config.volume is not None else 1.0


def output_format_of(spec: OutputFormatSpec, *, raw_only: bool = False) -> OutputFormat:
    if raw_only and spec.container != "raw":
        raise bad_request("invalid_output_format",
                          f"This endpoint streams raw audio only; got container {spec.container!r}. "
                          "Use {container: raw, encoding, sample_rate}, or /tts/bytes for wav and mp3.",
                          "Unsupported output format")
    if isinstance(spec, Mp3OutputFormat):
        return OutputFormat(container="mp3", encoding=None, sample_rate=spec.sample_rate, bit_rate=spec.bit_rate)
    return OutputFormat(container=spec.container, encoding=spec.encoding, sample_rate=spec.sample_rate,
                        bit_rate=None)


def check_pronunciation_dict(dict_id: str | None, version: ApiVersion) -> None:
    """voicesmith has no pronunciation dictionaries. From 2026-03-01 an unknown dictionary id is a 404 (Cartesia's
    API); older versions never validated the field, so it is ignored there."""
    if dict_id and version >= V2026_03_01:
        raise ApiError(404, "pronunciation_dict_not_found", "Pronunciation dictionary not found",
                       f"Pronunciation dictionary {dict_id!r} was not found; this server has none.")


async def plan_for(principal: Principal, *, voice: VoiceSpec, model_id: str | None, language: str | None,
                   locale: str | None, speed: str | None, generation_config: GenerationConfig | None) -> SpeechPlan:
    voice_id = voice_id_of(voice)
    return await run_in_threadpool(
        plan_speech, principal.org_id, principal.api_key_id, voice_id=voice_id, model_id=model_id,
        language=language, locale=locale, speed=speed_of(speed, generation_config),
        volume=volume_of(generation_config),
    )
