"""Audio in: decode any common format, downmix, resample, measure and normalise loudness, and the
signal checks the dataset report is built from (clipping, noise floor / SNR, pitch).

Decoding streams block by block (soundfile for the formats libsndfile reads, PyAV for everything else),
so a two-hour upload is never held twice in memory at its native rate. No system ffmpeg is needed:
PyAV wheels carry their own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile as sf
import soxr

# libsndfile reads these natively and faster than FFmpeg; everything else goes through PyAV.
_SOUNDFILE_SUFFIXES = {".wav", ".flac", ".aiff", ".aif"}
_BLOCK_SECONDS = 10.0
LOUDNESS_BLOCK_S = 0.4  # EBU R128 gating block: shorter audio has no defined integrated loudness
TARGET_LUFS = -23.0


class AudioDecodeError(Exception):
    """The file is not audio we can read (corrupt, no audio stream, unsupported codec, empty).

    Its message says what is wrong in plain words, fit to show a user: never a file path or an errno
    (FFmpeg's and libsndfile's own messages carry both, so they are translated here, at the source)."""


def _why_undecodable(exc: BaseException) -> str:
    """A decoder's exception, in words (its own text names the server path and an errno)."""
    av = _import_av()
    if isinstance(exc, av.error.InvalidDataError):
        return "the data is not in an audio format we can read, or it is damaged"
    if isinstance(exc, av.error.EOFError):
        return "the file ends in the middle of its audio data"
    if isinstance(exc, (av.error.DecoderNotFoundError, av.error.PatchWelcomeError)):
        return "it uses an audio codec this server cannot decode"
    if isinstance(exc, av.error.ArgumentError):
        return "its header describes impossible audio (for example 0 channels or 0 Hz)"
    if isinstance(exc, MemoryError):
        return "it is too large to decode"
    if isinstance(exc, OSError):
        return "it could not be read"
    return "it could not be decoded"


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    duration_s: float
    codec: str


def _is_soundfile_path(path: Path) -> bool:
    return path.suffix.lower() in _SOUNDFILE_SUFFIXES


def probe_audio(path: str | Path) -> AudioInfo:
    """Native sample rate, channel count, duration and codec, without decoding the whole file
    (duration comes from the container; for streams that do not declare it, the file is decoded)."""
    path = Path(path)
    if _is_soundfile_path(path):
        try:
            info = sf.info(str(path))
            return AudioInfo(info.samplerate, info.channels, info.frames / info.samplerate, info.subtype.lower())
        except (RuntimeError, sf.LibsndfileError):
            pass  # a mislabelled file: let FFmpeg try
    av = _import_av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioDecodeError("it holds no audio stream (it may be an image, a document or a silent video)")
            stream = container.streams.audio[0]
            rate = int(stream.codec_context.sample_rate or stream.rate or 0)
            channels = int(stream.codec_context.channels or 0)
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            codec = stream.codec_context.name
    except AudioDecodeError:
        raise
    except Exception as exc:  # PyAV raises many error types for bad input; all mean "unreadable"
        raise AudioDecodeError(_why_undecodable(exc)) from exc
    if duration is None or rate <= 0:
        audio, native = load_audio(path)
        return AudioInfo(native, max(channels, 1), len(audio) / native, codec)
    return AudioInfo(rate, max(channels, 1), duration, codec)


def _import_av():
    import av  # imported lazily: only needed for compressed formats

    return av


def _soundfile_blocks(path: Path) -> tuple[int, int, Iterator[np.ndarray]]:
    handle = sf.SoundFile(str(path))
    rate = handle.samplerate

    def blocks() -> Iterator[np.ndarray]:
        with handle:
            block = max(1, int(_BLOCK_SECONDS * rate))
            while True:
                data = handle.read(block, dtype="float32", always_2d=True)
                if len(data) == 0:
                    return
                yield data.mean(axis=1)

    return rate, handle.channels, blocks()


