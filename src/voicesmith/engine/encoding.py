"""Output formats of the TTS endpoints: raw PCM, WAV, MP3, Ogg Opus, AAC (ADTS) and FLAC, encoded incrementally as
audio streams.

An `Encoder` turns float32 mono chunks at the engine's rate into bytes of the requested format:
`begin()` (container header), `encode(chunk)` for each chunk, `end()` (flush). Resampling is a
streaming soxr resampler, so chunk boundaries leave no seams. G.711 mu-law and A-law are computed
here with numpy (the standard segment/mantissa companding of 16-bit samples).

WAV while streaming: the total length is unknown when the header goes out, so the RIFF and data
chunk sizes are written as 0xFFFFFFFF ("as long as the stream"), which soundfile/libsndfile,
PyAV/ffmpeg and browsers read to the end of the stream. `encode_whole` writes exact sizes instead.

Opus, AAC and FLAC go through PyAV's muxers (ogg, adts, flac) writing into a memory sink that is emptied after
every chunk, so they stream too: the ogg muxer is told to close a page every 60 ms of audio, and the FLAC stream
header carries no total length (a non-seekable output), which every FLAC decoder accepts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import soxr

CONTAINERS = ("raw", "wav", "mp3", "opus", "aac", "flac")
COMPRESSED = ("mp3", "opus", "aac", "flac")  # containers without a PCM `encoding`
ENCODINGS = ("pcm_f32le", "pcm_s16le", "pcm_mulaw", "pcm_alaw")
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
MP3_BIT_RATES = (32000, 64000, 96000, 128000, 192000)
OPUS_SAMPLE_RATES = (8000, 16000, 24000, 48000)  # what libopus takes (of SAMPLE_RATES)
DEFAULT_BIT_RATES = {"mp3": 128000, "opus": 64000, "aac": 96000}
STREAMING_SIZE = 0xFFFFFFFF


class FormatError(ValueError):
    """The requested output format is not one we produce."""


@dataclass(frozen=True)
class OutputFormat:
    container: str
    encoding: str | None = None  # raw/wav only
    sample_rate: int = 24000
    bit_rate: int | None = None  # mp3, opus and aac

    def __post_init__(self) -> None:
        if self.container not in CONTAINERS:
            raise FormatError(f"container must be one of {', '.join(CONTAINERS)}, got {self.container!r}")
        if self.sample_rate not in SAMPLE_RATES:
            raise FormatError(
                f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}, got {self.sample_rate!r}"
            )
        if self.container == "opus" and self.sample_rate not in OPUS_SAMPLE_RATES:
            raise FormatError(
                f"sample_rate must be one of {', '.join(map(str, OPUS_SAMPLE_RATES))} for opus, got {self.sample_rate!r}"
            )
        if self.container in DEFAULT_BIT_RATES and self.bit_rate is None:
            object.__setattr__(self, "bit_rate", DEFAULT_BIT_RATES[self.container])
        if self.container == "mp3" and self.bit_rate not in MP3_BIT_RATES:
            raise FormatError(
                f"bit_rate must be one of {', '.join(map(str, MP3_BIT_RATES))} for mp3, got {self.bit_rate!r}"
            )
        if self.container in COMPRESSED:
            return
        if self.encoding not in ENCODINGS:
            raise FormatError(f"encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}")

    @property
    def bytes_per_sample(self) -> int:
        return {"pcm_f32le": 4, "pcm_s16le": 2, "pcm_mulaw": 1, "pcm_alaw": 1}.get(self.encoding or "", 0)


def content_type(fmt: OutputFormat) -> str:
    return {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac",
            "flac": "audio/flac"}.get(fmt.container, "application/octet-stream")


# ---------------------------------------------------------------- sample conversions

def to_s16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)


_MULAW_BIAS = 0x84


def _segment(magnitude: np.ndarray, base: int) -> np.ndarray:
    """Index of the highest set bit above `base` bits: the G.711 exponent (0..7)."""
    seg = np.zeros(magnitude.shape, dtype=np.int32)
    for k in range(1, 8):
        seg += magnitude >= (1 << (base + k))
    return seg


def mulaw_encode(audio: np.ndarray) -> np.ndarray:
    """G.711 mu-law bytes (uint8) of float samples in [-1, 1] (the classic 14-bit formulation)."""
    pcm = to_s16(audio).astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.minimum(np.abs(pcm), 8159) + (_MULAW_BIAS >> 2), 0x1FFF)  # top code 0x7F
    exponent = _segment(magnitude, 5)
    mantissa = (magnitude >> (exponent + 1)) & 0x0F
    return (((exponent << 4) | mantissa) ^ mask).astype(np.uint8)


def mulaw_decode(data: np.ndarray) -> np.ndarray:
    """Float samples of G.711 mu-law bytes."""
    u = ~np.asarray(data, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + _MULAW_BIAS) << exponent) - _MULAW_BIAS
    return (np.where(sign, -magnitude, magnitude) / 32768.0).astype(np.float32)


def alaw_encode(audio: np.ndarray) -> np.ndarray:
    """G.711 A-law bytes (uint8) of float samples in [-1, 1]."""
    pcm = to_s16(audio).astype(np.int32) >> 3  # A-law works on 13-bit samples
    sign = np.where(pcm >= 0, 0x80, 0)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    magnitude = np.minimum(magnitude, 0xFFF)
    exponent = _segment(magnitude, 4)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8)


def alaw_decode(data: np.ndarray) -> np.ndarray:
    """Float samples of G.711 A-law bytes."""
    a = np.asarray(data, dtype=np.int32) ^ 0x55
    sign, exponent, mantissa = a & 0x80, (a >> 4) & 0x07, a & 0x0F
    magnitude = np.where(exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0))
    return (np.where(sign, magnitude, -magnitude) / 32768.0).astype(np.float32)


def pcm_bytes(audio: np.ndarray, encoding: str) -> bytes:
    if encoding == "pcm_f32le":
        return np.clip(audio, -1.0, 1.0).astype("<f4").tobytes()
    if encoding == "pcm_s16le":
        return to_s16(audio).astype("<i2").tobytes()
    if encoding == "pcm_mulaw":
        return mulaw_encode(audio).tobytes()
    if encoding == "pcm_alaw":
        return alaw_encode(audio).tobytes()
    raise FormatError(f"unknown encoding {encoding!r}")


def wav_header(fmt: OutputFormat, data_bytes: int = STREAMING_SIZE) -> bytes:
    """A WAV header; data_bytes=STREAMING_SIZE marks a stream of unknown length."""
    tag = {"pcm_s16le": 1, "pcm_f32le": 3, "pcm_alaw": 6, "pcm_mulaw": 7}[fmt.encoding or ""]
    width = fmt.bytes_per_sample
    fmt_chunk = struct.pack("<HHIIHH", tag, 1, fmt.sample_rate, fmt.sample_rate * width, width, width * 8)
    if tag != 1:  # non-PCM formats carry a cbSize field
        fmt_chunk += struct.pack("<H", 0)
    riff_size = STREAMING_SIZE if data_bytes == STREAMING_SIZE else 4 + 8 + len(fmt_chunk) + 8 + data_bytes
    return (
        b"RIFF" + struct.pack("<I", riff_size) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
        + b"data" + struct.pack("<I", data_bytes)
    )


# ---------------------------------------------------------------- encoders

class _Resampler:
    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.stream = None if source_rate == target_rate else soxr.ResampleStream(
            source_rate, target_rate, 1, dtype="float32", quality="HQ"
        )

    def __call__(self, audio: np.ndarray, last: bool = False) -> np.ndarray:
        audio = np.ascontiguousarray(audio, dtype=np.float32).reshape(-1)
        if self.stream is None:
            return audio
        return self.stream.resample_chunk(audio, last=last)


class Encoder:
    """Incremental encoder: begin(), encode(chunk)..., end(); concatenate what they return."""

    def __init__(self, fmt: OutputFormat, source_rate: int) -> None:
        self.format = fmt
        self._resample = _Resampler(source_rate, fmt.sample_rate)

    def begin(self) -> bytes:
        return b""

    def encode(self, audio: np.ndarray) -> bytes:
        return self._encode(self._resample(audio))

    def end(self) -> bytes:
        return self._encode(self._resample(np.zeros(0, dtype=np.float32), last=True)) + self._finish()

    def _encode(self, audio: np.ndarray) -> bytes:
        return pcm_bytes(audio, self.format.encoding or "")

    def _finish(self) -> bytes:
        return b""


class WavEncoder(Encoder):
    def begin(self) -> bytes:
        return wav_header(self.format)


class Mp3Encoder(Encoder):
    """MP3 frames from libmp3lame through PyAV (bundled in the av wheel; no system ffmpeg)."""

    def __init__(self, fmt: OutputFormat, source_rate: int) -> None:
        import av

        super().__init__(fmt, source_rate)
        self._av = av
        codec = av.CodecContext.create("libmp3lame", "w")
        codec.sample_rate = fmt.sample_rate
        codec.layout = "mono"
        codec.format = "s16"
        codec.bit_rate = fmt.bit_rate
        codec.open()
        self._codec = codec
        self._frame_size = codec.frame_size or 1152
        self._pending = np.zeros(0, dtype=np.int16)
        self._pts = 0

    def _frames(self, samples: np.ndarray) -> bytes:
        frame = self._av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.format.sample_rate
        frame.pts = self._pts
        self._pts += len(samples)
        return b"".join(bytes(packet) for packet in self._codec.encode(frame))

    def _encode(self, audio: np.ndarray) -> bytes:
        self._pending = np.concatenate([self._pending, to_s16(audio)])
        out = []
        n = self._frame_size
        while len(self._pending) >= n:
            out.append(self._frames(self._pending[:n]))
            self._pending = self._pending[n:]
        return b"".join(out)

    def _finish(self) -> bytes:
        out = []
        if len(self._pending):
            tail = np.zeros(self._frame_size, dtype=np.int16)
            tail[: len(self._pending)] = self._pending
            out.append(self._frames(tail))
            self._pending = np.zeros(0, dtype=np.int16)
        out.extend(bytes(packet) for packet in self._codec.encode(None))
        return b"".join(out)


class _Sink:
    """A write-only, non-seekable file for PyAV's muxers; `take()` empties it."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


