"""How much work a fine-tune does: the named budgets and their per-request overrides.

`params["budget"]` is "tiny" (trying the workflow: a couple of minutes), "default" or "max"; individual
fields of `Budget` may be overridden in params (e.g. {"budget": "tiny", "generations": 4}).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from voicesmith.engine.adapt import SearchBudget


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

    def search(self, generations: int) -> SearchBudget:
        return SearchBudget(
            generations=generations,
            popsize=self.popsize,
            sentences_per_generation=self.sentences_per_generation,
            guard_every=max(1, min(self.guard_every, generations)),
        )


BUDGETS = {
    # tiny and default: the two delivery variants are not searched (variant_generations=0); they are the
    # closest match with pitch and speed set from their group of recordings, and a timbre filter of their
    # own (measured: a generation or six of prosody search per variant gained nothing over that). tiny is
    # for trying the workflow in minutes; default is sized for 24 minutes of audio in 15 minutes on 2 cores.
    "tiny": Budget(generations=3, popsize=6, sentences_per_generation=2, guard_every=3, guard_sentences=2,
                   variant_generations=0, max_pool=40, probe_sentences=2, eval_utterances=5,
                   timbre_sentences=8),
    "default": Budget(generations=12, popsize=12, sentences_per_generation=3, guard_every=4, guard_sentences=4,
                      variant_generations=0, max_pool=200, probe_sentences=4, eval_utterances=12,
                      timbre_sentences=16),
    "max": Budget(generations=60, popsize=16, sentences_per_generation=4, guard_every=5, guard_sentences=6,
                  variant_generations=12, max_pool=400, probe_sentences=6, eval_utterances=24,
                  timbre_sentences=24),
}


def budget_from_params(params: dict) -> Budget:
    name = str(params.get("budget", "default"))
    if name not in BUDGETS:
        raise ValueError(f"unknown budget {name!r}; use one of {', '.join(BUDGETS)}")
    overrides = {f.name: int(params[f.name]) for f in fields(Budget) if f.name in params}
    return replace(BUDGETS[name], **overrides)
