"""Adapting a Kokoro style to a speaker: a bounded, guarded, resumable search.

What is searched: a 256-d offset shared by all rows of a start pack (see `style_space`), optionally
only some of its dimensions (e.g. the prosody half for a style variant), plus the voice's pitch scale
and speed. How: sep-CMA-ES (`cmaes`), every candidate scored on the same few short training
sentences in a generation. Why not gradients: the shipped model is an int8 ONNX graph; measured when
the model was set up, unbounded gradient descent through a float re-implementation destroyed
intelligibility, while the bounded search closed ~74-79% of the floor->ceiling gap with WER intact.

The score of a candidate (higher is better), all measured at the dataset's source bandwidth:
  similarity   mean Resemblyzer cosine of its clips to the speaker's training centroid (primary)
  - pitch      squared error of median F0 (per 2 semitones) and of F0 spread (per 1.5 semitones)
  - rate       squared log error of phones/s against the real recordings of the same sentences
  - spectrum   LTAS distance in dB to the real recordings of the same sentences (per 4 dB)
  - regulariser  mean squared offset relative to the bound (keeps the style near real voices)
each penalty weighted by `ObjectiveWeights` (0.01 means "a tolerance-sized error costs as much as
0.01 of similarity").

Guard: the search only ever *accepts* a mean that passed an intelligibility check (Whisper tiny.en
on a few fixed training sentences, WER against their transcripts; for languages tiny.en does not
know, the character error rate of its transcription against that of the start voice, i.e. "still
says the same sounds"). A mean that fails is rejected: the search goes back to the last accepted
mean with half the step size. The result is always the last accepted mean.

State is checkpointed to `workdir/<task name>.json` after every generation; a re-run resumes.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voicesmith.engine import speaker, style_space
from voicesmith.engine.audio import f0_stats
from voicesmith.engine.checkpoints import save_json
from voicesmith.engine.cmaes import CMAState, SepCMAES
from voicesmith.engine.rendering import Cancelled, Renderer
from voicesmith.engine.style_space import StyleSpace
from voicesmith.engine.timbre import TimbreFilter
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.engine.wer import edit_distance
from voicesmith.engine.voice_profile import (
    SpeakerProfile,
    active_duration_s,
    comparison_rate,
    ltas_db,
    ltas_distance_db,
    ltas_power,
    ltas_total,
    phone_count,
    to_band,
)

# Pitch and speed are searched in log units: u = 1 moves pitch by 8% and speed by 5%.
PITCH_UNIT = 0.08
SPEED_UNIT = 0.05
PITCH_LIMITS = (0.55, 1.8)
SPEED_LIMITS = (0.7, 1.4)

ProgressFn = Callable[[float, str], None]  # (fraction of this task done, message)


@dataclass
class ObjectiveWeights:
    # Halved from (0.01, 0.01, 0.01, 0.02) after measuring on allison_en (default budget, same start and
    # seed): held-out similarity of the searched voice 0.816 -> 0.846. The penalties are guides; the
    # guard and the bound are what keep a voice usable.
    pitch: float = 0.005
    rate: float = 0.005
    spectrum: float = 0.005
    regulariser: float = 0.01


@dataclass
class Sentence:
    """A training sentence: its text, its phonemes, and what the real recording of it measured."""

    text: str
    phonemes: str
    ltas_power: np.ndarray  # band powers of the real recording at the comparison rate
    ltas_frames: int
    real_seconds: float  # active duration of the real recording

    @classmethod
    def from_recording(cls, text: str, phonemes: str, audio: np.ndarray, sr: int, source_rate: int) -> "Sentence":
        band = to_band(audio, sr, source_rate)
        rate = comparison_rate(source_rate)
        power, frames = ltas_power(band, rate)
        return cls(text, phonemes, power, frames, active_duration_s(band, rate))

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "phonemes": self.phonemes,
            "ltas_power": self.ltas_power.tolist(),
            "ltas_frames": self.ltas_frames,
            "real_seconds": self.real_seconds,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Sentence":
        return cls(d["text"], d["phonemes"], np.asarray(d["ltas_power"]), int(d["ltas_frames"]), float(d["real_seconds"]))


def recorded_ltas(sentences: Sequence[Sentence]) -> tuple[np.ndarray, int]:
    """The real recordings' band powers and active frames of `sentences`, added together (as `ltas_total`)."""
    return np.sum([s.ltas_power for s in sentences], axis=0), sum(s.ltas_frames for s in sentences)


@dataclass
class Candidate:
    """A point of the search: offset z (256, in scale units), pitch scale, speed."""

    z: np.ndarray
    pitch_scale: float
    speed: float