def _pyav_blocks(path: Path) -> tuple[int, int, Iterator[np.ndarray]]:
    av = _import_av()
    container = av.open(str(path))
    if not container.streams.audio:
        container.close()
        raise AudioDecodeError("it holds no audio stream (it may be an image, a document or a silent video)")
    stream = container.streams.audio[0]
    rate = int(stream.codec_context.sample_rate or 0)
    channels = max(1, int(stream.codec_context.channels or 0))
    if rate <= 0:
        container.close()
        raise AudioDecodeError("the audio stream declares no sample rate")
    # Only the sample format is converted here (to planar float); channels and rate stay as they are
    # so that downmixing and resampling are ours (plain mean, soxr).
    to_float = av.AudioResampler(format="fltp")

    def blocks() -> Iterator[np.ndarray]:
        with container:
            pending: list[np.ndarray] = []
            pending_len = 0
            for frame in container.decode(stream):
                if frame.sample_rate != rate:
                    raise AudioDecodeError("the sample rate changes inside the stream")
                for converted in to_float.resample(frame):
                    planes = converted.to_ndarray()  # (channels, samples)
                    mono = planes.mean(axis=0, dtype=np.float32) if planes.ndim == 2 else planes
                    pending.append(mono.astype(np.float32, copy=False))
                    pending_len += len(mono)
                if pending_len >= _BLOCK_SECONDS * rate:
                    yield np.concatenate(pending)
                    pending, pending_len = [], 0
            if pending:
                yield np.concatenate(pending)

    return rate, channels, blocks()


def open_blocks(path: str | Path) -> tuple[int, int, Iterator[np.ndarray]]:
    """(native sample rate, channel count, iterator of mono float32 blocks of about ten seconds)."""
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError("the file is missing")
    if _is_soundfile_path(path):
        try:
            return _soundfile_blocks(path)
        except (RuntimeError, sf.LibsndfileError):
            pass  # e.g. a .wav holding a codec libsndfile does not know: FFmpeg may
    try:
        return _pyav_blocks(path)
    except AudioDecodeError:
        raise
    except Exception as exc:
        raise AudioDecodeError(_why_undecodable(exc)) from exc


def iter_audio(path: str | Path, sr: int | None = None) -> tuple[int, Iterator[np.ndarray]]:
    """Stream a file as mono float32 blocks at `sr` (native rate when None): (rate, blocks).

    Decoding errors met mid-stream are raised as AudioDecodeError from the iterator."""
    native, _channels, blocks = open_blocks(path)
    out_rate = native if sr is None else int(sr)

    def stream() -> Iterator[np.ndarray]:
        resampler = None if out_rate == native else soxr.ResampleStream(native, out_rate, 1, dtype="float32", quality="HQ")
        try:
            for block in blocks:
                if resampler is None:
                    yield block
                else:
                    out = resampler.resample_chunk(block)
                    if len(out):
                        yield out
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
                if len(tail):
                    yield tail
        except AudioDecodeError:
            raise
        except Exception as exc:
            raise AudioDecodeError(_why_undecodable(exc)) from exc

    return out_rate, stream()


