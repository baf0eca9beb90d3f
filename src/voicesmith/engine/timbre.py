"""A voice's timbre filter: a gentle equaliser that moves the model's long-term spectrum onto the speaker's.

Why: the style search moves Kokoro's voice a long way, but its long-term average spectrum (tilt, formant
balance, the colour of the speaker's microphone and room) stays partly the model's own. Measured here
(allison_en, 12 held-out sentences, the instant-clone start voice): an equaliser fitted on training
sentences raised held-out speaker similarity from 0.735 to 0.782, about a quarter of the floor-to-ceiling
gap, for the cost of one FIR convolution per chunk.

How: the voice speaks some training sentences; their LTAS (the 24 log-spaced bands of
`voice_profile.ltas_power`, at the dataset's bandwidth) is compared with the real recordings of the same
sentences. The per-band difference, lightly smoothed, bounded to +-`MAX_DB` and normalised so the
filtered speech keeps its power, is the filter. Above the dataset's bandwidth nothing is known, so the
gain returns to 0 dB over an octave: a telephone-rate dataset does not make a telephone-sounding voice.
Applied as a linear-phase FIR, per synthesized chunk (chunks start and end at pauses, so the 10 ms
filter edge falls on near-silence).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from voicesmith.engine.voice_profile import ltas_band_edges, ltas_db

MAX_DB = 12.0
TAPS = 511  # ~21 ms at 24 kHz: resolves ~50 Hz, enough for the lowest band (100-130 Hz)
_TAPER_OCTAVES = 1.0


@dataclass(frozen=True)
class TimbreFilter:
    centres_hz: tuple[float, ...]  # band centres (ascending)
    gains_db: tuple[float, ...]  # gain per band

    @classmethod
    def fit(cls, real_power: np.ndarray, real_frames: int, synth_power: np.ndarray, synth_frames: int,
            rate: int) -> "TimbreFilter":
        """The filter that takes the synthetic LTAS (band powers summed over clips, at comparison rate
        `rate`) to the real one measured on the same sentences."""
        real, synth = ltas_db(real_power, real_frames), ltas_db(synth_power, synth_frames)
        diff = real - synth
        # Light smoothing across neighbouring bands: one sentence set's LTAS is noisy band by band.
        smooth = np.convolve(np.pad(diff, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
        gains = np.clip(smooth, -MAX_DB, MAX_DB)
        # Keep the speech's power: weigh the gains by where the synthetic speech has its energy
        # (mean power per bin times the band's width).
        edges = ltas_band_edges(rate)
        energy = synth_power * np.diff(edges)
        share = energy / max(float(np.sum(energy)), 1e-30)
        gains = gains - 10 * np.log10(max(float(np.sum(share * 10 ** (gains / 10))), 1e-12))
        centres = np.sqrt(edges[:-1] * edges[1:])
        return cls(tuple(float(c) for c in centres), tuple(float(g) for g in gains))

    def to_array(self) -> np.ndarray:
        return np.array([self.centres_hz, self.gains_db], dtype=np.float32)

    @classmethod
    def from_array(cls, array: np.ndarray) -> "TimbreFilter":
        centres, gains = np.asarray(array, dtype=np.float64)
        return cls(tuple(float(c) for c in centres), tuple(float(g) for g in gains))

    def response_db(self, freqs_hz: np.ndarray) -> np.ndarray:
        """Gain in dB at `freqs_hz`: interpolated in log frequency between band centres, flat below
        the first, back to 0 dB over an octave above the last."""
        f = np.maximum(np.asarray(freqs_hz, dtype=np.float64), 1.0)
        centres = np.log2(self.centres_hz)
        top = centres[-1]
        logf = np.log2(f)
        gains = np.interp(logf, centres, self.gains_db)
        above = logf > top
        fade = np.clip(1.0 - (logf[above] - top) / _TAPER_OCTAVES, 0.0, 1.0)
        gains[above] = self.gains_db[-1] * fade
        return gains

    def apply(self, audio: np.ndarray, sr: int) -> np.ndarray:
        audio = np.asarray(audio, dtype=np.float32)
        if len(audio) == 0:
            return audio
        from scipy.signal import oaconvolve

        return oaconvolve(audio, _taps(self, sr), mode="same").astype(np.float32)


@lru_cache(maxsize=64)
def _taps(flt: TimbreFilter, sr: int) -> np.ndarray:
    from scipy.signal import firwin2

    freqs = np.linspace(0.0, sr / 2, 257)
    gains = 10 ** (flt.response_db(freqs) / 20)
    return firwin2(TAPS, freqs / (sr / 2), gains).astype(np.float32)

