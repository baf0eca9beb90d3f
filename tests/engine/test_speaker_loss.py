"""The differentiable speaker encoder against Resemblyzer itself, on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.engine.adapt_data import corpus_rows
from voicesmith.engine import speaker
from voicesmith.engine.audio import load_audio
from voicesmith.engine.speaker_loss import ENCODER_RATE, SpeakerLoss, _partials
from voicesmith.engine.voice_profile import to_band

RATE = 24_000


def _clips(speech_data: Path, who: str, count: int) -> list[np.ndarray]:
    rows = corpus_rows(speech_data, who)[::37][:count]
    return [load_audio(speech_data / r["path"], RATE)[0] for r in rows]


@pytest.mark.parametrize("n16", [4_000, 25_599, 25_600, 40_000, 41_231, 80_000, 123_457])
def test_partial_utterances_are_resemblyzers(n16: int) -> None:
    from resemblyzer import VoiceEncoder

    _, mel_slices = VoiceEncoder.compute_partial_slices(n16, rate=1.3, min_coverage=0.75)
    assert _partials(n16, ENCODER_RATE // 100) == [s.start for s in mel_slices]
    assert _partials(n16 * 3 // 2, RATE // 100) == [s.start for s in mel_slices]  # the same span at 24 kHz


@pytest.mark.parametrize("who, source_rate", [("allison_en", 16_000), ("carlo_it", 8_000)])
def test_embedding_matches_the_speaker_encoder(speech_data: Path, who: str, source_rate: int) -> None:
    """At the dataset's bandwidth, as the fine-tune compares voices. Measured: cosine 0.985-1.000 (the gap is
    Resemblyzer's silence trimming, which the torch version leaves out)."""
    clips = _clips(speech_data, who, 6)
    reference = [speaker.embed_utterance(to_band(c, RATE, source_rate), source_rate) for c in clips]
    loss = SpeakerLoss(speaker.centroid(np.array(reference)), RATE, source_rate / 2)
    with torch.no_grad():
        ours = [loss.embed(torch.from_numpy(c)).numpy() for c in clips]
    agreement = [float(a @ b) for a, b in zip(ours, reference)]
    assert min(agreement) > 0.98, agreement


def test_its_gradient_moves_audio_towards_the_speaker_as_resemblyzer_hears_it(speech_data: Path) -> None:
    """A few gradient steps on one of carlo_it's clips towards allison_en's centroid raise the real encoder's
    similarity (silence trimming and all), not only the term's own figure."""
    target = speaker.centroid(np.array([speaker.embed_utterance(c, RATE) for c in _clips(speech_data, "allison_en", 6)]))
    clip = _clips(speech_data, "carlo_it", 1)[0]
    loss = SpeakerLoss(target, RATE, 4_000)
    audio = torch.tensor(clip, requires_grad=True)
    optimiser = torch.optim.Adam([audio], lr=1e-3)
    for _ in range(15):
        optimiser.zero_grad()
        loss(audio).backward()
        optimiser.step()
    before = float(speaker.embed_utterance(to_band(clip, RATE, 8_000), 8_000) @ target)
    after = float(speaker.embed_utterance(to_band(audio.detach().numpy(), RATE, 8_000), 8_000) @ target)
    assert after > before + 0.05, (before, after)
