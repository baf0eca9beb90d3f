"""The four voices of a fine-tune, each a distinct choice, and the start point they grow from.

1. closest match: the full search (all 256 style dimensions, pitch, speed) from the best start
   point; the highest similarity the budget reaches.
2. clear: the closest match pulled part of the way back towards its start voice and spoken a
   little slower; of two pull-back amounts the one the intelligibility check likes best. For long
   reads and announcements, where every word must land.
3./4. two speaking styles found in the data: the training utterances are split into two groups by
   their prosody (median pitch, pitch spread and speaking rate; 2-means), and the prosody half of
   the closest match (style dimensions 128..255) plus its pitch and speed are adapted to each
   group. Named after how the groups measurably differ (higher/lower, faster/slower, more/less
   varied intonation).

Each of the four then gets the timbre filter (`engine.timbre`) it sounds most like the speaker
through on training sentences: none, the one it was searched with, or one fitted to it.

Descriptions state the measured differences, not adjectives we cannot back up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from voicesmith.engine import likeness, style_space
from voicesmith.engine.adapt import (
    PITCH_LIMITS,
    SPEED_LIMITS,
    AdaptResult,
    AdaptTask,
    Candidate,
    IntelligibilityGuard,
    Measurement,
    ObjectiveWeights,
    SearchBudget,
    Sentence,
    recorded_ltas,
    score_candidates,
)
from voicesmith.engine.audio import f0_stats
from voicesmith.engine.rendering import Renderer
from voicesmith.engine.style_space import StyleSpace
from voicesmith.engine.voice import PROSODY, VoiceArtifact
from voicesmith.engine.timbre import TimbreFilter
from voicesmith.engine.voice_profile import SpeakerProfile, comparison_rate, ltas_total, to_band

ProgressFn = Callable[[float, str], None]


# --- start point -------------------------------------------------------------------------------


@dataclass
class StartOption:
    label: str  # e.g. "stock jf_alpha", "stock blend", "instant-clone mapping"
    space: StyleSpace
    z: np.ndarray


def stock_options() -> list[StartOption]:
    return [StartOption(f"stock {k}", StyleSpace(p), np.zeros(256)) for k, p in style_space.stock_packs().items()]


def derived_options(target: SpeakerProfile, stock_similarity: dict[str, float]) -> list[StartOption]:
    """A blend of the packs weighted by how similar each sounded, and the instant-clone mapping."""
    from voicesmith.engine import clone

    sims = np.array(list(stock_similarity.values()))
    w = np.exp((sims - sims.max()) / 0.03)  # 0.03 of cosine ~ the spread between close voices
    weights = dict(zip(stock_similarity, w / w.sum()))
    options = [StartOption("similarity-weighted stock blend", StyleSpace(style_space.blend(weights)), np.zeros(256))]
    mapping = clone.load_mapping()
    if mapping is not None:
        weights, z, _pitch = mapping.predict(target.centroid, target.f0_median_hz, target.source_rate)
        options.append(StartOption("instant-clone mapping", StyleSpace(style_space.blend(weights)), z))
    return options


def calibrate(m: Measurement, target: SpeakerProfile, pitch: float, speed: float) -> tuple[float, float]:
    """Pitch scale and speed that would put this measurement on the speaker's median F0 and rate."""
    if m.f0_median_hz > 0 and math.isfinite(m.f0_median_hz) and target.f0_median_hz > 0:
        pitch = pitch * target.f0_median_hz / m.f0_median_hz
    if m.rate_ratio > 0 and math.isfinite(m.rate_ratio):
        speed = speed / m.rate_ratio
    return float(np.clip(pitch, *PITCH_LIMITS)), float(np.clip(speed, *SPEED_LIMITS))


