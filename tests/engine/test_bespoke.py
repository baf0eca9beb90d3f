"""engine/bespoke.py: the fine-tune's bespoke stage (splitting the pool, the bespoke voice, the guard's verdicts,
and training that a killed process resumes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.engine.adapt_data import START_PACK
from tests.engine.bespoke_child import PLAN, centroid, pool
from voicesmith.engine import bespoke
from voicesmith.engine.adapt import PITCH_LIMITS
from voicesmith.engine.kokoro import weights
from voicesmith.engine.voice import PROSODY, TIMBRE, VoiceArtifact
from voicesmith.engine.voice_set import BuiltVoice, Hearing

CHILD = Path(__file__).with_name("bespoke_child.py")
REPO = Path(__file__).resolve().parents[2]


def _recordings(n: int) -> list[bespoke.Recording]:
    return [bespoke.Recording(f"p{i}", lambda: np.zeros(16000, np.float32), 16000) for i in range(n)]


def test_the_pool_splits_into_disjoint_training_and_early_stopping_recordings() -> None:
    pool = _recordings(30)
    train, held = bespoke.split(pool, bespoke.BespokePlan(steps=10, clips=12, held=5))
    names = lambda rs: [r.phonemes for r in rs]  # noqa: E731
    assert len(train) == 12 and len(held) == 5
    assert not set(names(train)) & set(names(held))
    # Both spread over the whole pool (recordings of a session drift: neither set may be one end of it).
    for part in (train, held):
        index = [int(r.phonemes[1:]) for r in part]
        assert index[0] <= 3 and index[-1] >= 26, index
    small_train, small_held = bespoke.split(pool[:5], bespoke.BespokePlan(steps=10, clips=12, held=5))
    assert len(small_held) == 2 and len(small_train) == 3  # a small pool: every other recording held out


def test_a_bespoke_voice_keeps_the_searched_prosody_pitch_and_pace_and_takes_the_bespoke_filter() -> None:
    pack = weights.voice_packs()[START_PACK]
    searched = VoiceArtifact(pack, pitch_scale=0.8, speed=1.1, meta={"k": 1},
                             timbre=np.array([[500.0, 2000.0], [1.0, -2.0]], np.float32))
    trained = bespoke.Bespoke({"generator.m": np.ones((4, 3), np.float32)}, np.full(128, 0.5, np.float32))
    voice = trained.voice(searched)
    assert np.array_equal(voice.style[:, PROSODY], searched.style[:, PROSODY])
    assert np.all(voice.style[:, TIMBRE] == 0.5)
    assert (voice.pitch_scale, voice.speed, voice.meta) == (0.8, 1.1, {"k": 1})
    assert voice.timbre is None, "the searched filter was fitted to the stock decoder: not kept"
    assert set(voice.adapter) == {"generator.m"}
    assert VoiceArtifact.from_bytes(voice.to_bytes()).adapter.keys() == voice.adapter.keys()
    assert searched.adapter is None and searched.timbre is not None  # the searched voice is left as it was
    own = np.array([[1000.0, 3000.0], [0.5, 0.5]], np.float32)
    assert np.array_equal(bespoke.Bespoke(trained.adapter, trained.timbre, filter=own).voice(searched).timbre, own)
    # The pitch correction scales the searched voice's pitch scale, within the engine's limits.
    assert bespoke.Bespoke(trained.adapter, trained.timbre, pitch_ratio=1.06).voice(searched).pitch_scale == pytest.approx(0.848)
    assert bespoke.Bespoke(trained.adapter, trained.timbre, pitch_ratio=9.0).voice(searched).pitch_scale == PITCH_LIMITS[1]


def test_the_pitch_ratio_puts_the_bespoke_voice_on_the_speakers_median_f0() -> None:
    assert bespoke.pitch_ratio(200.0, 190.0) == pytest.approx(200 / 190)
    assert bespoke.pitch_ratio(float("nan"), 190.0) == 1.0 and bespoke.pitch_ratio(200.0, float("nan")) == 1.0
    assert bespoke.pitch_ratio(200.0, 0.0) == 1.0


class FakeEars:
    """What the guard hears of each voice (engine/voice_set.py: hear), told apart by pitch scale and adapter."""

    searched = Hearing(error=0.10, similarity=0.80)

    def __init__(self, bespoke: dict[float, Hearing]) -> None:
        self.bespoke = bespoke
        self.heard = 0

    def __call__(self, voice: VoiceArtifact) -> Hearing:
        self.heard += 1
        return self.bespoke[voice.pitch_scale] if voice.adapter is not None else self.searched


def _voices() -> tuple[list[BuiltVoice], bespoke.Bespoke]:
    pack = weights.voice_packs()[START_PACK]
    pitches = {"match": 1.0, "clear": 0.9, "style_a": 0.8, "style_b": 0.7, "extra": 0.6}
    voices = [BuiltVoice(key, key, f"{key}: searched.", VoiceArtifact(pack, pitch_scale=p),
                         {"guard_error": 0.10, "timbre": "searched"}) for key, p in pitches.items()]
    trained = bespoke.Bespoke({"generator.m": np.ones((4, 3), np.float32)}, np.zeros(128, np.float32),
                              {"timbre": "none", "timbre_similarity": {"none": 0.8}})
    return voices, trained


def test_the_spectral_half_allows_the_closest_match_a_little_further_from_the_recordings() -> None:
    edge = 20.0 * (1 + bespoke.MFCC_SLACK)
    assert bespoke.spectrum(15.0, 20.0, 16) == {"mfcc_frechet": 15.0, "searched_mfcc_frechet": 20.0,
                                                "mfcc_frechet_allowed": round(edge, 4), "mfcc_sentences": 16,
                                                "passed": True}
    assert bespoke.spectrum(edge, 20.0, 16)["passed"]
    assert not bespoke.spectrum(edge + 0.01, 20.0, 16)["passed"]


def test_each_voice_uses_the_bespoke_decoder_only_where_no_guard_half_refuses_it(tmp_path) -> None:
    voices, trained = _voices()
    ears = FakeEars({
        1.0: Hearing(0.12, 0.80),  # within the WER slack
        0.9: Hearing(0.10 + bespoke.WER_SLACK, 0.78),  # exactly at both slacks
        0.8: Hearing(0.25, 0.90),  # harder to understand
        0.7: Hearing(0.0, 0.85),  # better on both
        0.6: Hearing(0.20, 0.75),  # less clear and less alike
    })
    (tmp_path / "bespoke").mkdir()
    spectral = bespoke.spectrum(15.0, 20.0, 16)
    chosen = bespoke.choose(voices, trained, ears, "wer", spectral, tmp_path, lambda f, m: None)
    used = {v.key: v.artifact.adapter is not None for v in chosen}
    assert used == {"match": True, "clear": True, "style_a": False, "style_b": True, "extra": False}
    fallback = chosen[2]
    assert fallback.artifact is voices[2].artifact and fallback.description == voices[2].description
    assert fallback.details["bespoke"] == {
        "used": False, "refused_by": ["intelligibility"], "measure": "wer", "guard_error": 0.25,
        "searched_guard_error": 0.1, "allowed": 0.15, "similarity": 0.9, "searched_similarity": 0.8,
        "similarity_allowed": 0.78, "mfcc_frechet": 15.0, "searched_mfcc_frechet": 20.0, "mfcc_frechet_allowed": 22.0}
    assert chosen[4].details["bespoke"]["refused_by"] == ["intelligibility", "similarity"]
    assert chosen[0].details["bespoke"]["refused_by"] == [] and "decoder trained on your recordings" in chosen[0].description
    # Each voice's details name the filter it is heard through: the bespoke decoder's, or the searched one's.
    assert [v.details["timbre"] for v in chosen] == ["none", "none", "searched", "none", "searched"]
    # The verdicts are kept: a resumed fine-tune does not ask Whisper again.
    again = bespoke.choose(voices, trained, ears, "wer", spectral, tmp_path, lambda f, m: None)
    assert ears.heard == 2 * len(voices) and [v.artifact.adapter is not None for v in again] == list(used.values())


def test_a_decoder_further_from_the_recordings_serves_no_voice_whatever_the_other_halves_say(tmp_path) -> None:
    voices, trained = _voices()
    ears = FakeEars({p: Hearing(0.0, 0.95) for p in (1.0, 0.9, 0.8, 0.7, 0.6)})  # clearer and more alike
    (tmp_path / "bespoke").mkdir()
    chosen = bespoke.choose(voices, trained, ears, "wer", bespoke.spectrum(23.0, 20.0, 16), tmp_path,
                            lambda f, m: None)
    assert all(v.artifact is w.artifact for v, w in zip(chosen, voices))
    assert {v.details["bespoke"]["refused_by"][0] for v in chosen} == {"spectrum"}
    assert chosen[0].details["bespoke"]["mfcc_frechet"] > chosen[0].details["bespoke"]["mfcc_frechet_allowed"]
    assert ears.heard == 0  # Whisper and the encoder are not asked: they could not change the verdict


def _child(speech_data: Path, workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(CHILD), str(speech_data), str(workdir)], env=env,
                            stdout=subprocess.PIPE, text=True)


@pytest.mark.timeout(600)
def test_a_killed_training_resumes_from_its_checkpoint_without_aligning_again(speech_data: Path, tmp_path: Path) -> None:
    first = _child(speech_data, tmp_path)
    seen = []
    try:
        for line in first.stdout:
            seen.append(line.strip())
            if line.startswith(f"step {PLAN.eval_every}/"):  # reported after its checkpoint was written
                first.send_signal(signal.SIGKILL)
                break
    finally:
        first.kill()
        first.wait()
    assert seen and seen[-1].startswith(f"step {PLAN.eval_every}/"), seen
    assert any(line.startswith("aligning recording 1 of 6") for line in seen)
    loss_before_kill = float(seen[-1].split("held-out loss ")[1].split()[0])
    assert not (tmp_path / "bespoke" / "result.json").exists()

    second = _child(speech_data, tmp_path)
    lines = [line.strip() for line in second.stdout]
    assert second.wait() == 0, lines
    details = json.loads(lines[-1])
    assert not [line for line in lines if line.startswith("aligning recording")], "the examples were made again"
    steps = [line.split(":")[0] for line in lines if line.startswith("step ")]
    assert steps == [f"step {PLAN.steps}/{PLAN.steps}"], "training went on from its checkpoint, not from step 0"
    assert details["steps_run"] == PLAN.steps
    assert [s for s, _ in details["held_out_loss"]] == [0, PLAN.eval_every, PLAN.steps]
    assert details["held_out_loss"][1][1] == pytest.approx(loss_before_kill, abs=5e-4)
    assert details["held_out_loss"][0][1] > min(v for _, v in details["held_out_loss"][1:]) - 0.5  # sane scale
    # Another run finds the finished adapter and does nothing.
    said: list[str] = []
    recordings = pool(speech_data)
    again = bespoke.train(VoiceArtifact(weights.voice_packs()[START_PACK]), recordings, 16000, PLAN, tmp_path,
                          lambda f, m: said.append(m), lambda: False, centroid=centroid(recordings), threads=2)
    assert said == [] and again.details == details
