"""Request bodies of the TTS endpoints (Cartesia's API).

Parsing is lenient where the official SDKs differ (extra keys are ignored, `voice` may be a bare id or an object)
and strict where a wrong value would produce the wrong audio (sample rates, encodings, bit rates, ranges).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

Encoding = Literal["pcm_f32le", "pcm_s16le", "pcm_mulaw", "pcm_alaw"]
SampleRate = Literal[8000, 16000, 22050, 24000, 44100, 48000]
Mp3BitRate = Literal[32000, 64000, 96000, 128000, 192000]
SpeedName = Literal["slow", "normal", "fast"]


class _Lenient(BaseModel):
    # Clients send keys that differ by version (bit_rate on raw, encoding on mp3, experimental controls...).
    model_config = ConfigDict(extra="ignore")


class RawOutputFormat(_Lenient):
    container: Literal["raw"]
    encoding: Encoding
    sample_rate: SampleRate


class WavOutputFormat(_Lenient):
    container: Literal["wav"]
    encoding: Encoding
    sample_rate: SampleRate


class Mp3OutputFormat(_Lenient):
    container: Literal["mp3"]
    sample_rate: SampleRate
    bit_rate: Mp3BitRate = 128000


OutputFormatSpec = Annotated[
    Union[RawOutputFormat, WavOutputFormat, Mp3OutputFormat], Field(discriminator="container")
]


class VoiceObject(_Lenient):
    """`{mode: "id", id}` (2024-06-10 .. 2025-11-04), `{id}` (2026-08-14), or a legacy embedding voice."""

    mode: str | None = None
    id: str | None = None
    embedding: list[float] | None = None


VoiceSpec = Union[str, VoiceObject]


class GenerationConfig(_Lenient):
    volume: float | None = Field(default=None, ge=0.5, le=2.0)
    speed: float | None = Field(default=None, ge=0.6, le=1.5)
    emotion: str | None = None  # accepted and ignored: the Kokoro engine has no emotion control


class _GenerationFields(_Lenient):
    """Fields shared by /tts/bytes, /tts/sse and WebSocket generation requests."""

    language: str | None = None
    locale: str | None = None
    normalization: str | None = None
    generation_config: GenerationConfig | None = None
    speed: SpeedName | None = None
    duration: float | None = Field(default=None, gt=0)
    pronunciation_dict_id: str | None = None


class BytesRequest(_GenerationFields):
    model_id: str
    transcript: str
    voice: VoiceSpec
    output_format: OutputFormatSpec
    save: bool | None = False


class SSERequest(_GenerationFields):
    model_id: str
    transcript: str
    voice: VoiceSpec
    # Every container parses here so that a wav/mp3 request gets a precise "raw only" error, not a schema error.
    output_format: OutputFormatSpec
    add_timestamps: bool | None = False
    add_phoneme_timestamps: bool | None = False
    use_normalized_timestamps: bool | None = None
    context_id: str | None = None


class WebSocketGenerationRequest(_GenerationFields):
    """One input on a WebSocket context. Only the first input of a context must carry model, voice and format:
    continuations and the closing `{transcript: "", continue: false}` reuse the context's settings."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    context_id: str | None = None
    model_id: str | None = None
    transcript: str = ""
    voice: VoiceSpec | None = None
    output_format: OutputFormatSpec | None = None
    continue_: bool = Field(default=False, alias="continue")
    flush: bool | None = None
    max_buffer_delay_ms: int | None = Field(default=None, ge=0, le=5000)
    add_timestamps: bool | None = False
    add_phoneme_timestamps: bool | None = False
    use_normalized_timestamps: bool | None = None


class WebSocketCancelRequest(_Lenient):
    context_id: str
    cancel: Literal[True]