def load_audio(path: str | Path, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file to mono float32 at `sr` (native rate when None). Raises AudioDecodeError."""
    rate, blocks = iter_audio(path, sr)
    parts = list(blocks)
    if not parts or sum(len(p) for p in parts) == 0:
        raise AudioDecodeError("the file holds no audio samples")
    audio = np.concatenate(parts).astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        raise AudioDecodeError("the audio contains non-finite samples")
    return audio, rate


def check_audio(path: str | Path) -> tuple[int, int]:
    """Is this a file we can decode? Opens it the way the analyser will and decodes its first block
    (about ten seconds), so a file that is not audio, or whose header lies (0 channels, 0 Hz, no
    samples), is caught in milliseconds whatever its length. Returns (native rate, channels); raises
    AudioDecodeError saying what is wrong."""
    native, channels, blocks = open_blocks(path)
    try:
        first = next(blocks, None)
    except AudioDecodeError:
        raise
    except Exception as exc:
        raise AudioDecodeError(_why_undecodable(exc)) from exc
    finally:
        blocks.close()  # type: ignore[attr-defined]  (a generator: closes the decoder)
    if first is None or len(first) == 0:
        raise AudioDecodeError("the file holds no audio samples")
    if not np.isfinite(first).all():
        raise AudioDecodeError("the audio contains non-finite samples")
    return native, channels


@dataclass
class DecodedAudio:
    """One decode of a file, resampled to several rates at once, with what was measured on the way."""

    native_rate: int
    channels: int
    signals: dict[int, np.ndarray]  # rate -> mono float32
    clipping_fraction: float  # measured at the native rate, before any resampling blurs plateaus

    @property
    def duration_s(self) -> float:
        rate, audio = next(iter(self.signals.items()))
        return len(audio) / rate


def decode(path: str | Path, rates: list[int] | tuple[int, ...]) -> DecodedAudio:
    """Decode once, streaming: downmix, resample to each of `rates` (soxr HQ), and measure clipping
    at the native rate. Memory holds the outputs only, never the native-rate file."""
    native, channels, blocks = open_blocks(path)
    streams = {r: (None if r == native else soxr.ResampleStream(native, r, 1, dtype="float32", quality="HQ")) for r in rates}
    parts: dict[int, list[np.ndarray]] = {r: [] for r in rates}
    clip = _ClippingCounter()
    try:
        for block in blocks:
            if not np.isfinite(block).all():
                raise AudioDecodeError("the audio contains non-finite samples")
            clip.add(block)
            for r, stream in streams.items():
                parts[r].append(block if stream is None else stream.resample_chunk(block))
        for r, stream in streams.items():
            if stream is not None:
                parts[r].append(stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    except AudioDecodeError:
        raise
    except Exception as exc:
        raise AudioDecodeError(_why_undecodable(exc)) from exc
    signals = {r: (np.concatenate(p) if p else np.zeros(0, np.float32)).astype(np.float32, copy=False) for r, p in parts.items()}
    if clip.samples == 0:
        raise AudioDecodeError("the file holds no audio samples")
    return DecodedAudio(native, channels, signals, clip.fraction())


class _ClippingCounter:
    """clipping_fraction() over a stream: per block, the plateau count at that block's own peak; at
    the end only blocks whose peak is the global peak count (a plateau sits at the global extreme)."""

    def __init__(self) -> None:
        self.samples = 0
        self._blocks: list[tuple[float, int]] = []

    def add(self, block: np.ndarray) -> None:
        if len(block):
            self._blocks.append((float(np.max(np.abs(block))), round(clipping_fraction(block) * len(block))))
            self.samples += len(block)

    def fraction(self) -> float:
        if not self._blocks or self.samples == 0:
            return 0.0
        peak = max(p for p, _ in self._blocks)
        if peak < 1e-4:
            return 0.0
        return sum(c for p, c in self._blocks if p >= peak * 0.999) / self.samples


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality (soxr VHQ) resampling of mono float audio."""
    audio = np.asarray(audio, dtype=np.float32)
    if sr_in == sr_out or len(audio) == 0:
        return audio
    return soxr.resample(audio, sr_in, sr_out, quality="VHQ").astype(np.float32, copy=False)


# --- level -------------------------------------------------------------------------------------


def peak_dbfs(audio: np.ndarray) -> float:
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def loudness_lufs(audio: np.ndarray, sr: int) -> float | None:
    """Integrated loudness (ITU-R BS.1770 / EBU R128) or None when undefined (shorter than one
    400 ms gating block, or every block below the absolute gate, i.e. silence)."""
    if len(audio) < int(LOUDNESS_BLOCK_S * sr) + 1:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns on possible clipping; we measure that ourselves
        value = pyloudnorm.Meter(sr).integrated_loudness(np.asarray(audio, dtype=np.float64))
    return float(value) if math.isfinite(value) else None


def _rms_dbfs_active(audio: np.ndarray, sr: int) -> float | None:
    """RMS level of the louder half of 20 ms frames: a loudness stand-in for clips too short for R128."""
    frame = max(1, int(0.02 * sr))
    n = len(audio) // frame
    if n == 0:
        return None
    power = np.mean(audio[: n * frame].reshape(n, frame).astype(np.float64) ** 2, axis=1)
    active = power[power >= np.median(power)]
    level = float(np.mean(active))
    return 10 * math.log10(level) if level > 1e-12 else None


def normalize_loudness(
    audio: np.ndarray, sr: int, target_lufs: float = TARGET_LUFS, max_peak: float = 0.98
) -> np.ndarray:
    """Scale to `target_lufs` integrated loudness, lowering the gain if the peak would pass
    `max_peak` (a gain change only: no limiter, so nothing is distorted). Silence is returned as is;
    clips under 400 ms are levelled by the RMS of their active frames instead (≈ LUFS for speech)."""
    audio = np.asarray(audio, dtype=np.float32)
    level = loudness_lufs(audio, sr)
    if level is None:
        level = _rms_dbfs_active(audio, sr)
    if level is None:
        return audio
    gain = 10 ** ((target_lufs - level) / 20)
    peak = float(np.max(np.abs(audio)))
    if peak * gain > max_peak:
        gain = max_peak / peak
    return (audio * gain).astype(np.float32)


# --- checks ------------------------------------------------------------------------------------


def clipping_fraction(audio: np.ndarray) -> float:
    """Fraction of samples sitting on a clipping plateau.

    A clipped recording piles samples up at its extreme value; natural speech reaches its peak for a
    sample or two. So we count samples within 0.1% of the peak magnitude that have a neighbour also
    there (runs of two or more): measured 0 to 2e-5 on clean real speech, ~1e-2 and up when a clip is
    driven 2x into full scale. Clipping after lossy coding blurs the plateau and is undercounted.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if len(audio) < 2:
        return 0.0
    magnitude = np.abs(audio)
    peak = float(magnitude.max())
    if peak < 1e-4:
        return 0.0
    at_peak = magnitude >= peak * 0.999
    in_run = at_peak & (np.r_[at_peak[1:], False] | np.r_[False, at_peak[:-1]])
    return float(in_run.sum()) / len(audio)


def frame_power_db(audio: np.ndarray, sr: int, frame_s: float = 0.032) -> np.ndarray:
    """Mean power per non-overlapping frame, in dB (floor -120 dB)."""
    frame = max(1, int(round(frame_s * sr)))
    n = len(audio) // frame
    if n == 0:
        return np.zeros(0)
    power = np.mean(np.asarray(audio[: n * frame], dtype=np.float64).reshape(n, frame) ** 2, axis=1)
    return 10 * np.log10(np.maximum(power, 1e-12))


SNR_CAP_DB = 60.0


def estimate_snr_db(audio: np.ndarray, sr: int, speech_mask: np.ndarray | None = None, frame_s: float = 0.032) -> float | None:
    """Signal-to-noise ratio estimate in dB, capped at 60 (digital silence between words).

    Noise power: with a per-frame `speech_mask` (e.g. the VAD's, frames of `frame_s`) and at least
    10 non-speech frames (not counting 3 frames either side of speech), the median power of those
    frames, but never more than the 3rd percentile of 10 ms frame powers; without a mask or pauses,
    that percentile alone (it lands in stop closures and breaths). Signal power: the mean of the
    speech frames (or of all frames) minus the noise. Measured on 100 real clips (4 speakers) with
    white noise added at 0-30 dB: medians 0.6-1.3 dB high with pauses (the percentile cap reads the
    noise a little low); speech only, no pauses: medians within 0.7 dB, worst decile 2.5 dB low at
    30 dB. Clean corpus clips: 5th percentile 31 dB. None when there is no signal at all.
    """
    power = 10 ** (frame_power_db(audio, sr, frame_s) / 10)
    if len(power) == 0:
        return None
    mask = None
    if speech_mask is not None:
        mask = np.zeros(len(power), dtype=bool)
        given = np.asarray(speech_mask, dtype=bool)[: len(power)]
        mask[: len(given)] = given
    if mask is not None:
        # Frames next to speech hold onsets and trailing breaths the VAD left out: keep 3 frames off.
        guard = mask.copy()
        for shift in range(1, 4):
            guard[shift:] |= mask[:-shift]
            guard[:-shift] |= mask[shift:]
    short = 10 ** (frame_power_db(audio, sr, 0.01) / 10)
    floor = float(np.percentile(short, 3))
    if mask is not None and mask.sum() >= 3 and (~guard).sum() >= 10:
        # The VAD sometimes starts late on a clip's first word (short 8 kHz prompts): that speech
        # would count as noise. The noise floor can be no louder than the quietest 10 ms frames.
        noise = min(float(np.median(power[~guard])), floor)
        signal = float(np.mean(power[mask]))
    else:
        noise, signal = floor, float(np.mean(short))
    if signal <= 1e-11:
        return None
    if noise <= 1e-12:
        return SNR_CAP_DB
    clean = signal - noise
    if clean <= 0:
        return 0.0
    return float(min(SNR_CAP_DB, 10 * math.log10(clean / noise)))


# --- pitch -------------------------------------------------------------------------------------

_F0_RATE = 8000  # enough for F0 up to 500 Hz; 4x cheaper than 16 kHz


def f0_track(
    audio: np.ndarray, sr: int, fmin: float = 60.0, fmax: float = 500.0, hop_s: float = 0.01, threshold: float = 0.15
) -> np.ndarray:
    """F0 in Hz per 10 ms frame with the YIN method (NaN where unvoiced), computed at 8 kHz.

    Frames are 40 ms; the cumulative-mean-normalised difference function is evaluated for all frames
    at once with FFTs, the first dip below `threshold` (else none: unvoiced) is refined by parabolic
    interpolation. Quiet frames (40 dB under the loudest) are unvoiced.
    """
    x = resample(np.asarray(audio, dtype=np.float32), sr, _F0_RATE) if sr != _F0_RATE else np.asarray(audio, np.float32)
    window = int(0.04 * _F0_RATE)
    hop = int(hop_s * _F0_RATE)
    tau_min = max(2, int(_F0_RATE / fmax))
    tau_max = int(_F0_RATE / fmin)
    span = window + tau_max
    if len(x) < span:
        return np.zeros(0)
    n_frames = 1 + (len(x) - span) // hop
    out = np.full(n_frames, np.nan)
    # Process in batches to bound memory on long inputs.
    for first in range(0, n_frames, 2000):
        idx = np.arange(first, min(n_frames, first + 2000))
        starts = idx * hop
        frames = x[starts[:, None] + np.arange(span)[None, :]].astype(np.float64)
        out[idx] = _yin_frames(frames, window, tau_min, tau_max, threshold)
    return out


def _yin_frames(frames: np.ndarray, window: int, tau_min: int, tau_max: int, threshold: float) -> np.ndarray:
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1] + window)))
    head = frames[:, :window]
    # r(tau) = sum_j x[j] x[j+tau] over the window, for all tau at once.
    cross = np.fft.irfft(np.conj(np.fft.rfft(head, n_fft)) * np.fft.rfft(frames, n_fft), n_fft)[:, : tau_max + 1]
    squares = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    energy_0 = squares[:, window] - squares[:, 0]
    taus = np.arange(tau_max + 1)
    energy_tau = squares[:, taus + window] - squares[:, taus]
    diff = np.maximum(energy_0[:, None] + energy_tau - 2 * cross, 0.0)
    cumulative = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(cumulative, 1e-12)

    segment = cmnd[:, tau_min:tau_max]
    below = segment < threshold
    loud = energy_0 > energy_0.max() * 1e-4
    voiced = below.any(axis=1) & loud
    # The period is the bottom of the first dip under the threshold (not the global minimum, which
    # would favour octave errors): mask everything outside that first contiguous run, take argmin.
    first = np.argmax(below, axis=1)
    positions = np.arange(segment.shape[1])[None, :]
    after = positions >= first[:, None]
    left_run = np.cumsum(after & ~below, axis=1) > 0
    tau = np.argmin(np.where(after & ~left_run, segment, np.inf), axis=1) + tau_min
    tau = np.clip(tau, 1, cmnd.shape[1] - 2)
    rows = np.arange(len(frames))
    a, b, c = cmnd[rows, tau - 1], cmnd[rows, tau], cmnd[rows, tau + 1]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    return np.where(voiced, _F0_RATE / (tau + np.clip(shift, -1, 1)), np.nan)


def _voiced_summary(f0: np.ndarray) -> dict[str, float] | None:
    voiced = f0[np.isfinite(f0)]
    if len(voiced) < 20:
        return None
    semitones = 12 * np.log2(voiced)
    mad = float(np.median(np.abs(semitones - np.median(semitones))))
    return {
        "median_hz": float(np.median(voiced)),
        "spread_semitones": 1.4826 * mad,
        "p5_hz": float(np.percentile(voiced, 5)),
        "p95_hz": float(np.percentile(voiced, 95)),
        "voiced_fraction": len(voiced) / len(f0),
    }


def f0_stats(audio: np.ndarray, sr: int) -> tuple[float, float]:
    """(median F0 in Hz, spread in semitones) over voiced frames; (nan, nan) with under 20 voiced
    frames. Spread is the robust standard deviation (1.4826 x MAD) of 12*log2(F0): a speaker's
    intonation range that octave errors of a few frames do not inflate."""
    summary = _voiced_summary(f0_track(audio, sr))
    if summary is None:
        return math.nan, math.nan
    return summary["median_hz"], summary["spread_semitones"]


def pitch_summary(audio: np.ndarray, sr: int) -> dict[str, float] | None:
    """median_hz, spread_semitones, p5_hz, p95_hz (the pitch range), voiced_fraction, and
    sustained_fraction (see `sustained_pitch_fraction`); None with under 20 voiced frames."""
    f0 = f0_track(audio, sr)
    summary = _voiced_summary(f0)
    if summary is not None:
        summary["sustained_fraction"] = sustained_pitch_fraction(f0)
    return summary


def sustained_pitch_fraction(f0: np.ndarray, hop_s: float = 0.01, min_run_s: float = 0.4, tolerance_st: float = 0.5) -> float:
    """Share of voiced frames inside runs of at least `min_run_s` whose pitch stays within
    `tolerance_st` semitones of the run's median: held notes. Speech glides between syllables and
    rarely holds a pitch for 0.4 s; sung or played notes do (a music cue that the VAD can miss)."""
    voiced = np.isfinite(f0)
    if voiced.sum() == 0:
        return 0.0
    semitones = np.where(voiced, 12 * np.log2(np.where(voiced, f0, 1.0)), np.nan)
    min_run = max(2, int(round(min_run_s / hop_s)))
    sustained = 0
    i = 0
    n = len(f0)
    while i < n:
        if not voiced[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and voiced[j + 1] and abs(semitones[j + 1] - semitones[i]) <= tolerance_st:
            j += 1
        if j - i + 1 >= min_run:
            sustained += j - i + 1
            i = j + 1
        else:
            i += 1
    return sustained / int(voiced.sum())