@dataclass
class Measurement:
    """What a candidate's clips of some sentences measured, and its score terms."""

    similarity: float
    f0_median_hz: float
    f0_spread_st: float
    rate_ratio: float  # candidate phones/s over the real recordings' on the same sentences
    ltas_distance_db: float
    penalties: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return self.similarity - sum(self.penalties.values())


def _nan_to(x: float, value: float) -> float:
    return value if not math.isfinite(x) else x


def measure_clips(
    clips: Sequence[np.ndarray],
    sr: int,
    sentences: Sequence[Sentence],
    target: SpeakerProfile,
    z: np.ndarray,
    bound: float,
    weights: ObjectiveWeights,
    embeddings: np.ndarray | None = None,
) -> Measurement:
    rate = comparison_rate(target.source_rate)
    band = [to_band(c, sr, target.source_rate) for c in clips]
    emb = speaker.embed_many(band, rate) if embeddings is None else embeddings
    ok = np.isfinite(emb).all(axis=1)
    similarity = float(np.mean(emb[ok] @ target.centroid)) if ok.any() else 0.0
    f0_median, f0_spread = f0_stats(np.concatenate(band), rate)
    phones = sum(phone_count(s.phonemes) for s in sentences)
    synth_s = sum(active_duration_s(c, rate) for c in band)
    real_s = sum(s.real_seconds for s in sentences)
    rate_ratio = (phones / synth_s) / (phones / real_s) if synth_s > 0 and real_s > 0 else math.nan
    spectrum = ltas_distance_db(ltas_db(*ltas_total(band, rate)), ltas_db(*recorded_ltas(sentences)))

    pitch_err = 12 * math.log2(f0_median / target.f0_median_hz) if f0_median > 0 and target.f0_median_hz > 0 else math.nan
    spread_err = f0_spread - target.f0_spread_st
    penalties = {
        # An unmeasurable value (no voiced frames: garbled speech) costs like a large error.
        "pitch": weights.pitch * (_nan_to(pitch_err, 6.0) / 2.0) ** 2 + weights.pitch * (_nan_to(spread_err, 3.0) / 1.5) ** 2,
        "rate": weights.rate * (_nan_to(math.log(rate_ratio) if rate_ratio > 0 else math.nan, 0.5) / 0.1) ** 2,
        "spectrum": weights.spectrum * spectrum / 4.0,
        "regulariser": weights.regulariser * float(np.mean(np.square(z))) / bound**2,
    }
    return Measurement(similarity, float(f0_median), float(f0_spread), float(rate_ratio), spectrum, penalties)


# --- intelligibility guard ---------------------------------------------------------------------


def char_error_rate(reference: str, hypothesis: str) -> float:
    ref = " ".join(reference.lower().split())
    hyp = " ".join(hypothesis.lower().split())
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


class IntelligibilityGuard:
    """Transcribes a voice's clips of fixed sentences and scores them against a reference.

    English (a language Whisper tiny.en knows): WER against the sentences' transcripts.
    Other languages: CER of the transcription against the transcription of the *start* voice's
    clips, so it measures drift in what is being said rather than tiny.en's (poor) Italian.
    """

    def __init__(self, sentences: Sequence[Sentence], language: str, renderer: Renderer) -> None:
        from voicesmith.engine import transcribe, wer

        self.sentences = list(sentences)
        self.language = language
        self.renderer = renderer
        self.uses_wer = language in transcribe.ASR_LANGUAGES
        self._wer = wer
        self._transcriber = transcribe.get_transcriber()
        self.references: list[str] | None = [s.text for s in self.sentences] if self.uses_wer else None

    @property
    def metric(self) -> str:
        return "wer" if self.uses_wer else "asr_drift_cer"

    def transcripts(self, style: np.ndarray, speed: float, pitch_scale: float, should_cancel=None,
                    adapter: dict[str, np.ndarray] | None = None) -> list[str]:
        jobs = [(style, s.phonemes, speed, pitch_scale, adapter) for s in self.sentences]
        return self.heard(self.renderer.speak_many(jobs, should_cancel=should_cancel))

    def heard(self, clips: Sequence[np.ndarray]) -> list[str]:
        """Whisper's transcripts of clips of `sentences` (in order) at the renderer's rate."""
        return [t.text for t in self._transcriber.transcribe_many(list(clips), self.renderer.sample_rate)]

    def set_reference_voice(self, style: np.ndarray, speed: float, pitch_scale: float) -> None:
        if not self.uses_wer:
            self.references = self.transcripts(style, speed, pitch_scale)

    def start_error(self, style: np.ndarray, speed: float, pitch_scale: float, should_cancel=None) -> float:
        """The error the start voice is held to.

        WER: the start voice's own WER. Drift: the reference *is* the start voice, so its own drift
        is zero by construction; tiny.en's transcripts of another language change with any change
        of voice, so the baseline is the drift between the start voice and two stock voices
        (voices known to speak clearly): a candidate may drift about as much as they do."""
        if self.uses_wer:
            return self.check(style, speed, pitch_scale, should_cancel)
        packs = list(style_space.stock_packs().values())
        others = [packs[0], packs[-1]]  # jf_alpha and jm_kumo: a feminine and a masculine voice
        return float(np.mean([self.check(p, 1.0, 1.0, should_cancel) for p in others]))

    def error(self, hypotheses: Sequence[str]) -> float:
        assert self.references is not None, "set_reference_voice first"
        if self.uses_wer:
            return self._wer.corpus_wer(list(zip(self.references, hypotheses)))
        total = sum(len(r) for r in self.references) or 1
        return sum(char_error_rate(r, h) * len(r) for r, h in zip(self.references, hypotheses)) / total

    def check(self, style: np.ndarray, speed: float, pitch_scale: float, should_cancel=None,
              adapter: dict[str, np.ndarray] | None = None) -> float:
        return self.error(self.transcripts(style, speed, pitch_scale, should_cancel, adapter))


