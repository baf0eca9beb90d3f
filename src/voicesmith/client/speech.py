"""`voicesmith say` helpers: output formats, and writing an SSE stream to a file as it arrives."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from voicesmith.client.api import VoicesmithClient

MP3_BIT_RATE = 128_000


def output_format(container: str, sample_rate: int) -> dict[str, Any]:
    if container == "mp3":
        return {"container": "mp3", "sample_rate": sample_rate, "bit_rate": MP3_BIT_RATE}
    return {"container": container, "encoding": "pcm_s16le", "sample_rate": sample_rate}


def wav_header(data_bytes: int, sample_rate: int, channels: int = 1, sample_width: int = 2) -> bytes:
    """A 44-byte PCM WAV header for `data_bytes` of little-endian 16-bit samples."""
    block_align = channels * sample_width
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, 8 * sample_width)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def stream_to_file(
    client: VoicesmithClient,
    out: Path,
    text: str,
    *,
    voice_id: str,
    model_id: str,
    container: str,
    sample_rate: int,
    language: str | None,
) -> int:
    """Write PCM chunks from /tts/sse as they arrive; a WAV header is written first and its sizes
    filled in at the end. The file appears under its name only once complete."""
    tmp = out.with_name(out.name + ".part")
    written = 0
    try:
        with tmp.open("wb") as fh:
            if container == "wav":
                fh.write(wav_header(0, sample_rate))
            for chunk in client.tts_stream(text, voice_id=voice_id, model_id=model_id, sample_rate=sample_rate, language=language):
                fh.write(chunk)
                fh.flush()
                written += len(chunk)
            if container == "wav":
                fh.seek(0)
                fh.write(wav_header(written, sample_rate))
                written += 44
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return written
