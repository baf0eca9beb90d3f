"""Teacher forcing for Kokoro's decoder: what a real recording says its inputs were.

To train the decoder on a speaker's recordings (engine/adapter.py), each recording is turned into the
decoder's inputs for exactly that audio: the text encoder's features aligned to the recording's own
frames, and the recording's real F0 and energy curves. The decoder then has to reproduce the recording
itself, so a reconstruction loss against the real audio is meaningful sample by sample.

Conventions are Kokoro's (checked against the graph's own curves on its own speech, tests/engine/test_teacher.py):
one text frame is 600 samples at 24 kHz; F0 and energy have two values a frame; F0 is in Hz, bridged through
unvoiced frames as Kokoro's own predicted curves are (its harmonic source would treat < 10 Hz as unvoiced, but
the predictor never goes there); energy is the log of the L2 norm of a power mel
spectrogram (80 bands, 2048-point FFT, 1200-sample window, as StyleTTS 2 computed it, filterbank laid out
for 16 kHz).

Alignment: the duration predictor's durations for the text, at the speed that fits the recording's length,
moved by dynamic time warping between Kokoro speaking the text at those durations and the recording, on what
Whisper's encoder hears in each (what was said, not who said it), so each phoneme's frames land on the
recording's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
import onnx
import onnxruntime as ort

from voicesmith.engine.audio import f0_track, resample
from voicesmith.engine.kokoro import graph, runtime
from voicesmith.engine.kokoro.onnx import FRAME_SAMPLES as FRAME  # samples per text frame
from voicesmith.engine.kokoro.onnx import SAMPLE_RATE
from voicesmith.engine.transcribe import ENCODER_HOP_S, Transcriber

CURVE_HOP = FRAME // 2  # samples per F0 / energy value
# f0_track's frames are centred ~22 ms after their start (40 ms window plus half the longest lag at 60 Hz);
# the curve's value j stands for samples [300 j, 300 j + 300). Measured: this offset minimises the pitch
# difference to Kokoro's own curve on its own speech.
_F0_LEAD_S = 0.022


def energy_curve(audio: np.ndarray, values: int) -> np.ndarray:
    """Log mel-norm energy, `values` values at 80 a second, of 24 kHz `audio`."""
    power = np.abs(librosa.stft(audio, n_fft=2048, hop_length=CURVE_HOP, win_length=1200, center=True)) ** 2
    mel = _mel_basis() @ power
    curve = np.log(np.linalg.norm(mel + 1e-5, axis=0))
    return _fit(curve, values, float(curve.min()) if curve.size else 0.0)


def f0_curve(audio: np.ndarray, values: int) -> np.ndarray:
    """F0 in Hz (0 where unvoiced), `values` values at 80 a second, of 24 kHz `audio`."""
    lead = np.zeros(int(_F0_LEAD_S * SAMPLE_RATE), dtype=np.float32)
    f0 = f0_track(np.concatenate([lead, audio]), SAMPLE_RATE, hop_s=CURVE_HOP / SAMPLE_RATE)
    return _fit(np.nan_to_num(f0, nan=0.0), values, 0.0)


def fill_unvoiced(f0: np.ndarray) -> np.ndarray:
    """`f0` with its unvoiced (0) values bridged: log-linear between voiced neighbours, held at the ends.

    Kokoro's prosody predictor never says "unvoiced" (its curves stay above the source's 10 Hz threshold), so
    a decoder trained on curves with gaps would learn for inputs it never gets at synthesis."""
    voiced = np.flatnonzero(f0 > 0)
    if len(voiced) == 0:
        return f0.copy()
    out = np.exp(np.interp(np.arange(len(f0)), voiced, np.log(f0[voiced])))
    return out.astype(np.float32)


def _fit(curve: np.ndarray, values: int, fill: float) -> np.ndarray:
    out = np.full(values, fill, dtype=np.float32)
    n = min(values, len(curve))
    out[:n] = curve[:n]
    return out


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    return librosa.filters.mel(sr=16000, n_fft=2048, n_mels=80, htk=True, norm=None)


Frames = Callable[[np.ndarray], np.ndarray]  # 24 kHz audio -> [features, one column per FRAME samples]


def whisper_frames(transcriber: Transcriber) -> Frames:
    """Whisper's encoder output at the text-frame rate, normalised per recording: the features `warp` aligns on.

    Measured (docs/benchmarks.md, session 9): the stock decoder fed 5 allison_en recordings' teacher-forced inputs
    spoke them at 6.7% Whisper WER when aligned on these, 37.6% when aligned on MFCCs, which carry the speaker."""

    def frames_of(audio: np.ndarray) -> np.ndarray:
        frames = len(audio) // FRAME
        encoded = transcriber.encoder_frames(audio, SAMPLE_RATE)
        at = ((np.arange(frames) + 0.5) * FRAME / SAMPLE_RATE / ENCODER_HOP_S).astype(int)
        m = encoded[np.minimum(at, len(encoded) - 1)].T
        return (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-6)

    return frames_of


def warp(durations: np.ndarray, spoken: np.ndarray, real: np.ndarray, frames_of: Frames) -> np.ndarray:
    """Durations in the real recording's frames of tokens that last `durations` frames in `spoken`.

    Both recordings are 24 kHz; their frames are FRAME samples. The token boundaries in `spoken` are
    carried to `real` along the DTW path between their features (`frames_of`).
    """
    a, b = frames_of(spoken), frames_of(real)
    frames_a, frames_b = a.shape[1], b.shape[1]
    _, path = librosa.sequence.dtw(X=a, Y=b, metric="euclidean")
    mapped = np.zeros(frames_a + 1)
    for i in range(frames_a):
        mapped[i] = path[path[:, 0] == i, 1].min()  # the first real frame matched to spoken frame i
    mapped[frames_a] = frames_b
    edges = np.concatenate([[0], np.cumsum(durations)]).clip(0, frames_a)
    bounds = np.maximum.accumulate(mapped[edges].round().astype(np.int64))
    bounds[0], bounds[-1] = 0, frames_b
    return np.diff(bounds)


def alignment(durations: np.ndarray) -> np.ndarray:
    """[tokens, frames] one-hot: frame f belongs to the token whose duration span holds it."""
    owner = np.repeat(np.arange(len(durations)), durations)
    out = np.zeros((len(durations), len(owner)), dtype=np.float32)
    out[owner, np.arange(len(owner))] = 1.0
    return out


@dataclass
class Example:
    """One recording as the decoder's teacher-forced inputs and target."""

    asr: np.ndarray  # [512, frames] aligned text features
    f0: np.ndarray  # [2 * frames] Hz
    energy: np.ndarray  # [2 * frames]
    audio: np.ndarray  # [600 * frames] the recording at 24 kHz

    @property
    def frames(self) -> int:
        return self.asr.shape[1]