def choose_start(
    target: SpeakerProfile,
    sentences: Sequence[Sentence],
    renderer: Renderer,
    weights: ObjectiveWeights,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[StartOption, Candidate, dict[str, float]]:
    """Score every start option on the same sentences, as is and with pitch and speed calibrated to
    the speaker's median F0 and rate; return the best (by the full objective) and the ranking.

    Both are tried because a pitch-shifted stock voice is not always closer: Kokoro scales F0 but
    keeps the voice's formants, and the speaker encoder can prefer the unshifted voice."""

    def probe(options: list[StartOption], calibrations: list[tuple[float, float]]) -> list[Measurement]:
        out = []
        for opt, (p, s) in zip(options, calibrations):
            task = AdaptTask("probe", opt.space, target, list(sentences), Candidate(opt.z, p, s), weights=weights)
            out.append(score_candidates(task, [task.start], sentences, renderer, should_cancel)[0])
        return out

    stock = stock_options()
    raw = probe(stock, [(1.0, 1.0)] * len(stock))
    derived = derived_options(target, {o.label.removeprefix("stock "): m.similarity for o, m in zip(stock, raw)})
    raw += probe(derived, [(1.0, 1.0)] * len(derived))
    options = stock + derived
    calibrations = [calibrate(m, target, 1.0, 1.0) for m in raw]
    calibrated = probe(options, calibrations)
    tried = [(o, (1.0, 1.0), m, o.label) for o, m in zip(options, raw)]
    tried += [(o, c, m, f"{o.label}, pitch/speed calibrated") for o, c, m in zip(options, calibrations, calibrated)]
    best = max(tried, key=lambda t: t[2].score)
    option, (pitch, speed), _, label = best
    ranking = {t[3]: round(float(t[2].score), 4) for t in tried}
    return StartOption(label, option.space, option.z), Candidate(option.z, pitch, speed), ranking


# --- prosody groups ----------------------------------------------------------------------------


@dataclass
class ProsodyGroup:
    indices: list[int]  # into the training utterances
    f0_median_st: float  # mean over members of per-utterance median F0, in semitones re 100 Hz
    f0_spread_st: float
    rate_pps: float


def prosody_groups(features: np.ndarray, seed: int = 0) -> tuple[ProsodyGroup, ProsodyGroup] | None:
    """Two groups of utterances by prosody (2-means on standardised [median st, spread st, log rate]).

    `features` is (n, 3): median F0 in semitones, F0 spread in semitones, phones/s (NaN rows are
    ignored). None when there are too few usable utterances to split."""
    feats = np.asarray(features, dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(feats).all(axis=1) & (feats[:, 2] > 0))
    if len(ok) < 8:
        return None
    x = np.column_stack([feats[ok, 0], feats[ok, 1], np.log(feats[ok, 2])])
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)
    # Deterministic init on the first principal axis: the two ends of the main prosodic contrast.
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    proj = x @ vt[0]
    centres = np.stack([x[proj <= np.median(proj)].mean(0), x[proj > np.median(proj)].mean(0)])
    for _ in range(50):
        label = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        if np.bincount(label, minlength=2).min() == 0:
            return None
        new = np.stack([x[label == k].mean(0) for k in range(2)])
        if np.allclose(new, centres):
            break
        centres = new
    groups = []
    for k in range(2):
        members = ok[label == k]
        groups.append(
            ProsodyGroup(
                indices=[int(i) for i in members],
                f0_median_st=float(np.mean(feats[members, 0])),
                f0_spread_st=float(np.mean(feats[members, 1])),
                rate_pps=float(np.exp(np.mean(np.log(feats[members, 2])))),
            )
        )
    if min(len(g.indices) for g in groups) < 4:
        return None
    return groups[0], groups[1]


def describe_contrast(group: ProsodyGroup, other: ProsodyGroup) -> tuple[str, str]:
    """(short label, measured description) of how `group` differs from `other`."""
    d_pitch = group.f0_median_st - other.f0_median_st
    d_spread = group.f0_spread_st - other.f0_spread_st
    d_rate = math.log(group.rate_pps / other.rate_pps)
    # Each contrast in units of a just-noticeable-ish step: 1 st pitch, 0.5 st spread, 5% rate.
    scores = {"pitch": d_pitch / 1.0, "spread": d_spread / 0.5, "rate": d_rate / 0.05}
    main = max(scores, key=lambda k: abs(scores[k]))
    labels = {
        "pitch": ("higher", "lower"),
        "spread": ("expressive", "even"),
        "rate": ("brisk", "unhurried"),
    }
    label = labels[main][0 if scores[main] > 0 else 1]
    parts = [
        f"{abs(d_pitch):.1f} semitones {'higher' if d_pitch > 0 else 'lower'} in pitch",
        f"{abs(d_spread):.1f} semitones {'wider' if d_spread > 0 else 'narrower'} intonation range",
        f"{abs(math.expm1(d_rate)) * 100:.0f}% {'faster' if d_rate > 0 else 'slower'}",
    ]
    return label, ", ".join(parts)


