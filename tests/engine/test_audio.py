import math

import av
import numpy as np
import pytest
import soundfile as sf

from tests.engine.ingest_signals import harmonic_tone, white_noise  # tests/engine/ is on sys.path
from voicesmith.engine import audio, segment
from voicesmith.engine.dataset_report import FLAG_CLIPPING, REJECT_CLIPPING


@pytest.fixture(scope="module")
def allison(speech_clips):
    clip = speech_clips.pick("allison_en", 1, min_s=4.0)[0]
    samples, sr = audio.load_audio(clip.path)
    return clip, samples, sr


def _encode(samples: np.ndarray, sr: int, path, codec: str, rate: int, container: str | None = None) -> None:
    """Write mono float audio with PyAV (the same library users' files come through); Vorbis with
    libsndfile, as this PyAV build has only FFmpeg's experimental Vorbis encoder."""
    samples = audio.resample(samples, sr, rate)
    if codec == "vorbis":
        sf.write(str(path), samples, rate, format="OGG", subtype="VORBIS")
        return
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame_len = 960
        for start in range(0, len(samples), frame_len):
            chunk = samples[start : start + frame_len]
            frame = av.AudioFrame.from_ndarray(chunk[None, :].astype(np.float32), format="flt", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize(
    "suffix,codec,rate,container",
    [
        ("mp3", "libmp3lame", 44100, None),
        ("ogg", "vorbis", 44100, None),
        ("opus", "libopus", 48000, "ogg"),
        ("m4a", "aac", 44100, "mp4"),
        ("webm", "libopus", 48000, "webm"),
        ("flac", "flac", 16000, None),
    ],
)
def test_decodes_common_formats_to_the_requested_rate(allison, tmp_path, suffix, codec, rate, container):
    clip, samples, sr = allison
    path = tmp_path / f"clip.{suffix}"
    _encode(samples, sr, path, codec, rate, container)

    decoded, out_rate = audio.load_audio(path, 24000)

    assert out_rate == 24000 and decoded.dtype == np.float32 and decoded.ndim == 1
    # Codec priming/padding adds at most a few tens of milliseconds.
    assert abs(len(decoded) / out_rate - len(samples) / sr) < 0.1
    assert audio.probe_audio(path).sample_rate == rate
    # Same speech: the pitch survives the round trip.
    assert audio.f0_stats(decoded, out_rate)[0] == pytest.approx(audio.f0_stats(samples, sr)[0], rel=0.05)
    # Lossy coding does not create clipping plateaus on clean speech.
    assert audio.decode(path, [16000]).clipping_fraction < 1e-4


def test_downmixes_stereo_by_averaging(tmp_path):
    left = harmonic_tone(200, 1.0)
    sf.write(tmp_path / "stereo.wav", np.stack([left, np.zeros_like(left)], axis=1), 16000)
    mono, sr = audio.load_audio(tmp_path / "stereo.wav")
    assert sr == 16000 and mono.ndim == 1
    np.testing.assert_allclose(mono, left / 2, atol=1e-4)
    assert audio.probe_audio(tmp_path / "stereo.wav").channels == 2


def test_resample_keeps_frequency_and_level():
    t = np.arange(48000) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    out = audio.resample(tone, 48000, 16000)
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out[1000:-1000]))
    assert np.argmax(spectrum) * 16000 / len(out[1000:-1000]) == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(out[1000:-1000] ** 2)) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def test_streaming_decode_matches_whole_file_resampling(allison, tmp_path):
    _, samples, sr = allison
    long = np.tile(samples, 5)  # > one 10 s block, so block boundaries are crossed
    sf.write(tmp_path / "long.wav", long, sr, subtype="FLOAT")
    decoded = audio.decode(tmp_path / "long.wav", [24000, sr])
    np.testing.assert_allclose(decoded.signals[sr], long, atol=1e-6)
    whole = audio.resample(long, sr, 24000)
    assert abs(len(decoded.signals[24000]) - len(whole)) <= 2
    n = min(len(whole), len(decoded.signals[24000]))
    # Streamed at soxr "HQ", whole at "VHQ": the same signal to within a few 1e-3.
    assert np.max(np.abs(decoded.signals[24000][:n] - whole[:n])) < 5e-3
    assert np.corrcoef(decoded.signals[24000][:n], whole[:n])[0, 1] > 0.9999


def test_loudness_normalisation(allison):
    _, samples, sr = allison
    out = audio.normalize_loudness(samples * 0.05, sr, -23.0)
    assert audio.loudness_lufs(out, sr) == pytest.approx(-23.0, abs=0.1)
    # A gain that would push peaks past 0.98 is lowered instead of clipping.
    loud = audio.normalize_loudness(samples, sr, -5.0)
    assert np.max(np.abs(loud)) <= 0.98 + 1e-6
    # Shorter than one 400 ms gating block: no R128 value, levelled by RMS instead, no error.
    short = samples[: int(0.2 * sr)]
    assert audio.loudness_lufs(short, sr) is None
    assert np.max(np.abs(audio.normalize_loudness(short * 0.01, sr))) > np.max(np.abs(short * 0.01))
    silence = np.zeros(sr, dtype=np.float32)
    assert audio.loudness_lufs(silence, sr) is None
    np.testing.assert_array_equal(audio.normalize_loudness(silence, sr), silence)


