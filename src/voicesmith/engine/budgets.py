"""How much work a fine-tune does: the named budgets and their per-request overrides.

`params["budget"]` is "tiny" (trying the workflow: a couple of minutes), "default" or "max"; individual
fields of `Budget` may be overridden in params (e.g. {"budget": "tiny", "generations": 4}).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from voicesmith.engine.adapt import SearchBudget
from voicesmith.engine.bespoke import BespokePlan


@dataclass
class Budget:
    generations: int  # of the closest-match search
    popsize: int
    sentences_per_generation: int
    guard_every: int
    guard_sentences: int
    variant_generations: int  # of each speaking-style search
    max_pool: int  # training sentences the searches draw from
    probe_sentences: int  # sentences the start options are compared on
    eval_utterances: int  # held-out utterances in the report
    timbre_sentences: int  # training sentences each voice's timbre filter is fitted on
    bespoke_steps: int  # of the bespoke decoder's training (engine/bespoke.py); 0: no bespoke stage
    bespoke_clips: int  # pool recordings it trains on
    bespoke_held: int  # other pool recordings for its early stopping

    def search(self, generations: int) -> SearchBudget:
        return SearchBudget(
            generations=generations,
            popsize=self.popsize,
            sentences_per_generation=self.sentences_per_generation,
            guard_every=max(1, min(self.guard_every, generations)),
        )

    @property
    def bespoke(self) -> BespokePlan:
        return BespokePlan(self.bespoke_steps, self.bespoke_clips, self.bespoke_held)


BUDGETS = {
    # tiny and default: the two delivery variants are not searched (variant_generations=0); they are the
    # closest match with pitch and speed set from their group of recordings, and a timbre filter of their
    # own (measured: a generation or six of prosody search per variant gained nothing over that). tiny is
    # for trying the workflow in minutes (its bespoke stage is a token: a few steps that show the stage working;
    # on 2 minutes of allison_en the guard's spectral half refused its decoder, which the held-out measures also
    # found further from the speaker: docs/benchmarks.md, session 12). default trains no bespoke decoder: with one
    # of 60 steps on 48 recordings (bespoke_steps=60 turns it on) the stage costs 5-7 minutes, and on carlo_it it
    # lowered MFCC Fréchet below the searched voice's (session 11; the guard now refuses that decoder).
    "tiny": Budget(generations=3, popsize=6, sentences_per_generation=2, guard_every=3, guard_sentences=2,
                   variant_generations=0, max_pool=40, probe_sentences=2, eval_utterances=5,
                   timbre_sentences=8, bespoke_steps=4, bespoke_clips=4, bespoke_held=2),
    "default": Budget(generations=12, popsize=12, sentences_per_generation=3, guard_every=4, guard_sentences=4,
                      variant_generations=0, max_pool=200, probe_sentences=4, eval_utterances=12,
                      timbre_sentences=16, bespoke_steps=0, bespoke_clips=48, bespoke_held=6),
    "max": Budget(generations=60, popsize=16, sentences_per_generation=4, guard_every=5, guard_sentences=6,
                  variant_generations=12, max_pool=400, probe_sentences=6, eval_utterances=24,
                  timbre_sentences=24, bespoke_steps=150, bespoke_clips=120, bespoke_held=12),
}


# What each stage costs, in seconds on the reference machine (2 quiet cores, AVX-512; bench/bench_fine_tune.py
# on allison_en, default budget: ingest 30 s, segment + transcribe 31 s, adapt 491 s, evaluate 221 s for 24 min of
# audio). A server measures its own pace against these (`STAGE_WORK`), so they only need to be in proportion.
_ANALYSIS_PER_AUDIO_S = 0.02  # ingest reuses the dataset report's analyses when there are some: a tenth of that
_PREPARE_FIXED_S, _PREPARE_PER_AUDIO_S = 5.0, 0.018  # loading Whisper, then segmenting and transcribing
_PER_SYNTHESIS_S = 0.75
_PER_TRANSCRIPTION_S = 0.65
# Held-out sentences are longer than search ones. 16.7 s measured for 10 voices (5 stock, the start, the four);
# a fine-tune with a bespoke stage measures an eleventh (the closest match the user did not get).
_EVALUATE_FIXED_S, _EVALUATE_PER_UTTERANCE_S, _EVALUATED_VOICES = 20.0, 16.7, 10
# The bespoke stage (bench/bench_adapter.py, 2 quiet cores): a teacher example takes ~2.7 s (two Kokoro
# passes, two Whisper encodings, YIN, DTW), a training step ~3 s, a held-out recording's evaluation ~1 s; loading
# the decoder and the aligner ~5 s; then each voice's guard check.
_BESPOKE_FIXED_S, _BESPOKE_PER_EXAMPLE_S, _BESPOKE_PER_STEP_S, _BESPOKE_PER_EVAL_S = 5.0, 2.7, 3.0, 1.0

STAGE_WORK = ("ingest", "prepare", "adapt", "evaluate")


def planned_work(budget: Budget, audio_s: float, analysed: bool) -> dict[str, float]:
    """Seconds each stage of a fine-tune should take on the reference machine, from the work the budget plans."""
    b = budget
    per_gen = b.popsize * b.sentences_per_generation
    checks = lambda gens: (gens // max(1, b.guard_every) + 2) * b.guard_sentences  # noqa: E731
    syntheses = (7 * 2 * b.probe_sentences + b.generations * per_gen + checks(b.generations) + 2 * b.guard_sentences
                 + 2 * (b.variant_generations * per_gen + checks(b.variant_generations)) + 5 * b.timbre_sentences)
    transcriptions = checks(b.generations) + 2 * b.guard_sentences + 2 * checks(b.variant_generations)
    search = syntheses * _PER_SYNTHESIS_S + transcriptions * _PER_TRANSCRIPTION_S
    return {
        "ingest": audio_s * _ANALYSIS_PER_AUDIO_S * (0.1 if analysed else 1.0),
        "prepare": _PREPARE_FIXED_S + audio_s * _PREPARE_PER_AUDIO_S,
        "adapt": search + bespoke_work(b),
        "evaluate": _EVALUATE_FIXED_S + b.eval_utterances * _EVALUATE_PER_UTTERANCE_S
        * (_EVALUATED_VOICES + b.bespoke.enabled) / _EVALUATED_VOICES,
    }


def bespoke_work(budget: Budget) -> float:
    """Reference seconds of the bespoke stage (part of "adapt"); 0 when the budget has none."""
    plan = budget.bespoke
    if not plan.enabled:
        return 0.0
    evaluations = plan.steps // plan.eval_every + 1
    # Then the timbre sentences rendered four times: the closest match's pitch measured, its filter chosen, and the
    # guard's spectral half (the match through the decoder and as searched); the guard hears each voice through the
    # decoder and as searched (Whisper and Resemblyzer on one render each), unless the spectral half refused all.
    listen = 4 * budget.timbre_sentences * _PER_SYNTHESIS_S
    guard = 4 * budget.guard_sentences * 2 * (_PER_SYNTHESIS_S + _PER_TRANSCRIPTION_S)
    return (_BESPOKE_FIXED_S + (plan.clips + plan.held) * _BESPOKE_PER_EXAMPLE_S + plan.steps * _BESPOKE_PER_STEP_S
            + evaluations * plan.held * _BESPOKE_PER_EVAL_S + listen + guard)


def expected_seconds(work: dict[str, float], pace: dict[str, float] | None) -> dict[str, float]:
    """`work` at a measured pace (a stage's seconds here per reference second; 1 where none is measured)."""
    return {stage: seconds * (pace or {}).get(stage, 1.0) for stage, seconds in work.items()}


def budget_from_params(params: dict) -> Budget:
    name = str(params.get("budget", "default"))
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; use one of {', '.join(BUDGETS)}")
    overrides = {f.name: int(params[f.name]) for f in fields(Budget) if f.name in params}
    return replace(BUDGETS[name], **overrides)
