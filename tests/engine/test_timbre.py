"""The timbre filter: fitted from two long-term spectra, bounded, power-keeping, flat above the data's band,
and carried by the voice artifact into every synthesized chunk."""

import numpy as np
import pytest
from scipy.signal import lfilter

from voicesmith.engine.timbre import MAX_DB, TimbreFilter
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.engine.voice_profile import ltas_db, ltas_distance_db, ltas_power, ltas_total

SR = 16000


def _noise(seed: int, seconds: float = 4.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def _dark(audio: np.ndarray) -> np.ndarray:
    """A one-pole low-pass: about -12 dB at 4 kHz relative to the low end."""
    return lfilter([0.3], [1.0, -0.7], audio).astype(np.float32)


def _ltas(clips):
    return ltas_db(*ltas_total(clips, SR))


def test_fitted_filter_moves_the_spectrum_onto_the_target():
    real = [_dark(_noise(k)) for k in range(3)]
    synth = [_noise(10 + k) for k in range(3)]
    flt = TimbreFilter.fit(*ltas_total(real, SR), *ltas_total(synth, SR), SR)
    before = ltas_distance_db(_ltas(synth), _ltas(real))
    after = ltas_distance_db(_ltas([flt.apply(c, SR) for c in synth]), _ltas(real))
    assert before > 4.0
    assert after < 0.35 * before
    # The filter darkens (treble cut), as the target asked.
    assert flt.gains_db[-1] < flt.gains_db[0] - 6


def test_filter_is_bounded_and_keeps_the_power():
    synth = _noise(20)
    synth_power, frames = ltas_power(synth, SR)
    asked = np.linspace(30, -30, len(synth_power))  # a 60 dB tilt: far beyond what a voice may take
    flt = TimbreFilter.fit(synth_power * 10 ** (asked / 10), frames, synth_power, frames, SR)
    gains = np.array(flt.gains_db)
    assert gains.max() - gains.min() <= 2 * MAX_DB + 1e-6
    assert gains[0] > gains[-1] + 20  # still the asked direction
    out = flt.apply(synth, SR)
    power_db = 10 * np.log10(np.mean(out**2) / np.mean(synth**2))
    assert abs(power_db) < 1.5


def test_gain_returns_to_flat_above_the_datasets_band():
    # Fitted at an 8 kHz comparison rate: bands stop near 3.6 kHz.
    flt = TimbreFilter(tuple(np.geomspace(110, 3400, 24)), tuple(np.full(24, -8.0)))
    resp = flt.response_db(np.array([50.0, 1000.0, 3400.0, 5000.0, 6800.0, 10000.0]))
    assert resp[0] == pytest.approx(-8.0) and resp[1] == pytest.approx(-8.0)
    assert -8.0 < resp[3] < 0.0  # tapering
    assert resp[4] == pytest.approx(0.0, abs=1e-6) and resp[5] == pytest.approx(0.0, abs=1e-6)


def test_artifact_round_trip_and_versions():
    style = np.zeros((510, 256), dtype=np.float32)
    plain = VoiceArtifact(style)
    assert VoiceArtifact.from_bytes(plain.to_bytes()).timbre is None
    flt = TimbreFilter(tuple(np.geomspace(110, 7000, 24)), tuple(np.linspace(3, -3, 24)))
    filtered = VoiceArtifact(style, timbre=flt.to_array())
    back = VoiceArtifact.from_bytes(filtered.to_bytes())
    np.testing.assert_allclose(back.timbre, flt.to_array())
    tone = np.sin(np.arange(SR) * 2 * np.pi * 5000 / SR).astype(np.float32)
    assert np.mean(back.filter(tone, SR) ** 2) < np.mean(tone**2)  # -3 dB up there
    assert plain.filter(tone, SR) is tone
    with pytest.raises(ValueError):
        VoiceArtifact(style, timbre=np.full((2, 24), np.nan))


def test_synthesizer_applies_the_voices_filter():
    from voicesmith.engine.stock import stock_voices
    from voicesmith.engine.synthesis import get_synthesizer

    synth = get_synthesizer()
    voice = stock_voices()[0].artifact
    centres = np.geomspace(110, 10000, 24)
    dark = VoiceArtifact(voice.style, voice.pitch_scale, voice.speed,
                         timbre=TimbreFilter(tuple(centres), tuple(np.linspace(6, -6, 24))).to_array())
    text = "The weather is lovely today."
    plain_audio = synth.synthesize(text, voice).audio
    dark_audio = synth.synthesize(text, dark).audio
    assert len(dark_audio) == len(plain_audio)
    sr = synth.sample_rate
    plain_ltas, dark_ltas = (ltas_db(*ltas_power(a, sr)) for a in (plain_audio, dark_audio))
    tilt = (dark_ltas - plain_ltas)
    assert tilt[:4].mean() - tilt[-4:].mean() > 6  # the low bands gained on the high ones
