"""The WAV header `voicesmith say --stream` writes around streamed PCM."""

from __future__ import annotations

import wave
from pathlib import Path

from voicesmith.client.speech import output_format, wav_header


def test_wav_header_makes_a_file_the_stdlib_reads(tmp_path: Path) -> None:
    pcm = (b"\x01\x00\xff\xff") * 1200  # 2400 16-bit samples
    path = tmp_path / "x.wav"
    path.write_bytes(wav_header(len(pcm), 24000) + pcm)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 24000, 2400)
        assert w.readframes(2400) == pcm


def test_output_formats_follow_the_contract() -> None:
    assert output_format("wav", 16000) == {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000}
    assert output_format("raw", 8000)["encoding"] == "pcm_s16le"
    assert output_format("mp3", 44100) == {"container": "mp3", "sample_rate": 44100, "bit_rate": 128000}
