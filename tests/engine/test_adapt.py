"""Adaptation search: the objective's measurements, the intelligibility guard, and
checkpoint/resume of a real (tiny) search on allison_en sentences."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.engine.adapt_data import load_clips
from voicesmith.engine import style_space
from voicesmith.engine.adapt import (
    AdaptTask,
    Candidate,
    IntelligibilityGuard,
    ObjectiveWeights,
    SearchBudget,
    Sentence,
    adapt,
    allowed_error,
    char_error_rate,
    measure_clips,
)
from voicesmith.engine.rendering import Cancelled, Renderer
from voicesmith.engine.style_space import StyleSpace
from voicesmith.engine.voice_profile import SpeakerProfile, measure



# Real synthesis and recognition: minutes on a busy shared machine, seconds on a free one.
pytestmark = pytest.mark.timeout(900)

def test_char_error_rate_and_allowed_error():
    assert char_error_rate("hello world", "hello world") == 0.0
    assert char_error_rate("abcd", "abXd") == pytest.approx(0.25)
    assert allowed_error(0.0, 0.08) == pytest.approx(0.08)
    assert allowed_error(0.4, 0.08) == pytest.approx(0.6)


@pytest.fixture(scope="module")
def clips(speech_data):
    return load_clips(speech_data, "allison_en", 8)


@pytest.fixture(scope="module")
def sentences(clips):
    from voicesmith.engine.phonemes import phonemize

    return [Sentence.from_recording(c.text, phonemize(c.text, "en"), c.audio, 24000, c.source_rate) for c in clips]


@pytest.fixture(scope="module")
def profile(clips, sentences):
    stats = measure([c.audio for c in clips], 24000, [s.phonemes for s in sentences], 16000,
                    embeddings=np.stack([c.embedding for c in clips]))
    return SpeakerProfile.from_stats(stats, 16000)


@pytest.fixture(scope="module")
def renderer():
    with Renderer(workers=2) as r:
        yield r


@pytest.mark.slow
def test_real_recordings_measure_as_a_perfect_match_of_themselves(clips, sentences, profile):
    """The objective's terms are zero-error for the speaker's own recordings of the same sentences."""
    m = measure_clips([c.audio for c in clips[:3]], 24000, sentences[:3], profile, np.zeros(256), 4.0,
                      ObjectiveWeights(), embeddings=np.stack([c.embedding for c in clips[:3]]))
    assert m.rate_ratio == pytest.approx(1.0)
    assert m.ltas_distance_db == pytest.approx(0.0, abs=1e-9)
    assert m.similarity > 0.75  # own utterances vs own centroid
    assert m.penalties["regulariser"] == 0.0
    assert abs(12 * np.log2(m.f0_median_hz / profile.f0_median_hz)) < 2.5


@pytest.mark.slow
def test_guard_tells_speech_from_a_garbled_voice(sentences, renderer):
    guard = IntelligibilityGuard(sentences[:2], "en", renderer)
    stock = style_space.stock_packs()["jf_alpha"]
    good = guard.check(stock, 1.0, 1.0)
    # Far outside the search bound (40 stock spreads per dimension): what the bound exists to prevent.
    rng = np.random.default_rng(0)
    garbled = stock + (40 * rng.choice([-1.0, 1.0], 256) * style_space.stock_scale())[None, :]
    bad = guard.check(garbled.astype(np.float32), 1.0, 1.0)
    assert good <= 0.25
    assert bad >= 0.5


@pytest.mark.slow
def test_search_checkpoints_every_generation_and_resumes(tmp_path, sentences, profile, renderer):
    task = AdaptTask(
        name="t",
        space=StyleSpace(style_space.stock_packs()["jf_gongitsune"]),
        target=profile,
        sentences=sentences[2:],
        start=Candidate(np.zeros(256), 0.85, 1.0),
        budget=SearchBudget(generations=2, popsize=4, sentences_per_generation=2, guard_every=2),
    )
    guard = IntelligibilityGuard(sentences[:2], "en", renderer)
    calls = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)

    with pytest.raises(Cancelled):
        adapt(task, renderer, guard, tmp_path, progress, should_cancel=lambda: len(calls) >= 1)
    saved = json.loads((tmp_path / "t.json").read_text())
    assert saved["state"]["generation"] == 1 and len(saved["history"]) == 1

    result = adapt(task, renderer, guard, tmp_path, progress, should_cancel=lambda: False)
    assert result.generations == 2
    assert result.history[0] == saved["history"][0]  # generation 1 was not redone
    assert calls == [0.5, 1.0]  # one progress call per generation, across both runs
    assert "guard_error" in result.history[1]
    assert result.guard_error <= allowed_error(result.start_guard_error, task.budget.error_slack)
    assert np.all(np.abs(result.candidate.z) <= task.space.bound)
    assert result.artifact.style.shape == (510, 256)
