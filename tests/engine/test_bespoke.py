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
from voicesmith.engine.voice_set import BuiltVoice

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


class FakeGuard:
    """Whisper's error for a bespoke voice, told apart by its pitch scale."""

    metric = "wer"

    def __init__(self, bespoke_error: dict[float, float]) -> None:
        self.bespoke_error = bespoke_error  # by pitch scale, which tells the voices apart here
        self.checks = 0

    def check(self, style, speed, pitch_scale, should_cancel=None, adapter=None) -> float:
        self.checks += 1
        assert adapter is not None, "the guard hears the bespoke voice"
        return self.bespoke_error[pitch_scale]


def test_each_voice_uses_the_bespoke_decoder_only_where_it_is_as_intelligible_and_as_like_the_speaker(tmp_path) -> None:
    pack = weights.voice_packs()[START_PACK]
    voices = [BuiltVoice(key, key, f"{key}: searched.", VoiceArtifact(pack, pitch_scale=p),
                         {"guard_error": 0.10, "timbre": "searched"})
              for key, p in (("match", 1.0), ("clear", 0.9), ("style_a", 0.8), ("style_b", 0.7), ("extra", 0.6))]
    trained = bespoke.Bespoke({"generator.m": np.ones((4, 3), np.float32)}, np.zeros(128, np.float32),
                              {"timbre": "none", "timbre_similarity": {"none": 0.8}})
    # Within the WER slack, exactly at it, worse than it, better than the searched voice, and clear but less alike.
    guard = FakeGuard({1.0: 0.12, 0.9: 0.10 + bespoke.WER_SLACK, 0.8: 0.25, 0.7: 0.0, 0.6: 0.0})
    similar = {1.0: 0.80, 0.9: 0.81, 0.8: 0.90, 0.7: 0.79, 0.6: 0.75}  # the bespoke voices'; the searched: 0.80
    likeness = lambda voice: similar[voice.pitch_scale] if voice.adapter is not None else 0.80  # noqa: E731
    (tmp_path / "bespoke").mkdir()
    chosen = bespoke.choose(voices, trained, guard, likeness, tmp_path, lambda f, m: None, lambda: False)
    used = {v.key: v.artifact.adapter is not None for v in chosen}
    assert used == {"match": True, "clear": True, "style_a": False, "style_b": True, "extra": False}
    fallback = chosen[2]
    assert fallback.artifact is voices[2].artifact and fallback.description == voices[2].description
    assert fallback.details["bespoke"] == {
        "used": False, "guard_error": 0.25, "searched_guard_error": 0.1, "allowed": 0.15, "measure": "wer",
        "similarity": 0.9, "searched_similarity": 0.8, "similarity_allowed": 0.78}
    assert chosen[4].details["bespoke"]["similarity"] < chosen[4].details["bespoke"]["similarity_allowed"]
    assert "decoder trained on your recordings" in chosen[0].description
    # Each voice's details name the filter it is heard through: the bespoke decoder's, or the searched one's.
    assert [v.details["timbre"] for v in chosen] == ["none", "none", "searched", "none", "searched"]
    # The verdicts are kept: a resumed fine-tune does not ask Whisper again.
    again = bespoke.choose(voices, trained, guard, likeness, tmp_path, lambda f, m: None, lambda: False)
    assert guard.checks == 5 and [v.artifact.adapter is not None for v in again] == list(used.values())


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