class TextFront:
    """Kokoro's text side on onnxruntime: durations, text features and speech for tokens and a style."""

    OUTPUTS = ("audio", "durations", graph.TEXT_FEATURES_TENSOR)

    def __init__(self, model: onnx.ModelProto, threads: int = 1, transcriber: Transcriber | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # the tapped graph keeps inputs it does not read
        self.session, self.timing = (
            ort.InferenceSession(graph.tap(model, outputs).SerializeToString(), options,
                                 providers=["CPUExecutionProvider"])
            for outputs in (list(self.OUTPUTS), ["durations"]))  # the second skips the decoder: ~20x cheaper
        self.frames_of = whisper_frames(transcriber or Transcriber(threads=threads))

    @staticmethod
    def _feeds(session: ort.InferenceSession, tokens: list[int], style: np.ndarray, speed: float) -> dict:
        wanted = {i.name for i in session.get_inputs()}
        return {k: v for k, v in runtime.feeds(tokens, style, speed, 1.0).items() if k in wanted}

    def run(self, tokens: list[int], style: np.ndarray, speed: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        audio, durations, features = self.session.run(list(self.OUTPUTS), self._feeds(self.session, tokens, style, speed))
        return audio.reshape(-1), durations.reshape(-1), features[0]

    def example(self, tokens: list[int], style: np.ndarray, audio: np.ndarray, sr: int,
                bridge_unvoiced: bool = True) -> Example:
        """The teacher-forced inputs for `audio` (any rate), which speaks `tokens`. The F0 curve is bridged
        through unvoiced frames (`fill_unvoiced`) unless `bridge_unvoiced` is False."""
        real = resample(np.asarray(audio, dtype=np.float32), sr, SAMPLE_RATE) if sr != SAMPLE_RATE else audio
        frames = len(real) // FRAME
        real = real[: frames * FRAME].astype(np.float32)
        (natural,) = self.timing.run(["durations"], self._feeds(self.timing, tokens, style, 1.0))
        speed = float(natural.sum()) / frames  # speak the text in about the recording's time
        spoken, durations, features = self.run(tokens, style, speed)
        durations = warp(durations, spoken, real, self.frames_of)  # the graph speaks exactly sum(durations) frames
        pitch = f0_curve(real, 2 * frames)
        return Example(
            asr=(features @ alignment(durations)).astype(np.float32),
            f0=fill_unvoiced(pitch) if bridge_unvoiced else pitch,
            energy=energy_curve(real, 2 * frames),
            audio=real,
        )