def allowed_error(start_error: float, slack: float) -> float:
    """The most a searched voice may mistake: 1.5x the start voice's error, or `slack` above it."""
    return max(1.5 * start_error, start_error + slack)


# --- the search --------------------------------------------------------------------------------


@dataclass
class SearchBudget:
    generations: int = 24
    popsize: int = 12
    sentences_per_generation: int = 3
    guard_every: int = 4  # generations between intelligibility checks of the mean
    sigma0: float = 0.8
    error_slack: float = 0.08  # see allowed_error


@dataclass
class AdaptTask:
    name: str  # checkpoint file stem; unique per search in a workdir
    space: StyleSpace
    target: SpeakerProfile
    sentences: list[Sentence]  # training pool (short sentences)
    start: Candidate
    free_dims: np.ndarray = field(default_factory=lambda: np.arange(256))
    search_pitch: bool = True
    search_speed: bool = True
    budget: SearchBudget = field(default_factory=SearchBudget)
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    seed: int = 0
    # A timbre filter (engine.timbre, as an array) every candidate is heard through: the one chosen
    # for the start voice (voice_set.choose_timbre). It takes the long-term spectrum off the search's
    # hands, so its syntheses go to what a filter cannot do.
    timbre: np.ndarray | None = None


@dataclass
class AdaptResult:
    candidate: Candidate
    artifact: VoiceArtifact
    guard_error: float  # of the returned voice
    start_guard_error: float
    history: list[dict]
    generations: int
    evaluations: int
    seconds: float


def _x_to_candidate(task: AdaptTask, x: np.ndarray) -> Candidate:
    z = task.start.z.astype(np.float64).copy()
    k = len(task.free_dims)
    z[task.free_dims] = x[:k]
    pitch, speed = task.start.pitch_scale, task.start.speed
    i = k
    if task.search_pitch:
        pitch = float(np.clip(pitch * math.exp(PITCH_UNIT * x[i]), *PITCH_LIMITS))
        i += 1
    if task.search_speed:
        speed = float(np.clip(speed * math.exp(SPEED_UNIT * x[i]), *SPEED_LIMITS))
    return Candidate(z=np.clip(z, -task.space.bound, task.space.bound), pitch_scale=pitch, speed=speed)


def _start_x(task: AdaptTask) -> np.ndarray:
    return np.concatenate([task.start.z[task.free_dims], np.zeros(int(task.search_pitch) + int(task.search_speed))])


def score_candidates(
    task: AdaptTask,
    candidates: Sequence[Candidate],
    sentences: Sequence[Sentence],
    renderer: Renderer,
    should_cancel: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Measurement]:
    """Speak every sentence in every candidate (in parallel) and measure each candidate."""
    rate = comparison_rate(task.target.source_rate)
    sr = renderer.sample_rate
    jobs = [(task.space.style(c.z), s.phonemes, c.speed, c.pitch_scale) for c in candidates for s in sentences]

    flt = None if task.timbre is None else TimbreFilter.from_array(task.timbre)

    def post(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if flt is not None:
            clip = flt.apply(clip, sr)
        band = to_band(clip, sr, task.target.source_rate)
        try:
            emb = speaker.embed_utterance(band, rate)
        except ValueError:
            emb = np.full(256, np.nan, dtype=np.float32)
        return clip, emb

    results = renderer.speak_many(jobs, post=post, should_cancel=should_cancel, on_progress=on_progress)
    k = len(sentences)
    out = []
    for i, c in enumerate(candidates):
        part = results[i * k : (i + 1) * k]
        out.append(
            measure_clips(
                [p[0] for p in part], sr, sentences, task.target, c.z, task.space.bound, task.weights,
                embeddings=np.stack([p[1] for p in part]),
            )
        )
    return out


def _within_generation(progress: ProgressFn | None, name: str, g: int, generations: int) -> Callable[[int, int], None] | None:
    """Progress inside one generation (a default-budget generation is ~36 syntheses, a minute or
    more on 2 cores), at most once a second."""
    if progress is None:
        return None
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] >= 1.0:
            last[0] = now
            progress((g + done / total) / generations, f"{name}: speaking candidates ({done}/{total}) in round {g + 1}")

    return report


