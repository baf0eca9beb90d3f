"""The speaker encoder as a loss: Resemblyzer's embedding of a waveform, differentiable, against a centroid.

The bespoke decoder's reconstruction loss pulls each recording's spectrum towards the recording's, but on its own
it let the adapter drift from the likeness the style search had won (session 10: the searched closest match lost
21 to 59 points of the Resemblyzer gap through the adapted decoder). This term keeps the speaker encoder's view
in the objective, as one term among several, as StyleTTS 2's and most voice-cloning fine-tunes do.

It is the same encoder (weights, mel front end, partial utterances) as `engine/speaker.py`, rebuilt in torch so
gradients reach the decoder: the waveform at the decoder's 24 kHz is framed with a 25 ms window and a 10 ms hop,
which at 24 kHz gives the same 40 Hz bins as Resemblyzer's 16 kHz front end, so its mel filters apply unchanged;
bins above the dataset's band are dropped, as comparing at the dataset's rate does. What it leaves out:
Resemblyzer's silence trimming (a voice-activity detector, not differentiable); training clips are short and
trimmed already. `tests/engine/test_speaker_loss.py` measures how close it comes to `speaker.embed_utterance`.

Because training then optimises Resemblyzer, the report's Resemblyzer figure is no longer independent evidence
for a bespoke voice: the likeness measures the training never sees (MFCC, long-term spectrum, F0, predicted
quality, Whisper) are (docs/fine-tune.md).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ENCODER_RATE = 16_000  # Resemblyzer's
WINDOW_S, HOP_S = 0.025, 0.010
PARTIAL_FRAMES = 160  # 1.6 s partial utterances
PARTIAL_STEP = 77  # frames between partials: Resemblyzer's rate of 1.3 partials a second
MIN_COVERAGE = 0.75  # a last partial is kept when the utterance fills this much of it
TARGET_DBFS = -30.0  # quieter waveforms are raised to this level first (Resemblyzer's increase-only rule)


class SpeakerLoss:
    """`loss(audio)`: 1 - cosine between the embedding of `audio` ([n] or [1, n] at `sample_rate`) and `centroid`."""

    def __init__(self, centroid: np.ndarray, sample_rate: int, band_hz: float) -> None:
        import librosa
        from resemblyzer import VoiceEncoder

        self.encoder = VoiceEncoder(device="cpu", verbose=False).eval().requires_grad_(False)
        self.centroid = torch.tensor(np.asarray(centroid, np.float32).ravel())
        self.centroid = self.centroid / self.centroid.norm()
        self.n_fft, self.hop = round(sample_rate * WINDOW_S), round(sample_rate * HOP_S)
        filters = librosa.filters.mel(sr=sample_rate, n_fft=self.n_fft, n_mels=40, fmax=ENCODER_RATE / 2)
        freqs = np.fft.rfftfreq(self.n_fft, 1 / sample_rate)
        filters[:, freqs > band_hz] = 0.0
        # The same span of sound in longer windows has more power; this many more samples per window than
        # Resemblyzer's (the scale factor is checked against the encoder in the tests).
        self.filters = torch.tensor(filters, dtype=torch.float32) / (sample_rate / ENCODER_RATE) ** 2
        self.window = torch.hann_window(self.n_fft)

    def embed(self, audio: torch.Tensor) -> torch.Tensor:
        """[256] unit-norm embedding of one utterance."""
        wav = audio.reshape(-1)
        rms = wav.pow(2).mean().clamp_min(1e-12).sqrt()
        target = 10 ** (TARGET_DBFS / 20)
        if float(rms.detach()) < target:
            wav = wav * (target / rms)
        frames = _partials(len(wav), self.hop)
        needed = (frames[-1] + PARTIAL_FRAMES) * self.hop
        if needed >= len(wav):
            wav = F.pad(wav, (0, needed - len(wav)))
        power = torch.stft(wav, self.n_fft, self.hop, window=self.window, center=True, pad_mode="constant",
                           return_complex=True).abs().pow(2)
        mel = (self.filters @ power).T  # [frames, 40]
        partials = torch.stack([mel[i:i + PARTIAL_FRAMES] for i in frames])
        embedding = self.encoder(partials).mean(dim=0)
        return embedding / embedding.norm()

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        return 1.0 - self.embed(audio) @ self.centroid


def _partials(n_samples: int, hop: int) -> list[int]:
    """First frames of the partial utterances of `n_samples` samples, as Resemblyzer slices an utterance."""
    n_frames = -(-(n_samples + 1) // hop)
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + PARTIAL_STEP + 1), PARTIAL_STEP))
    coverage = (n_samples - starts[-1] * hop) / (PARTIAL_FRAMES * hop)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts
