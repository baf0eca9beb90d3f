"""The bad-input corpus: upload files that are strange, broken, hostile or merely unusual, generated
here (never downloaded), each with what the API must answer.

`upload_cases()` is what tests/api/test_bad_inputs.py sends through POST /datasets/{id}/files;
`scripts/make_bad_inputs.py DIR` writes the same files to a folder (with a manifest) to try them by hand
against a running server. Files that are valid audio, however odd (8-bit, 6 channels, 192 kHz, silence,
clipping...), must be accepted: the quality report, not the upload, says what is wrong with them.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

RATE = 16000
ACCEPTED = (204, None)


@dataclass(frozen=True)
class UploadCase:
    name: str  # the case's id (also its file name in a written corpus)
    filename: str  # the name sent in the multipart part
    data: bytes
    status: int  # what the API must answer
    error_code: str | None  # the body's error_code (None when accepted)
    note: str  # what the case is


def wav_header(data_bytes: int, *, rate: int = RATE, channels: int = 1, bits: int = 16, fmt: int = 1,
               riff_bytes: int | None = None) -> bytes:
    """A 44-byte RIFF/WAVE header for `data_bytes` of samples (fmt 1 = PCM, 3 = IEEE float); any field may lie."""
    align = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * align, align, bits)
    riff = 4 + 8 + len(fmt_chunk) + 8 + data_bytes if riff_bytes is None else riff_bytes
    return (b"RIFF" + struct.pack("<I", riff & 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk))
            + fmt_chunk + b"data" + struct.pack("<I", data_bytes & 0xFFFFFFFF))


def _samples(kind: str, seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(seed)
    if kind == "tone":
        return 0.3 * np.sin(2 * np.pi * 220.0 * t)
    if kind == "silence":
        return np.zeros_like(t)
    if kind == "noise":
        return rng.uniform(-0.5, 0.5, len(t))
    if kind == "dc":
        return 0.6 + 0.05 * np.sin(2 * np.pi * 150.0 * t)
    if kind == "clipped":
        return np.clip(4.0 * np.sin(2 * np.pi * 180.0 * t), -1.0, 1.0)
    if kind == "chirp":  # a voice-like sweep with harmonics, for the format cases
        f = 120 + 80 * np.sin(2 * np.pi * 0.5 * t)
        phase = 2 * np.pi * np.cumsum(f) / rate
        return 0.2 * (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase))
    raise ValueError(kind)


def wav(kind: str = "chirp", seconds: float = 1.5, rate: int = RATE, channels: int = 1, bits: int = 16,
        fmt: int = 1) -> bytes:
    """A well-formed WAV of `kind` in the given format (PCM 8/16/24/32 bit or 32-bit float)."""
    mono = np.clip(_samples(kind, seconds, rate), -1.0, 1.0)
    frames = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono[:, None]
    if fmt == 3:
        data = frames.astype("<f4").tobytes()
    elif bits == 8:
        data = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
    elif bits == 16:
        data = np.round(frames * 32767).astype("<i2").tobytes()
    elif bits == 24:
        ints = np.round(frames * (2**23 - 1)).astype("<i4").reshape(-1)
        data = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    elif bits == 32:
        data = np.round(frames * (2**31 - 1)).astype("<i4").tobytes()
    else:
        raise ValueError(bits)
    return wav_header(len(data), rate=rate, channels=channels, bits=bits, fmt=fmt) + data


def png(width: int = 16, height: int = 16) -> bytes:
    """A real (tiny, grey gradient) PNG image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\0" + bytes((x * 16 + y) % 256 for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def zip_bomb_like(inflated_mb: int = 64) -> bytes:
    """A small zip that inflates to `inflated_mb` MB of zeros (a zip bomb's shape, not its size)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("recording.wav", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(inflated_mb):
                member.write(block)
    return buf.getvalue()


def flac(kind: str = "chirp", seconds: float = 1.5) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, _samples(kind, seconds, RATE).astype(np.float32), RATE, format="FLAC")
    return buf.getvalue()


def upload_cases() -> list[UploadCase]:
    good = wav()
    text = b"This is a plain text file, not a recording.\n" * 50
    bad = "invalid_audio"
    cases = [
        # Not audio at all, whatever the name says.
        UploadCase("text-as-wav", "notes.wav", text, 400, bad, "a text file named .wav"),
        UploadCase("text-as-mp3", "notes.mp3", text, 400, bad, "a text file named .mp3"),
        UploadCase("text-as-flac", "notes.flac", text, 400, bad, "a text file named .flac"),
        UploadCase("text-no-extension", "README", text, 400, bad, "a text file without extension"),
        UploadCase("image-png", "photo.png", png(), 400, bad, "a real PNG image"),
        UploadCase("image-as-wav", "photo.wav", png(), 400, bad, "a PNG image named .wav"),
        UploadCase("zip-bomb-like", "recordings.zip", zip_bomb_like(), 400, bad, "a zip inflating to 64 MB"),
        UploadCase("zip-as-wav", "recordings.wav", zip_bomb_like(8), 400, bad, "a zip named .wav"),
        UploadCase("pdf-as-m4a", "memo.m4a", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n" * 20, 400, bad,
                   "a PDF named .m4a"),
        UploadCase("random-bytes-ogg", "take.ogg", np.random.default_rng(1).bytes(64 * 1024), 400, bad,
                   "64 KB of random bytes named .ogg"),
        UploadCase("html-as-webm", "take.webm", b"<!doctype html><html><body>hi</body></html>" * 30, 400, bad,
                   "an HTML page named .webm"),
        UploadCase("empty", "empty.wav", b"", 400, "empty_file", "zero bytes"),
        # WAVs that are broken or whose header lies.
        UploadCase("header-only", "header-only.wav", wav_header(0), 400, bad, "a WAV header and 0 samples"),
        UploadCase("truncated-header", "cut-header.wav", good[:22], 400, bad, "the first 22 bytes of a WAV"),
        UploadCase("riff-only", "riff.wav", b"RIFF", 400, bad, "just the magic"),
        UploadCase("zero-channels", "zero-ch.wav", wav_header(3200, channels=0) + b"\0" * 3200, 400, bad,
                   "a header saying 0 channels"),
        UploadCase("zero-hz", "zero-hz.wav", wav_header(3200, rate=0) + b"\0" * 3200, 400, bad,
                   "a header saying 0 Hz"),
        UploadCase("unknown-codec", "codec.wav", wav_header(3200, fmt=0x1234) + b"\0" * 3200, 400, bad,
                   "an unknown format tag"),
        UploadCase("zero-bits", "zero-bits.wav", wav_header(3200, bits=0) + b"\0" * 3200, 400, bad,
                   "a header saying 0 bits per sample"),
        UploadCase("nan-float", "nan.wav", wav_header(4000, bits=32, fmt=3) + np.full(1000, np.nan, "<f4").tobytes(),
                   400, bad, "32-bit float samples that are all NaN"),
        UploadCase("data-size-past-end", "lying-data.wav", wav_header(10**9) + good[44:], *ACCEPTED,
                   "a data chunk claiming 1 GB, 1.5 s present: the audio there is read"),
        UploadCase("riff-size-past-end", "lying-riff.wav", wav_header(len(good) - 44, riff_bytes=2**32 - 1) + good[44:],
                   *ACCEPTED, "a RIFF size of 4 GB"),
        UploadCase("truncated-samples", "cut.wav", good[: len(good) // 2 + 1], *ACCEPTED,
                   "cut mid-sample: the first 0.75 s are read"),
        # FFmpeg fails on the cut last frame, and the analyser decodes the same way: refused, not stored.
        UploadCase("truncated-flac", "cut.flac", flac()[: len(flac()) // 2], 400, bad, "a FLAC cut in half"),
        # Valid audio in every shape: accepted; the report says what it thinks.
        UploadCase("pcm-8bit", "8bit.wav", wav(bits=8), *ACCEPTED, "8-bit unsigned PCM"),
        UploadCase("pcm-24bit", "24bit.wav", wav(bits=24), *ACCEPTED, "24-bit PCM"),
        UploadCase("pcm-32bit", "32bit.wav", wav(bits=32), *ACCEPTED, "32-bit integer PCM"),
        UploadCase("float-32bit", "float.wav", wav(bits=32, fmt=3), *ACCEPTED, "32-bit float"),
        UploadCase("six-channels", "5.1.wav", wav(channels=6), *ACCEPTED, "6 channels"),
        UploadCase("rate-8k", "8k.wav", wav(rate=8000), *ACCEPTED, "8 kHz telephone rate"),
        UploadCase("rate-192k", "192k.wav", wav(rate=192000, seconds=0.5), *ACCEPTED, "192 kHz"),
        UploadCase("flac", "take.flac", flac(), *ACCEPTED, "FLAC"),
        UploadCase("dc-offset", "dc.wav", wav("dc"), *ACCEPTED, "a large DC offset"),
        UploadCase("full-scale-clipping", "clipped.wav", wav("clipped"), *ACCEPTED, "a tone driven 4x into full scale"),
        UploadCase("silence", "silence.wav", wav("silence"), *ACCEPTED, "digital silence"),
        UploadCase("white-noise", "noise.wav", wav("noise"), *ACCEPTED, "white noise"),
        UploadCase("tone", "tone.wav", wav("tone"), *ACCEPTED, "a 220 Hz tone"),
        UploadCase("one-sample", "one-sample.wav", wav_header(2) + b"\x10\x00", *ACCEPTED, "a single sample"),
        # Names: stored as a plain name, never a path.
        UploadCase("path-traversal", "../../../../etc/passwd.wav", good, *ACCEPTED, "a name climbing out of the data dir"),
        UploadCase("windows-traversal", "..\\..\\boot.ini.wav", good, *ACCEPTED, "a Windows-style climbing name"),
        UploadCase("absolute-path", "/etc/cron.d/evil.wav", good, *ACCEPTED, "an absolute path"),
        UploadCase("unicode-name", "запись 🎤 録音 é\u0301.wav", good, *ACCEPTED, "unicode, emoji, combining marks"),
        UploadCase("control-chars", "bell\x07\x1b[31mred\x7f.wav", good, *ACCEPTED, "control characters"),
        UploadCase("long-name", "a" * 1000 + ".wav", good, *ACCEPTED, "a 1,004-character name"),
        UploadCase("dots-only", "..", good, *ACCEPTED, "a name that is only dots"),
        # Transcripts.
        UploadCase("transcript", "take.txt", "Hello, ça va? 你好".encode(), *ACCEPTED, "a UTF-8 transcript"),
        UploadCase("binary-transcript", "take2.txt", b"\xff\xfe\x00\x01" * 100, 400, "invalid_transcript",
                   "binary data named .txt"),
        UploadCase("nul-transcript", "metadata.csv", b"a.wav|hello\x00world\n", 400, "invalid_transcript",
                   "a metadata.csv holding NUL bytes"),
    ]
    return cases
