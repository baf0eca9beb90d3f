"""Helpers shared by the TTS API and SDK tests: decoding what the server sent and judging whether it is speech.

Decoding deliberately avoids voicesmith's own encoder module: WAV goes through libsndfile (soundfile), MP3 through
ffmpeg (PyAV), G.711 through the standard library's audioop, so a symmetric bug in encode/decode cannot hide.
"""

from __future__ import annotations

import io
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import soundfile as sf

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # deprecated in 3.11, still present; an independent G.711 reference

THREE_SENTENCES = (
    "The quick brown fox jumps over the lazy dog. "
    "Please call me back after lunch tomorrow. "
    "We will meet at the station at seven o'clock."
)
TWO_SENTENCES = "Good morning, everyone. Thank you all for coming today."


def decode_raw(data: bytes, encoding: str) -> np.ndarray:
    """Float samples of headerless PCM in one of Cartesia's encodings."""
    if encoding == "pcm_f32le":
        assert len(data) % 4 == 0, "pcm_f32le stream is not a whole number of samples"
        return np.frombuffer(data, dtype="<f4").astype(np.float32)
    if encoding == "pcm_s16le":
        assert len(data) % 2 == 0, "pcm_s16le stream is not a whole number of samples"
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if encoding == "pcm_mulaw":
            linear = audioop.ulaw2lin(data, 2)
        elif encoding == "pcm_alaw":
            linear = audioop.alaw2lin(data, 2)
        else:
            raise ValueError(encoding)
    return np.frombuffer(linear, dtype="<i2").astype(np.float32) / 32768.0


def decode_wav(data: bytes) -> tuple[np.ndarray, int, str]:
    """(samples, sample rate, libsndfile subtype) of a WAV body (streamed WAVs have open-ended sizes)."""
    with sf.SoundFile(io.BytesIO(data)) as f:
        audio = f.read(dtype="float32")
        return np.asarray(audio).reshape(-1), f.samplerate, f.subtype


def decode_compressed(data: bytes, container: str | None = None) -> tuple[np.ndarray, int, str]:
    """(mono float samples, sample rate, codec name) of a compressed body (mp3, Ogg Opus, AAC, FLAC), decoded by
    ffmpeg (PyAV); `container` names the demuxer when probing is not enough."""
    import av

    with av.open(io.BytesIO(data), format=container) as decoded:
        stream = decoded.streams.audio[0]
        assert stream.codec_context.channels == 1, "expected mono audio"
        codec = stream.codec_context.name
        parts = []
        for frame in decoded.decode(stream):
            samples = frame.to_ndarray().reshape(-1)
            if samples.dtype == np.int16:
                samples = samples.astype(np.float32) / 32768.0
            parts.append(samples.astype(np.float32))
        rate = stream.codec_context.sample_rate
    return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)), rate, codec


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """(mono samples, sample rate) of an MP3 body."""
    audio, rate, _ = decode_compressed(data, "mp3")
    return audio, rate


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def assert_speech(audio: np.ndarray, rate: int, *, min_s: float = 0.3, max_s: float = 60.0) -> None:
    """Audible, plausibly long, not clipped to a constant: what any real utterance satisfies."""
    duration = audio.size / rate
    assert min_s <= duration <= max_s, f"duration {duration:.2f} s outside [{min_s}, {max_s}]"
    assert np.isfinite(audio).all()
    assert rms(audio) > 0.01, f"audio is (nearly) silent: rms {rms(audio):.4f}"
    # Speech is bursty: loud frames and quiet frames. A constant tone or noise would be flat.
    frame = max(rate // 50, 1)
    energies = [rms(audio[i : i + frame]) for i in range(0, audio.size - frame, frame)]
    assert max(energies) > 4 * (np.percentile(energies, 10) + 1e-4), "energy has no speech-like dynamics"


def stock_voice_ids(base_url: str, headers: dict[str, str]) -> list[str]:
    r = httpx.get(f"{base_url}/voices", params={"limit": 100}, headers=headers, timeout=30)
    r.raise_for_status()
    body = r.json()
    voices = body["data"] if isinstance(body, dict) else body
    ids = [v["id"] for v in voices if not v.get("is_owner")]
    assert ids, "the server lists no stock voices"
    return sorted(ids)


def tts_body(voice_id: str, transcript: str, output_format: dict, **extra: object) -> dict:
    return {"model_id": "sonic-2", "transcript": transcript, "voice": {"mode": "id", "id": voice_id},
            "output_format": output_format, "language": "en", **extra}


@contextmanager
def uvicorn_in_thread(app: object) -> Iterator[int]:
    """Serve `app` with a real uvicorn on a free loopback port in a daemon thread; yields the port."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
