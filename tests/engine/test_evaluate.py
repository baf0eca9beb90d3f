"""The held-out report: floor/ceiling/gap arithmetic, JSON safety, and real measurements of a stock
voice against real held-out utterances of allison_en."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import soundfile as sf

from tests.engine.adapt_data import corpus_rows, load_clips
from voicesmith.engine import likeness, style_space
from voicesmith.engine.audio import load_audio
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


def _ev(sim: float, wer: float | None = 0.05, mfcc: float = 20.0, ltas: float = 4.0, f0: float = 2.0,
        quality: float | None = 3.0) -> VoiceEvaluation:
    return VoiceEvaluation(sim, [sim], wer, 200.0, 12.0,
                           distances={"mfcc_frechet": mfcc, "ltas_db": ltas, "f0_semitones": f0}, quality=quality)


def test_report_figures_and_json_safety():
    class Held:  # the fields build_report reads
        texts = ["a", "b", "c"]
        source_rate = 8000
        language = "it"
        real_wer = None
        ceiling = 0.9
        stats = type("S", (), {"f0_median_hz": 110.0, "rate_pps": math.nan})()
        likeness_ceiling = {"mfcc_frechet": 2.0, "ltas_db": 1.0, "f0_semitones": 0.25}
        likeness_ceiling_what = "held-out real recordings vs training real recordings"
        real_features = type("F", (), {"quality": 3.2})()
        train_quality = 3.1

    stock = {"p1": _ev(0.6, None, mfcc=30.0, ltas=3.0, f0=math.nan, quality=2.8),
             "p2": _ev(0.7, None, mfcc=20.0, ltas=5.0, f0=2.25, quality=3.0)}
    report = build_report(Held(), stock, _ev(0.72, None, mfcc=15.0), "stock p2",
                          [("match", "X — closest match", _ev(0.85, None, mfcc=11.0, ltas=2.0, f0=1.25, quality=3.3))])
    json.dumps(report, allow_nan=False)
    assert report["floor"] == {"voice": "p2", "similarity": 0.7}
    assert report["voices"][0]["gap_closed"] == pytest.approx(0.75)
    assert report["start_point"]["gap_closed"] == pytest.approx(0.1)
    assert report["comparison_rate_hz"] == 8000
    assert report["speaker"]["rate_phones_per_s"] is None  # NaN never reaches JSON
    assert "English-only" in report["wer_note"]
    # The independent measures: each distance's floor is the stock voice closest on it (a NaN never wins).
    assert report["optimised"] == "resemblyzer"
    measures = report["likeness"]
    assert measures["mfcc_frechet"]["floor"] == {"voice": "p2", "value": 20.0}
    assert measures["ltas_db"]["floor"] == {"voice": "p1", "value": 3.0}
    assert measures["f0_semitones"]["floor"] == {"voice": "p2", "value": 2.25}
    assert measures["f0_semitones"]["stock"]["p1"] is None
    assert measures["mfcc_frechet"]["ceiling"]["value"] == 2.0 and "training" in measures["ltas_db"]["ceiling"]["what"]
    assert measures["mfcc_frechet"]["in_search"].startswith("not optimised")
    assert (measures["quality_dnsmos"]["stock_mean"], measures["quality_dnsmos"]["real_held_out"],
            measures["quality_dnsmos"]["real_training"]) == (2.9, 3.2, 3.1)
    voice = report["voices"][0]["likeness"]
    assert voice["mfcc_frechet"] == {"value": 11.0, "gap_closed": pytest.approx(0.5)}  # (20-11)/(20-2)
    assert voice["ltas_db"]["gap_closed"] == pytest.approx(0.5)  # (3-2)/(3-1)
    assert voice["f0_semitones"]["gap_closed"] == pytest.approx(0.5)  # (2.25-1.25)/(2.25-0.25)
    assert voice["quality_dnsmos"] == {"value": 3.3}
    assert report["start_point"]["likeness"]["mfcc_frechet"]["gap_closed"] == pytest.approx(5 / 18, abs=1e-3)


def test_held_out_set_measures_the_likeness_ceiling_on_training_recordings_or_on_its_halves(speech_data):
    rows = [r for r in corpus_rows(speech_data, "allison_en") if 1.5 <= float(r["seconds"]) <= 5.0][:12]
    clips = [load_audio(speech_data / r["path"], 24000)[0] for r in rows]
    texts = [r["text"] for r in rows]

    def held_out(train_clips, n=6):  # Italian: no speech recogniser runs; the embeddings are not under test
        return HeldOutSet.from_recordings(clips[:n], 24000, texts[:n], texts[:n], np.zeros(256, np.float32), 16000,
                                          "it", embeddings=np.zeros((n, 256), np.float32), train_clips=train_clips)

    with_training = held_out(clips[6:])
    assert "training" in with_training.likeness_ceiling_what
    assert set(with_training.likeness_ceiling) == set(likeness.DISTANCES)
    assert all(0 < v < 10 for v in with_training.likeness_ceiling.values()), with_training.likeness_ceiling
    assert 2.0 < with_training.real_features.quality < 4.5 and 2.0 < with_training.train_quality < 4.5
    halves = held_out([])
    assert "half" in halves.likeness_ceiling_what and halves.train_quality is None
    assert all(0 < v < 10 for v in halves.likeness_ceiling.values()), halves.likeness_ceiling
    alone = held_out([], n=1)  # nothing to compare one recording with: no ceiling, so no distance is reported
    assert alone.likeness_ceiling == {} and alone.real_features.quality is not None


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
    assert set(ev.distances) == set(likeness.DISTANCES) and all(v > 0 for v in ev.distances.values())
    assert 1.0 < ev.quality < 5.0
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