# container -> (PyAV muxer, codec, sample format the codec takes, muxer options)
_MUXED = {
    "opus": ("ogg", "libopus", "s16", {"page_duration": "60000"}),  # a page per 60 ms: streams, not buffered
    "aac": ("adts", "aac", "fltp", {}),
    "flac": ("flac", "flac", "s16", {}),
}


class MuxedEncoder(Encoder):
    """Ogg Opus, AAC in ADTS frames and FLAC, through PyAV's encoders and muxers (no system ffmpeg).

    Audio goes to the codec in frames of exactly its frame size; the last, shorter frame is sent as it is (all
    three codecs take a small last frame), so nothing is cut or padded."""

    def __init__(self, fmt: OutputFormat, source_rate: int) -> None:
        import av

        super().__init__(fmt, source_rate)
        self._av = av
        muxer, codec, self._sample_format, options = _MUXED[fmt.container]
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=muxer, options=options)
        self._stream = self._container.add_stream(codec, rate=fmt.sample_rate, layout="mono")
        if fmt.bit_rate is not None:
            self._stream.bit_rate = fmt.bit_rate
        self._stream.codec_context.open()
        self._frame_size = self._stream.codec_context.frame_size or 4096
        self._pending = np.zeros(0, dtype=np.float32)
        self._pts = 0

    def _mux(self, samples: np.ndarray | None) -> bytes:
        frame = None
        if samples is not None:
            data = to_s16(samples) if self._sample_format == "s16" else samples.astype(np.float32)
            frame = self._av.AudioFrame.from_ndarray(data.reshape(1, -1), format=self._sample_format, layout="mono")
            frame.sample_rate = self.format.sample_rate
            frame.pts = self._pts
            self._pts += samples.size
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        return self._sink.take()

    def _encode(self, audio: np.ndarray) -> bytes:
        self._pending = np.concatenate([self._pending, np.clip(audio, -1.0, 1.0).astype(np.float32)])
        out = []
        n = self._frame_size
        while len(self._pending) >= n:
            out.append(self._mux(self._pending[:n]))
            self._pending = self._pending[n:]
        return b"".join(out)

    def _finish(self) -> bytes:
        out = [self._mux(self._pending)] if len(self._pending) else []
        self._pending = np.zeros(0, dtype=np.float32)
        out.append(self._mux(None))
        self._container.close()
        out.append(self._sink.take())
        return b"".join(out)


def make_encoder(fmt: OutputFormat, source_rate: int) -> Encoder:
    if fmt.container == "mp3":
        return Mp3Encoder(fmt, source_rate)
    if fmt.container in _MUXED:
        return MuxedEncoder(fmt, source_rate)
    if fmt.container == "wav":
        return WavEncoder(fmt, source_rate)
    return Encoder(fmt, source_rate)


def encode_whole(audio: np.ndarray, fmt: OutputFormat, source_rate: int) -> bytes:
    """One complete file/body; WAV gets exact sizes in its header."""
    encoder = make_encoder(fmt, source_rate)
    body = encoder.encode(audio) + encoder.end()
    if fmt.container == "wav":
        return wav_header(fmt, len(body)) + body
    return encoder.begin() + body