def test_clipping_fraction_separates_clean_from_overdriven(speech_clips):
    for clip in speech_clips.pick("allison_en", 3) + speech_clips.pick("carlo_it", 3):
        samples, _ = audio.load_audio(clip.path)
        assert audio.clipping_fraction(samples) < 1e-4
        peak = np.max(np.abs(samples))
        # Driven 2x into full scale: flagged; 4x: rejected (the dataset report's thresholds).
        assert audio.clipping_fraction(np.clip(samples / peak * 2.0, -1, 1)) > FLAG_CLIPPING
        assert audio.clipping_fraction(np.clip(samples / peak * 4.0, -1, 1)) > REJECT_CLIPPING


def test_snr_estimate_tracks_added_noise(speech_clips):
    rng = np.random.default_rng(1)
    for clip in speech_clips.pick("allison_en", 2) + speech_clips.pick("june_fr", 2):
        samples, sr = audio.load_audio(clip.path, 16000)
        padded = np.concatenate([np.zeros(8000, np.float32), samples, np.zeros(8000, np.float32)])
        seg = segment.segment(padded, sr)
        mask = segment.speech_mask(seg.regions, len(seg.probs))
        assert audio.estimate_snr_db(padded, sr, mask, segment.FRAME_S) >= 30
        speech_power = np.mean(padded[np.repeat(mask, segment.FRAME_SAMPLES)[: len(padded)]] ** 2)
        for snr in (5, 15):
            noisy = padded + rng.standard_normal(len(padded)).astype(np.float32) * np.sqrt(speech_power / 10 ** (snr / 10))
            seg = segment.segment(noisy, sr)
            mask = segment.speech_mask(seg.regions, len(seg.probs))
            assert audio.estimate_snr_db(noisy, sr, mask, segment.FRAME_S) == pytest.approx(snr, abs=2)
        # Without any pause the percentile fallback is rougher but in the right place.
        core = samples[int(0.3 * sr) : -int(0.3 * sr)]
        noisy = core + rng.standard_normal(len(core)).astype(np.float32) * np.sqrt(np.mean(core**2) / 10)
        assert audio.estimate_snr_db(noisy, sr) == pytest.approx(10, abs=3)


def test_pitch_of_tones_and_real_voices(speech_clips):
    for f0 in (110.0, 220.0):
        median, spread = audio.f0_stats(harmonic_tone(f0, 1.0), 16000)
        assert median == pytest.approx(f0, rel=0.01) and spread < 0.1
    female = [audio.f0_stats(*audio.load_audio(c.path))[0] for c in speech_clips.pick("allison_en", 3)]
    male = [audio.f0_stats(*audio.load_audio(c.path))[0] for c in speech_clips.pick("librivox_en", 3, max_s=15)]
    assert all(160 < f < 260 for f in female), female
    assert all(70 < f < 140 for f in male), male
    assert all(math.isnan(v) for v in audio.f0_stats(white_noise(1.0), 16000))
    summary = audio.pitch_summary(harmonic_tone(150, 1.0), 16000)
    assert summary["sustained_fraction"] > 0.9  # a held note


def test_unreadable_inputs_raise_decode_errors(tmp_path):
    (tmp_path / "junk.mp3").write_bytes(b"this is not audio" * 50)
    (tmp_path / "empty.wav").write_bytes(b"")
    sf.write(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    for name in ("junk.mp3", "empty.wav", "zero.wav", "missing.ogg"):
        with pytest.raises(audio.AudioDecodeError):
            audio.load_audio(tmp_path / name)


def test_decode_errors_say_what_is_wrong_without_paths_or_errno(tmp_path):
    """FFmpeg's own messages carry the file's path and an errno; AudioDecodeError's never do."""
    from tests.wav_support import wav_bytes, wav_header

    cases = {
        "text.wav": (b"plain text, not audio\n" * 40, "not in an audio format"),
        "image.part": (b"\x89PNG\r\n\x1a\n" + b"\0" * 500, "no audio stream"),
        "zero-channels": (wav_header(320, channels=0) + b"\0" * 320, "impossible audio"),
        "header-only": (wav_header(0), "no audio samples"),
        "nan.wav": (wav_header(64, bits=32, fmt=3) + np.full(16, np.nan, "<f4").tobytes(), "non-finite"),
    }
    for name, (data, words) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(audio.AudioDecodeError) as info:
            audio.check_audio(tmp_path / name)
        message = str(info.value)
        assert words in message and str(tmp_path) not in message and "Errno" not in message, (name, message)
    (tmp_path / "ok").write_bytes(wav_bytes(0.5, rate=8000))
    assert audio.check_audio(tmp_path / "ok") == (8000, 1)


def test_check_audio_reads_only_the_start_of_a_long_file(tmp_path):
    """An hour of 16 kHz audio is checked in well under a second: only its first block is decoded."""
    import time

    from tests.wav_support import wav_header

    path = tmp_path / "hour"
    n = 3600 * 16000 * 2
    with open(path, "wb") as fh:
        fh.write(wav_header(n))
        fh.truncate(44 + n)  # sparse: an hour of digital silence
    started = time.perf_counter()
    assert audio.check_audio(path) == (16000, 1)
    assert time.perf_counter() - started < 2.0