# --- the four voices ---------------------------------------------------------------------------


@dataclass
class ClearPlan:
    shrinks: tuple[float, ...] = (0.6, 0.8)  # fractions of the match's offset from its start kept
    slowdown: float = 0.93  # speed factor


@dataclass
class BuiltVoice:
    key: str  # match | clear | style_a | style_b
    label: str  # short name suffix
    description: str
    artifact: VoiceArtifact
    details: dict = field(default_factory=dict)


def build_clear(
    match: AdaptResult,
    match_task: AdaptTask,
    guard: IntelligibilityGuard,
    plan: ClearPlan,
    should_cancel: Callable[[], bool] | None = None,
) -> tuple[VoiceArtifact, dict]:
    """The closest match pulled back towards its start voice, slower; the clearest of a few."""
    tried = []
    for shrink in plan.shrinks:
        z = match_task.start.z + shrink * (match.candidate.z - match_task.start.z)
        speed = float(np.clip(match.candidate.speed * plan.slowdown, *SPEED_LIMITS))
        pitch = match_task.start.pitch_scale + shrink * (match.candidate.pitch_scale - match_task.start.pitch_scale)
        error = guard.check(match_task.space.style(z), speed, pitch, should_cancel)
        tried.append((error, -shrink, z, speed, pitch))
    error, neg_shrink, z, speed, pitch = min(tried, key=lambda t: (t[0], t[1]))
    details = {"shrink": -neg_shrink, "speed_factor": plan.slowdown, "guard_error": error,
               "match_guard_error": match.guard_error}
    return match_task.space.artifact(z, pitch, speed), details


def group_target(
    base: SpeakerProfile, group: ProsodyGroup, embeddings: np.ndarray
) -> SpeakerProfile:
    from voicesmith.engine import speaker

    emb = embeddings[group.indices]
    centroid = speaker.centroid(emb) if np.isfinite(emb).all(axis=1).any() else base.centroid
    return replace(
        base,
        centroid=centroid,
        f0_median_hz=float(100.0 * 2 ** (group.f0_median_st / 12)),
        f0_spread_st=group.f0_spread_st,
        rate_pps=group.rate_pps,
    )


def variant_task(
    name: str,
    match_task: AdaptTask,
    match: AdaptResult,
    speaker_profile: SpeakerProfile,
    target: SpeakerProfile,
    sentences: list[Sentence],
    budget: SearchBudget,
    seed: int,
) -> AdaptTask:
    """A search over the prosody half only, from the closest match, towards one prosody group.
    Pitch and speed start shifted by the group's difference from the whole speaker; prosody terms
    weigh three times more here: matching the group's delivery is the point."""
    w = match_task.weights
    pitch, speed = match.candidate.pitch_scale, match.candidate.speed
    if speaker_profile.f0_median_hz > 0 and target.f0_median_hz > 0:
        pitch *= target.f0_median_hz / speaker_profile.f0_median_hz
    if speaker_profile.rate_pps > 0 and target.rate_pps > 0:
        speed *= target.rate_pps / speaker_profile.rate_pps
    weights = ObjectiveWeights(pitch=3 * w.pitch, rate=3 * w.rate, spectrum=w.spectrum, regulariser=w.regulariser)
    return AdaptTask(
        name=name,
        space=match_task.space,
        target=target,
        sentences=sentences,
        start=Candidate(match.candidate.z, float(np.clip(pitch, *PITCH_LIMITS)), float(np.clip(speed, *SPEED_LIMITS))),
        free_dims=np.arange(PROSODY.start, PROSODY.stop),
        budget=budget,
        weights=weights,
        seed=seed,
        timbre=match_task.timbre,
    )


def _speak(voice: VoiceArtifact, sentences: Sequence[Sentence], renderer: Renderer,
           should_cancel: Callable[[], bool] | None) -> list[np.ndarray]:
    jobs = [(voice.style, s.phonemes, voice.speed, voice.pitch_scale, voice.adapter) for s in sentences]
    return renderer.speak_many(jobs, should_cancel=should_cancel)


@dataclass
class Hearing:
    """A voice's clips of the guard's sentences, as the bespoke stage's guard judges them."""

    error: float  # the guard's (WER, or transcript drift)
    similarity: float  # Resemblyzer's mean cosine to the speaker's centroid