def adapt(
    task: AdaptTask,
    renderer: Renderer,
    guard: IntelligibilityGuard,
    workdir: Path,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> AdaptResult:
    """Run (or resume) the search described by `task`; returns the last accepted voice."""
    should_cancel = should_cancel or (lambda: False)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{task.name}.json"
    budget = task.budget
    n = len(_start_x(task))
    bound = task.space.bound
    es = SepCMAES(n, budget.popsize, -bound, bound)
    t0 = time.monotonic()

    if path.exists():
        saved = json.loads(path.read_text())
        state = CMAState.from_dict(saved["state"])
        accepted_x = np.asarray(saved["accepted_x"])
        accepted_error = float(saved["accepted_error"])
        start_error = float(saved["start_error"])
        history = saved["history"]
        elapsed = float(saved.get("seconds", 0.0))
        if not guard.uses_wer:
            guard.references = saved["guard_references"]
    else:
        start_style = task.space.style(task.start.z)
        guard.set_reference_voice(start_style, task.start.speed, task.start.pitch_scale)
        start_error = guard.start_error(start_style, task.start.speed, task.start.pitch_scale, should_cancel)
        state = es.initial_state(_start_x(task), budget.sigma0)
        accepted_x, accepted_error = state.mean.copy(), start_error
        history, elapsed = [], 0.0

    limit = allowed_error(start_error, budget.error_slack)

    def save() -> None:
        save_json(
            path,
            {
                "state": state.to_dict(),
                "accepted_x": accepted_x.tolist(),
                "accepted_error": accepted_error,
                "start_error": start_error,
                "history": history,
                "seconds": elapsed + time.monotonic() - t0,
                "guard_references": guard.references,
            },
        )

    save()
    while state.generation < budget.generations:
        if should_cancel():
            raise Cancelled()
        g = state.generation
        rng = np.random.default_rng([task.seed, g])
        picks = rng.choice(len(task.sentences), size=min(budget.sentences_per_generation, len(task.sentences)), replace=False)
        sentences = [task.sentences[i] for i in picks]
        xs = es.ask(state, rng)
        candidates = [_x_to_candidate(task, x) for x in xs]
        measured = score_candidates(task, candidates, sentences, renderer, should_cancel,
                                    _within_generation(progress, task.name, g, budget.generations))
        scores = np.array([m.score for m in measured])
        state = es.tell(state, xs, scores)
        best = measured[int(np.argmax(scores))]
        entry = {
            "generation": state.generation,
            "score_mean": float(scores.mean()),
            "score_best": float(scores.max()),
            "similarity_best": best.similarity,
            "sigma": state.sigma,
        }
        if state.generation % budget.guard_every == 0 or state.generation == budget.generations:
            c = _x_to_candidate(task, state.mean)
            error = guard.check(task.space.style(c.z), c.speed, c.pitch_scale, should_cancel)
            entry["guard_error"] = error
            if error <= limit:
                accepted_x, accepted_error = state.mean.copy(), error
                entry["accepted"] = True
            else:
                # Back to the last voice that spoke clearly, with smaller steps.
                state.mean = accepted_x.copy()
                state.sigma *= 0.5
                state.path_sigma[:] = 0
                state.path_c[:] = 0
                entry["accepted"] = False
        history.append(entry)
        save()
        if progress is not None:
            progress(state.generation / budget.generations, f"{task.name}: generation {state.generation}/{budget.generations}")

    final = _x_to_candidate(task, accepted_x)
    artifact = task.space.artifact(final.z, final.pitch_scale, final.speed)
    return AdaptResult(
        candidate=final,
        artifact=artifact,
        guard_error=accepted_error,
        start_guard_error=start_error,
        history=history,
        generations=state.generation,
        evaluations=state.evaluations,
        seconds=elapsed + time.monotonic() - t0,
    )
