"""The fine-tune's bespoke stage: the closest-match voice gets a decoder of its own, learnt from the recordings.

The style search can only move Kokoro's 256 style values; this stage trains low-rank adapters of the decoder and
the timbre half of the style on the speaker's training recordings (engine/adapter.py, teacher forced through
engine/teacher.py), starting from the searched closest match. Each voice of the fine-tune may then speak through the
adapted decoder, keeping its own prosody, pitch and pace; the style search's voices stay the fallback: a bespoke
voice is used only where it is about as intelligible and as like the speaker as its searched voice (`choose`).

What it trains on and what it is checked on are kept apart:
- training: `clips` short recordings of the training pool;
- early stopping: `held` other recordings of the pool (the training objective, on recordings it did not fit);
- the guard: the pool's guard sentences, free running: Whisper, which training never sees, and Resemblyzer, which it
  does (the speaker term of its objective, on the training recordings teacher forced);
- the report (engine/evaluate.py): the held-out split, which no stage of the fine-tune trains on.

Everything is resumable from the workdir: the teacher examples, the training checkpoint and the final adapter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicesmith.engine.adapt import PITCH_LIMITS
from voicesmith.engine.checkpoints import atomic_write, load_json, save_json
from voicesmith.engine.voice import TIMBRE, VoiceArtifact

if TYPE_CHECKING:  # torch and the aligner load only when a fine-tune trains
    from voicesmith.engine.adapt import Sentence
    from voicesmith.engine.teacher import Example
    from voicesmith.engine.voice_set import BuiltVoice, Hearing

EVAL_EVERY = 10  # steps between held-out evaluations (and checkpoints) of a full-size run
# The speaker term's weight in the training objective (engine/speaker_loss.py). At the start of training the
# reconstruction loss's gradient on the adapters and timbre was 2.1-4.0 times the speaker term's (6 allison_en
# clips, stock jf_alpha): this weight gives the two about equal pull.
SPEAKER_WEIGHT = 3.0


@dataclass
class BespokePlan:
    steps: int  # training steps, one recording each
    clips: int  # training recordings drawn from the pool
    held: int  # other pool recordings for early stopping

    @property
    def enabled(self) -> bool:
        return self.steps > 0 and self.clips > 0 and self.held > 0

    @property
    def eval_every(self) -> int:
        return max(1, min(EVAL_EVERY, self.steps // 2))


@dataclass
class Recording:
    """A pool recording to learn from: what it says (phonemes) and how it sounds."""

    phonemes: str
    load: Callable[[], np.ndarray]  # the audio at `rate`
    rate: int


@dataclass
class Bespoke:
    """A trained adapter and timbre, and how the training went."""

    adapter: dict[str, np.ndarray]
    timbre: np.ndarray  # [128]
    details: dict = field(default_factory=dict)
    # The timbre filter (engine/timbre.py) every bespoke voice is heard through, chosen after training: the searched
    # voices' filters were fitted to the stock decoder's spectrum, which the adapter changes.
    filter: np.ndarray | None = None
    # The adapted decoder renders the same F0 curve at another pitch (session 11, held out: allison_en 1 semitone
    # lower than its searched voice, carlo_it 0.5 higher); every bespoke voice's pitch scale is multiplied by this
    # (`pitch_ratio`), which puts the closest match on the speaker's median F0.
    pitch_ratio: float = 1.0

    def voice(self, searched: VoiceArtifact) -> VoiceArtifact:
        """`searched` speaking through this decoder and filter: its own prosody, pitch and pace; the trained timbre."""
        style = searched.style.copy()
        style[:, TIMBRE] = self.timbre
        pitch = float(np.clip(searched.pitch_scale * self.pitch_ratio, *PITCH_LIMITS))
        return replace(searched, style=style, timbre=None if self.filter is None else self.filter.copy(),
                       adapter=dict(self.adapter), pitch_scale=pitch)


def pitch_ratio(speaker_hz: float, bespoke_hz: float) -> float:
    """The `Bespoke.pitch_ratio` that puts a voice measured at `bespoke_hz` (median F0) on the speaker's `speaker_hz`
    (the training recordings'), as the search's start point is calibrated; 1 where either is unmeasured. The four
    voices share the ratio, so the delivery voices keep their own pitch relative to the closest match."""
    if not (np.isfinite(speaker_hz) and np.isfinite(bespoke_hz) and speaker_hz > 0 and bespoke_hz > 0):
        return 1.0
    return float(speaker_hz / bespoke_hz)


def recordings(pool: Sequence[Sentence], utterances: Sequence, pool_index: Sequence[int]) -> list[Recording]:
    """The pool's sentences with the training utterances they were taken from."""
    return [Recording(s.phonemes, utterances[i].load, utterances[i].sample_rate) for s, i in zip(pool, pool_index)]


def split(pool: Sequence[Recording], plan: BespokePlan) -> tuple[list[Recording], list[Recording]]:
    """(training, early-stopping) recordings, disjoint, each spread evenly over the pool."""
    from voicesmith.engine.speaker_data import evenly

    held = evenly(list(pool[1::2]), plan.held)  # every other recording: the two sets interleave through the pool
    held_ids = {id(r) for r in held}
    rest = [r for r in pool if id(r) not in held_ids]
    return evenly(rest, plan.clips), held


def train(
    start: VoiceArtifact,
    pool: Sequence[Recording],
    source_rate: int,
    plan: BespokePlan,
    workdir: Path,
    progress: Callable[[float, str], None],
    should_cancel: Callable[[], bool],
    *,
    centroid: np.ndarray,
    threads: int,
    seed: int = 0,
) -> Bespoke:
    """Train the adapter from `start` (the searched closest match), or return the one `workdir` already holds.

    The objective is the reconstruction loss plus `SPEAKER_WEIGHT` times the speaker encoder's distance to
    `centroid` (the speaker's, from the training recordings): without it the adapter gave up much of the likeness
    the search had found (docs/benchmarks.md, session 10).

    `threads`: torch's for the training. Give the same count to a resumed run (e.g. the machine's cores, not a
    load-dependent figure) and it ends with the adapter an uninterrupted run would have."""
    import onnx
    import torch

    from voicesmith.engine import adapter as adapters
    from voicesmith.engine.kokoro import decoder as kdecoder, graph
    from voicesmith.engine.speaker_loss import SpeakerLoss
    from voicesmith.engine.teacher import SAMPLE_RATE

    folder = workdir / "bespoke"
    folder.mkdir(parents=True, exist_ok=True)
    done = _load(folder)
    if done is not None:
        return done
    t0 = time.monotonic()
    train_rec, held_rec = split(pool, plan)
    count = len(train_rec) + len(held_rec)
    # Examples take ~40% of the stage's time: report them as that share of its progress.
    examples = _examples(train_rec + held_rec, start, folder, threads, should_cancel,
                         lambda k: progress(0.4 * k / count, f"aligning recording {k + 1} of {count}"))
    prepared_s = time.monotonic() - t0
    progress(0.4, f"{count} recordings aligned: training the decoder")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        dec = kdecoder.load_decoder(onnx.load(str(graph.build_variant("float32"))))
        timbre = start.style[len(start.style) // 2, TIMBRE]
        band = min(source_rate / 2, SAMPLE_RATE / 2)  # a 16 kHz dataset says nothing above 8 kHz
        speaker = adapters.SpeakerTerm(SpeakerLoss(centroid, SAMPLE_RATE, band), SPEAKER_WEIGHT)
        run = adapters.train(
            dec, timbre, examples[: len(train_rec)], examples[len(train_rec):], band, plan.steps,
            eval_every=plan.eval_every, seed=seed, should_cancel=should_cancel, checkpoint=folder / "training.pt",
            progress=lambda f, m: progress(0.4 + 0.6 * f, m), speaker=speaker,
        )
    finally:
        torch.set_num_threads(previous)
    result = Bespoke(run.state, run.timbre, {
        "train_recordings": len(train_rec), "early_stopping_recordings": len(held_rec),
        "steps_run": run.steps_run, "best_step": run.best_step,
        "held_out_loss": [[s, round(v, 4)] for s, v in run.held_out_loss],
        "held_out_loss_what": "the training objective (multi-resolution STFT loss plus the weighted speaker-encoder "
                              "distance) on pool recordings it did not train on; it shows the training generalised, "
                              "not that the voice sounds like the speaker (the report measures that, and Resemblyzer "
                              "is in this objective)",
        "speaker_weight": SPEAKER_WEIGHT,
        "adapter_mb": round(sum(v.nbytes for v in run.state.values()) / 1e6, 2),
        "seconds": {"examples": round(prepared_s, 1), "training": round(time.monotonic() - t0 - prepared_s, 1)},
    })
    _save(folder, result)
    return result


def _examples(pool: Sequence[Recording], start: VoiceArtifact, folder: Path, threads: int,
              should_cancel: Callable[[], bool], progress: Callable[[int], None]) -> list[Example]:
    """Each recording as teacher-forced decoder inputs (engine/teacher.py), cached in `folder`. `progress(k)` is
    called before making the k-th (from 0) when it is not cached."""
    import onnx

    from voicesmith.engine import teacher
    from voicesmith.engine.kokoro import graph, weights
    from voicesmith.engine.rendering import Cancelled
    from voicesmith.engine.transcribe import get_transcriber

    vocab = weights.vocab()
    front = None
    out = []
    for k, rec in enumerate(pool):
        path = folder / f"example-{k}.npz"
        try:
            with np.load(path) as saved:
                out.append(teacher.Example(saved["asr"], saved["f0"], saved["energy"], saved["audio"]))
            continue
        except (OSError, ValueError, KeyError):
            pass  # not made yet (or cut short by a kill): make it
        if should_cancel():
            raise Cancelled()
        progress(k)
        if front is None:
            front = teacher.TextFront(onnx.load(str(graph.build_variant("int8"))), threads,
                                      get_transcriber(threads))
        tokens = [vocab[c] for c in rec.phonemes if c in vocab]
        example = front.example(tokens, start.style_for(len(tokens)), rec.load(), rec.rate)
        atomic_write(path, lambda tmp: _write_arrays(tmp, {"asr": example.asr, "f0": example.f0,
                                                           "energy": example.energy, "audio": example.audio}))
        out.append(example)
    return out


def _save(folder: Path, result: Bespoke) -> None:
    atomic_write(folder / "adapter.npz",
                 lambda tmp: _write_arrays(tmp, {"timbre": result.timbre,
                                                 **{f"adapter:{k}": v for k, v in result.adapter.items()}}))
    save_json(folder / "result.json", result.details)  # written last: its presence means the adapter is whole


def _write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _load(folder: Path) -> Bespoke | None:
    details = load_json(folder / "result.json")
    if details is None:
        return None
    with np.load(folder / "adapter.npz") as saved:
        adapter = {k.removeprefix("adapter:"): saved[k] for k in saved.files if k.startswith("adapter:")}
        return Bespoke(adapter, saved["timbre"], details)


# A bespoke voice may mistake at most this much more than its searched voice on the guard sentences (one word in
# twenty): the guard hears a few sentences, so a stricter bound would turn on one word's noise.
WER_SLACK = 0.05
# ...and sound at most this much less like the speaker to the speaker encoder on the same sentences (the spread of
# Resemblyzer's mean over a few clips). The search and the speaker term both optimise that encoder, so this only
# says a bespoke voice kept what the search won; it is no independent evidence of likeness.
SIMILARITY_SLACK = 0.02
# ...and the decoder's closest match at most this much further (relatively) than the searched one from the real
# recordings by MFCC Fréchet distance, which no training optimises: the guard's independent half (`spectrum`).
# Measured (session 12): the ratio's spread between disjoint 16-sentence sets is ~15%, and decoders that held-out
# sentences found better or worse gave ratios of 0.62-0.85 and 1.13-1.57; so "no further, give or take less than
# the noise". On the guard's 2-6 sentences the ratio fell on the wrong side for one voice in four: hence the
# timbre sentences, and one check for the four voices.
MFCC_SLACK = 0.10


def spectrum(bespoke_distance: float, searched_distance: float, sentences: int) -> dict:
    """The guard's spectral half, shared by the four voices (they share the decoder): the closest match's MFCC
    Fréchet distance to the real recordings of `sentences` sentences the decoder did not train on, through the
    bespoke decoder and as searched."""
    figures = {"mfcc_frechet": bespoke_distance, "searched_mfcc_frechet": searched_distance,
               "mfcc_frechet_allowed": searched_distance * (1 + MFCC_SLACK)}
    figures = {k: round(float(x), 4) for k, x in figures.items()}
    return {**figures, "mfcc_sentences": sentences,
            "passed": figures["mfcc_frechet"] <= figures["mfcc_frechet_allowed"]}


def choose(voices: Sequence[BuiltVoice], bespoke: Bespoke, hear: Callable[[VoiceArtifact], Hearing], metric: str,
           spectral: dict, workdir: Path, progress: Callable[[float, str], None]) -> list[BuiltVoice]:
    """Each voice through the bespoke decoder where the spectral half passed (`spectral`, from `spectrum`) and,
    heard on the guard sentences (`hear`, engine/voice_set.py), it is about as intelligible (`WER_SLACK`; the
    guard's `metric`) and about as like the speaker to the speaker encoder (`SIMILARITY_SLACK`) as the searched
    voice; else the searched voice itself. Each verdict names the halves that refused (`refused_by`) and gives their
    figures; they go in each voice's details (and are cached in workdir)."""
    path = workdir / "bespoke" / "verdicts.json"
    verdicts = load_json(path) or {}
    shared = {k: spectral[k] for k in ("mfcc_frechet", "searched_mfcc_frechet", "mfcc_frechet_allowed")}
    out = []
    for k, v in enumerate(voices):
        candidate = bespoke.voice(v.artifact)
        if v.key not in verdicts:
            refused, figures = ([] if spectral["passed"] else ["spectrum"]), {}
            if not refused:  # else Whisper's and the encoder's opinion would not change the verdict
                progress(k / len(voices), f"checking the {v.label} voice through the bespoke decoder")
                heard, searched = hear(candidate), hear(v.artifact)
                figures = {name: round(float(x), 4) for name, x in {
                    "guard_error": heard.error, "searched_guard_error": searched.error,
                    "allowed": searched.error + WER_SLACK,
                    "similarity": heard.similarity, "searched_similarity": searched.similarity,
                    "similarity_allowed": searched.similarity - SIMILARITY_SLACK,
                }.items()}
                refused += ["intelligibility"] * (figures["guard_error"] > figures["allowed"])
                refused += ["similarity"] * (figures["similarity"] < figures["similarity_allowed"])
            verdicts[v.key] = {"used": not refused, "refused_by": refused, "measure": metric, **figures, **shared}
            save_json(path, verdicts)
        verdict = verdicts[v.key]
        if verdict["used"]:
            # Heard through the bespoke decoder's filter now, not the one the search chose for the stock decoder.
            timbre = {k: bespoke.details[k] for k in ("timbre", "timbre_similarity") if k in bespoke.details}
            out.append(replace(v, artifact=candidate, details={**v.details, **timbre, "bespoke": verdict},
                               description=f"{v.description} Spoken through a decoder trained on your recordings."))
        else:
            out.append(replace(v, details={**v.details, "bespoke": verdict}))
    progress(1.0, f"{sum(verdicts[v.key]['used'] for v in voices)} of {len(voices)} voices use the bespoke decoder")
    return out