def hear(voice: VoiceArtifact, guard: IntelligibilityGuard, target: SpeakerProfile, renderer: Renderer,
         should_cancel: Callable[[], bool] | None = None) -> Hearing:
    """The voice speaks the guard's sentences once: Whisper hears the clips as rendered, the speaker encoder through
    the voice's timbre filter at the dataset's bandwidth."""
    clips = _speak(voice, guard.sentences, renderer, should_cancel)
    return Hearing(guard.error(guard.heard(clips)), _centroid_similarity(_heard(voice, clips, renderer, target), target))


def mfcc_distance(voice: VoiceArtifact, sentences: Sequence[Sentence], recorded: Sequence[np.ndarray],
                  target: SpeakerProfile, renderer: Renderer, should_cancel: Callable[[], bool] | None = None) -> float:
    """`likeness.mfcc_frechet` of the voice's clips of `sentences` (through its timbre filter at the dataset's
    bandwidth) to `recorded`, the real recordings of the same sentences at the comparison rate."""
    heard = _heard(voice, _speak(voice, sentences, renderer, should_cancel), renderer, target)
    return likeness.mfcc_frechet(heard, recorded, comparison_rate(target.source_rate))


def _heard(voice: VoiceArtifact, clips: Sequence[np.ndarray], renderer: Renderer,
           target: SpeakerProfile) -> list[np.ndarray]:
    """Rendered clips as the comparisons hear them: through the voice's timbre filter, at the comparison rate."""
    sr = renderer.sample_rate
    return [to_band(voice.filter(c, sr), sr, target.source_rate) for c in clips]


def median_f0(voice: VoiceArtifact, sentences: Sequence[Sentence], target: SpeakerProfile, renderer: Renderer,
              should_cancel: Callable[[], bool] | None = None) -> float:
    """Median F0 (Hz) of the voice's clips of `sentences` at the dataset's bandwidth, as the search measures it;
    NaN where too few frames are voiced."""
    clips = _speak(voice, sentences, renderer, should_cancel)
    sr, source = renderer.sample_rate, target.source_rate
    return f0_stats(np.concatenate([to_band(c, sr, source) for c in clips]), comparison_rate(source))[0]


def _centroid_similarity(heard: Sequence[np.ndarray], target: SpeakerProfile) -> float:
    """Mean Resemblyzer cosine of clips (at the comparison rate) to the target's centroid; -1 if none embeds."""
    from voicesmith.engine import speaker

    emb = speaker.embed_many(heard, comparison_rate(target.source_rate))
    ok = np.isfinite(emb).all(axis=1)
    return float(np.mean(emb[ok] @ target.centroid)) if ok.any() else -1.0


def choose_timbre(
    voice: VoiceArtifact, sentences: Sequence[Sentence], target: SpeakerProfile, renderer: Renderer,
    current: np.ndarray | None = None, should_cancel: Callable[[], bool] | None = None,
) -> tuple[np.ndarray | None, dict]:
    """The timbre filter this voice sounds most like the speaker through: none, `current` (the filter
    it was searched with) or one fitted to it now on `sentences` (their real recordings' LTAS).

    The speaker encoder judges, on the same training sentences: a filter that matches the long-term
    spectrum is not always closer. Measured on allison_en's held-out utterances, a filter fitted to an
    unsearched voice raised similarity (0.735 -> 0.782), but one refitted after a search that had
    already been scored through a filter lowered it (0.822 -> 0.805)."""
    clips = _speak(voice, sentences, renderer, should_cancel)
    sr, source = renderer.sample_rate, target.source_rate
    rate = comparison_rate(source)
    band = [to_band(c, sr, source) for c in clips]
    fitted = TimbreFilter.fit(*recorded_ltas(sentences), *ltas_total(band, rate), rate).to_array()
    options: dict[str, np.ndarray | None] = {"none": None, "fitted": fitted}
    if current is not None:
        options["searched"] = np.asarray(current)
    scores = {}
    for name, array in options.items():
        flt = None if array is None else TimbreFilter.from_array(array)
        heard = band if flt is None else [to_band(flt.apply(c, sr), sr, source) for c in clips]
        scores[name] = _centroid_similarity(heard, target)
    best = max(scores, key=lambda k: scores[k])
    return options[best], {"timbre": best, "timbre_similarity": {k: round(v, 4) for k, v in scores.items()}}
