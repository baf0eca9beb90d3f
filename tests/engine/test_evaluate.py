"""The held-out report: floor/ceiling/gap arithmetic, JSON safety, and real measurements of a stock
voice against real held-out utterances of allison_en."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import soundfile as sf

from tests.engine.adapt_data import load_clips
from voicesmith.engine import style_space
from voicesmith.engine.evaluate import HeldOutSet, VoiceEvaluation, build_report, evaluate_voice, gap_closed
from voicesmith.engine.phonemes import phonemize
from voicesmith.engine.rendering import Renderer
from voicesmith.engine.speaker import centroid
from voicesmith.engine.voice import VoiceArtifact



# Real synthesis and recognition: minutes on a busy shared machine, seconds on a free one.
pytestmark = pytest.mark.timeout(900)

def test_gap_closed():
    assert gap_closed(0.8, 0.7, 0.9) == pytest.approx(0.5)
    assert gap_closed(0.65, 0.7, 0.9) == pytest.approx(-0.25)  # worse than the best stock voice
    assert gap_closed(0.8, 0.9, 0.9) is None


def _ev(sim: float, wer: float | None = 0.05) -> VoiceEvaluation:
    return VoiceEvaluation(sim, [sim], wer, 200.0, 12.0)


def test_report_figures_and_json_safety():
    class Held:  # the fields build_report reads
        texts = ["a", "b", "c"]
        source_rate = 8000
        language = "it"
        real_wer = None
        ceiling = 0.9
        stats = type("S", (), {"f0_median_hz": 110.0, "rate_pps": math.nan})()

    report = build_report(Held(), {"p1": _ev(0.6, None), "p2": _ev(0.7, None)}, _ev(0.72, None), "stock p2",
                          [("match", "X — closest match", _ev(0.85, None))])
    json.dumps(report, allow_nan=False)
    assert report["floor"] == {"voice": "p2", "similarity": 0.7}
    assert report["voices"][0]["gap_closed"] == pytest.approx(0.75)
    assert report["start_point"]["gap_closed"] == pytest.approx(0.1)
    assert report["comparison_rate_hz"] == 8000
    assert report["speaker"]["rate_phones_per_s"] is None  # NaN never reaches JSON
    assert "English-only" in report["wer_note"]


@pytest.fixture(scope="module")
def held(speech_data):
    clips = load_clips(speech_data, "allison_en", 12)
    train, test = clips[::2], clips[1::2][:4]
    return HeldOutSet.from_recordings(
        [c.audio for c in test], 24000, [c.text for c in test], [phonemize(c.text, "en") for c in test],
        centroid(np.stack([c.embedding for c in train])), 16000, "en",
        embeddings=np.stack([c.embedding for c in test]),
    )


@pytest.mark.slow
def test_held_out_set_measures_the_real_speaker(held):
    assert 0.7 < held.ceiling <= 1.0
    assert held.real_wer is not None and held.real_wer < 0.3
    assert 150 < held.stats.f0_median_hz < 260  # allison: a female voice around 195 Hz
    assert 8 < held.stats.rate_pps < 20


@pytest.mark.slow
def test_stock_voice_evaluation_is_below_the_ceiling_and_intelligible(held):
    with Renderer(workers=2) as r:
        ev = evaluate_voice(VoiceArtifact(style_space.stock_packs()["jf_alpha"]), held, r, previews=1)
    assert len(ev.similarity_per_utterance) == 4
    assert ev.similarity < held.ceiling
    assert ev.wer is not None and ev.wer < 0.35
    assert ev.f0_median_hz > 0 and ev.rate_pps > 0
    (text, wav), = ev.previews
    audio, sr = sf.read(io.BytesIO(wav))
    assert sr == 24000 and len(audio) > sr // 2 and text in held.texts


def test_samples_are_the_same_short_sentences_for_every_voice_and_the_real_speaker():
    texts = ["Yes.", "A much longer held-out sentence of many words.", "Three short words.", "Four words here now."]
    clips = [np.zeros(n, np.float32) for n in (1000, 9000, 3000, 4000)]
    held = HeldOutSet(texts, texts, None, np.zeros(256, np.float32), 16000, "en", None, clips, 24000)
    # The shortest clips of three words or more, in held-out order ("Yes." is too short to judge a voice by).
    assert held.sample_indices(2) == [2, 3]
    real = held.real_samples(2)
    assert [t for t, _ in real] == ["Three short words.", "Four words here now."]
    audio, sr = sf.read(io.BytesIO(real[1][1]))
    assert sr == 24000 and len(audio) == 4000
    assert held.sample_indices(0) == [] and HeldOutSet(texts, texts, None, None, 16000, "en", None).real_samples(2) == []
