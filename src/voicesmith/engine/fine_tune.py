"""The fine-tune pipeline: recordings in, four voices and a measured report out.

Stages (`ProgressUpdate.stage`): ingest (check every file, refuse unusable datasets) -> segment and
transcribe (`utterances.prepare_utterances`) -> split (deterministic held-out set) -> adapt (start
point, then the four voices of `voice_set`) -> evaluate (held-out report). Every stage leaves its
result in `workdir`, and the searches checkpoint every generation, so running the same request
again in the same workdir (after a worker was killed) resumes where it stopped.

`should_cancel` is polled between syntheses and between files; a cancel raises `Cancelled` within
about one synthesis (a second or two). Work already done stays in `workdir`.

Budgets: `params["budget"]` names one of budgets.BUDGETS, with field overrides (budgets.py).
Checkpoints: every file a stage leaves is written atomically (checkpoints.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from voicesmith.engine import bespoke, dataset_report, evaluate, speaker_data, split, style_space, utterances, voice_set
from voicesmith.engine.adapt import (
    AdaptTask,
    Candidate,
    IntelligibilityGuard,
    ObjectiveWeights,
    Sentence,
    adapt,
)
from voicesmith.engine.budgets import (
    BUDGETS, STAGE_WORK, Budget, bespoke_work, budget_from_params, expected_seconds, planned_work,
)
from voicesmith.engine.checkpoints import load_json, save_json
from voicesmith.engine.rendering import Cancelled, Renderer
from voicesmith.engine.settings import usable_cores
from voicesmith.engine.style_space import StyleSpace
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.engine.voice_profile import SpeakerProfile, to_band

__all__ = [
    "AudioFile", "BUDGET_NAMES", "Cancelled", "DatasetRejected", "FineTuneRequest", "FineTuneResult",
    "FineTunedVoice", "ProgressUpdate", "STAGE_WORK", "expected_training_seconds", "measured_pace", "run_fine_tune",
]

STAGES = ("ingest", "segment", "transcribe", "adapt", "evaluate")


class DatasetRejected(Exception):
    """The recordings cannot make a voice. `reason_code`: silence_only, no_speech, unreadable,
    multiple_speakers, too_little_speech, no_files, no_transcripts."""

    def __init__(self, reason_code: str, message: str, report: dict | None = None) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message
        self.report = report


@dataclass
class AudioFile:
    path: Path
    filename: str | None = None  # the user's name for it (uploads are stored under other names)
    transcript: str | None = None  # the user's text for the whole file


@dataclass
class FineTuneRequest:
    files: list[AudioFile]
    language: str = "en"
    name: str = "My voice"  # base name of the four voices
    params: dict = field(default_factory=dict)  # {"budget": "tiny"|"default"|"max", field overrides, "seed"}
    analyses: dict[str, dict] | None = None  # per-file dataset analyses already made, by filename
    min_usable_s: float = 60.0
    # This server's measured pace per stage (`measured_pace` of its recent runs): seconds here per second on the
    # reference machine. It calibrates the ETA before this run has measured its own; None: the reference pace.
    pace: dict[str, float] | None = None


@dataclass
class ProgressUpdate:
    stage: str  # one of STAGES
    progress: float  # overall, 0..1
    eta_seconds: float | None
    message: str


@dataclass
class FineTunedVoice:
    name: str
    description: str
    artifact: VoiceArtifact
    key: str = ""  # match | clear | style_a | style_b
    previews: list[tuple[str, bytes]] = field(default_factory=list)  # (text, wav bytes)

    def __iter__(self):  # unpacks as (name, description, artifact)
        return iter((self.name, self.description, self.artifact))


@dataclass
class FineTuneResult:
    voices: list[FineTunedVoice]
    report: dict
    # (text, wav bytes) of the real held-out recordings each voice's previews say again, in the same order.
    real_samples: list[tuple[str, bytes]] = field(default_factory=list)


# --- progress ----------------------------------------------------------------------------------

def _audio_seconds(files: list[AudioFile]) -> float:
    from voicesmith.engine.audio import AudioDecodeError, probe_audio

    total = 0.0
    for f in files:
        try:
            total += probe_audio(f.path).duration_s
        except (AudioDecodeError, OSError):
            continue
    return total


def _stage_spans(expected: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Each stage's [start, end) share of the progress bar, in proportion to its expected time.
    Segmenting and transcribing alternate file by file, so they share one span."""
    total = sum(expected.values()) or 1.0
    spans, at = {}, 0.0
    for stage in STAGE_WORK:
        spans[stage] = (at, at + expected[stage] / total)
        at = spans[stage][1]
    spans["segment"] = spans["transcribe"] = spans.pop("prepare")
    return spans


BUDGET_NAMES = tuple(BUDGETS)


def expected_training_seconds(budget_name: str, audio_s: float, pace: dict[str, float] | None) -> float:
    """A fine-tune's expected time (ingest to report) on `audio_s` of analysed recordings at `pace`."""
    return sum(expected_seconds(planned_work(BUDGETS[budget_name], audio_s, analysed=True), pace).values())


def measured_pace(report: dict) -> dict[str, float] | None:
    """A completed run's pace per stage: its seconds per reference second of planned work (None: not measurable,
    e.g. a report from before the plan was recorded)."""
    work, took = report.get("planned_work_s"), report.get("timings_s")
    if not isinstance(work, dict) or not isinstance(took, dict):
        return None
    seconds = {"ingest": took.get("ingest"), "adapt": took.get("adapt"), "evaluate": took.get("evaluate"),
               "prepare": (took.get("segment_transcribe") or 0.0) + (took.get("split_profile") or 0.0)}
    pace = {stage: seconds[stage] / work[stage] for stage in STAGE_WORK
            if isinstance(seconds[stage], (int, float)) and isinstance(work.get(stage), (int, float)) and work[stage] > 0}
    return pace or None


class _Progress:
    def __init__(
        self, report: Callable[[ProgressUpdate], None], should_cancel: Callable[[], bool],
        expected: dict[str, float],
    ) -> None:
        self._report = report
        self._spans = _stage_spans(expected)
        self._expected_total = sum(expected.values())
        self._should_cancel = should_cancel
        self._t0 = time.monotonic()
        self._last = 0.0
        self._first: float | None = None  # progress at this run's first update (a resumed run starts late)

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if self._should_cancel():
            raise Cancelled()
        lo, hi = self._spans[stage]
        overall = max(self._last, lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
        self._last = overall
        if self._first is None:
            self._first, self._t0 = overall, time.monotonic()
        self._report(ProgressUpdate(stage, round(overall, 4), self._eta(overall), message))

    def _eta(self, overall: float) -> float | None:
        # The plan at the measured pace until this run has measured its own on enough of the work, then its own:
        # the bar is in proportion to expected time, so its pace so far extrapolates to the rest.
        planned = self._expected_total * (1 - overall)
        elapsed = time.monotonic() - self._t0
        done = overall - self._first
        if done <= 0.02 or elapsed <= 5:
            return round(planned, 1) if self._expected_total > 0 else None
        own = elapsed * (1 - overall) / done
        trust = min(1.0, done / 0.3)
        return round(trust * own + (1 - trust) * planned, 1)

    def stage(self, stage: str) -> Callable[[float, str], None]:
        return lambda fraction, message: self(stage, fraction, message)


# --- stages ------------------------------------------------------------------------------------


def _ingest(request: FineTuneRequest, workdir: Path, progress: _Progress) -> dict[str, dict]:
    """Analyse every file (or reuse given/cached analyses) and refuse datasets that cannot train."""
    path = workdir / "analyses.json"
    analyses: dict[str, dict] = dict(request.analyses or {})
    analyses.update(load_json(path) or {})
    for k, f in enumerate(request.files):
        name = f.filename or Path(f.path).name
        if name not in analyses:
            progress("ingest", k / max(1, len(request.files)), f"checking {name}")
            analyses[name] = dataset_report.analyze_file(Path(f.path), f.transcript, filename=name)
            if k % 20 == 0:
                save_json(path, analyses)
    save_json(path, analyses)
    names = [f.filename or Path(f.path).name for f in request.files]
    report = dataset_report.build_report([analyses[n] for n in names], request.min_usable_s)
    if not report["ok_to_train"]:
        raise DatasetRejected(report["reason_code"], report["message"], report)
    progress("ingest", 1.0, report["message"])
    return analyses


def _prepare(request: FineTuneRequest, workdir: Path, analyses: dict[str, dict], progress: _Progress):
    """Segmented, transcribed utterances (resumable: cached in workdir/prepared.json)."""
    folder = workdir / "utterances"
    cached = load_json(workdir / "prepared.json")
    if cached is not None:
        return [utterances.Utterance.from_json(d, folder) for d in cached["utterances"]], cached["source_rate"]

    seen = {"stage": "segment"}

    def relay(fraction: float, message: str) -> None:
        # Files are decoded, segmented and transcribed one after the other; the stage shown moves
        # on to "transcribe" at the first transcription and stays there.
        if message.startswith("transcribing"):
            seen["stage"] = "transcribe"
        progress(seen["stage"], fraction, message)

    files = [utterances.SourceFile(Path(f.path), f.filename, f.transcript) for f in request.files]
    prepared = utterances.prepare_utterances(files, workdir, relay, language=request.language, analyses=analyses)
    progress("transcribe", 1.0, f"{len(prepared)} utterances ready")
    save_json(workdir / "prepared.json", {
        "utterances": [u.to_json() for u in prepared],
        "source_rate": prepared.embedding_rate,
        "excluded": [{"id": e.utterance.id, "reason": e.reason, "message": e.message} for e in prepared.excluded],
        "skipped_files": prepared.skipped_files,
    })
    return list(prepared), prepared.embedding_rate


@dataclass
class _Prepared:
    train: list
    held: list
    pool: list[Sentence]
    pool_index: list[int]
    profile: SpeakerProfile
    source_rate: int


def _training_data(request: FineTuneRequest, workdir: Path, utts: list, source_rate: int, budget: Budget) -> _Prepared:
    usable = [u for u in utts if u.embedding is not None]
    train, held = split.split_utterances(usable)
    if not any(u.text for u in train) or not any(u.text for u in held):
        raise DatasetRejected(
            "no_transcripts",
            f"No transcripts for '{request.language}' recordings: automatic transcription covers English only. "
            "Upload a .txt per audio file or a metadata.csv (file|text).",
        )
    path = workdir / "training_data.json"
    cached = load_json(path)
    if cached is not None:
        pool = [Sentence.from_dict(d) for d in cached["pool"]]
        return _Prepared(train, held, pool, cached["pool_index"], SpeakerProfile.from_dict(cached["profile"]), source_rate)
    pool, pool_index = speaker_data.training_pool(train, request.language, source_rate, budget.max_pool)
    profile = speaker_data.speaker_profile(train, pool, pool_index, source_rate)
    save_json(path, {"pool": [s.to_dict() for s in pool], "pool_index": pool_index, "profile": profile.to_dict()})
    return _Prepared(train, held, pool, pool_index, profile, source_rate)


def _candidate_json(c: Candidate) -> dict:
    return {"z": [float(x) for x in c.z], "pitch_scale": c.pitch_scale, "speed": c.speed}


def _candidate_from(d: dict) -> Candidate:
    return Candidate(np.asarray(d["z"], dtype=np.float64), float(d["pitch_scale"]), float(d["speed"]))


def _title(name: str) -> str:
    return name.strip() or "My voice"


def _search_stage(
    request: FineTuneRequest, workdir: Path, data: _Prepared, budget: Budget, renderer: Renderer,
    guard: IntelligibilityGuard, say: Callable[[float, str], None], should_cancel: Callable[[], bool], seed: int,
) -> tuple[list[voice_set.BuiltVoice], dict]:
    """The style search's four voices (the first part of the "adapt" stage)."""
    weights = ObjectiveWeights()
    # Work units for the progress bar: generations of each search (the variants are shorter), one
    # for the start point, one for the clear variant, one for the four timbre filters.
    total_units = budget.generations + 2 * budget.variant_generations + 3

    start_path = workdir / "start.json"
    saved = load_json(start_path)
    if saved is None:
        say(0.0, "choosing a start point")
        probe = speaker_data.evenly(data.pool, budget.probe_sentences)
        option, start, ranking = voice_set.choose_start(data.profile, probe, renderer, weights, should_cancel)
        saved = {"label": option.label, "base": option.label, "candidate": _candidate_json(start), "ranking": ranking}
        np.save(workdir / "start_base.npy", option.space.base)
        save_json(start_path, saved)
    space = StyleSpace(np.load(workdir / "start_base.npy"))
    start = _candidate_from(saved["candidate"])
    done = 1

    def sub(offset: int, span: int) -> Callable[[float, str], None]:
        return lambda f, m: say((offset + f * span) / total_units, m)

    timbre_set = speaker_data.evenly(data.pool, budget.timbre_sentences)

    def timbre_of(key: str, voice: VoiceArtifact, current: np.ndarray | None) -> tuple[np.ndarray | None, dict]:
        path = workdir / f"timbre_{key}.json"
        chosen = load_json(path)
        if chosen is None:
            array, details = voice_set.choose_timbre(voice, timbre_set, data.profile, renderer, current, should_cancel)
            chosen = {"timbre": None if array is None else array.tolist(), "details": details}
            save_json(path, chosen)
        return None if chosen["timbre"] is None else np.asarray(chosen["timbre"], np.float32), chosen["details"]

    say(0.5 / total_units, "choosing a timbre filter for the start voice")
    start_timbre, _ = timbre_of("start", space.artifact(start.z, start.pitch_scale, start.speed), None)
    match_task = AdaptTask("match", space, data.profile, data.pool, start, budget=budget.search(budget.generations),
                           weights=weights, seed=seed, timbre=start_timbre)
    match = adapt(match_task, renderer, guard, workdir / "search", sub(done, budget.generations), should_cancel)
    done += budget.generations
    name = _title(request.name)
    voices = [voice_set.BuiltVoice(
        "match", "closest match",
        f"{name} — closest match: the voice searched for the highest likeness to your recordings "
        f"(timbre, delivery, pitch and pace all adapted).",
        match.artifact, {"guard_error": match.guard_error, "start_guard_error": match.start_guard_error,
                         "evaluations": match.evaluations, "seconds": round(match.seconds, 1)},
    )]

    clear_path = workdir / "voice_clear.json"
    clear = load_json(clear_path)
    if clear is None:
        say(done / total_units, "making the clear variant")
        artifact, details = voice_set.build_clear(match, match_task, guard, voice_set.ClearPlan(), should_cancel)
        clear = {"artifact": artifact.to_bytes().hex(), "details": details}
        save_json(clear_path, clear)
    done += 1
    d = clear["details"]
    voices.append(voice_set.BuiltVoice(
        "clear", "clear",
        f"{name} — clear: the closest match pulled {100 * (1 - d['shrink']):.0f}% of the way back towards a stock "
        f"voice's articulation and spoken {100 * (1 - d['speed_factor']):.0f}% slower. Less like you, easier to "
        "follow: for announcements and long reads.",
        VoiceArtifact.from_bytes(bytes.fromhex(clear["artifact"])), d,
    ))

    features = speaker_data.prosody_features(data.train, data.pool, data.pool_index, data.source_rate)
    groups = voice_set.prosody_groups(features, seed)
    train_emb = np.stack([data.train[i].embedding for i in data.pool_index])
    if groups is None:
        raise DatasetRejected("too_little_speech", "Too few transcribed utterances to find speaking styles.")
    for key, group, other, offset in (("style_a", groups[0], groups[1], 0), ("style_b", groups[1], groups[0], 1)):
        target = voice_set.group_target(data.profile, group, train_emb)
        sentences = [data.pool[i] for i in group.indices]
        task = voice_set.variant_task(key, match_task, match, data.profile, target, sentences,
                                      budget.search(budget.variant_generations), seed + 1 + offset)
        result = adapt(task, renderer, guard, workdir / "search",
                       sub(done, budget.variant_generations), should_cancel)
        done += budget.variant_generations
        label, contrast = voice_set.describe_contrast(group, other)
        share = len(group.indices) / len(data.pool)
        voices.append(voice_set.BuiltVoice(
            key, label,
            f"{name} — {label}: the closest match's delivery adapted to the {share:.0%} of your recordings that are "
            f"{contrast} than the rest.",
            result.artifact, {"utterances": len(group.indices), "guard_error": result.guard_error},
        ))
    for k, v in enumerate(voices):
        say((done + k / len(voices)) / total_units, f"choosing the timbre filter of the {v.label} voice")
        array, details = timbre_of(v.key, v.artifact, start_timbre)
        v.artifact = replace(v.artifact, timbre=array)
        v.details.update(details)
    say(1.0, "four voices adapted")
    return voices, {"start": saved, "source_rate": data.source_rate}


def _bespoke_stage(
    workdir: Path, data: _Prepared, budget: Budget, renderer: Renderer, guard: IntelligibilityGuard,
    voices: list[voice_set.BuiltVoice], say: Callable[[float, str], None], should_cancel: Callable[[], bool],
    seed: int,
) -> tuple[list[voice_set.BuiltVoice], bespoke.Bespoke | None]:
    """The searched voices through a decoder trained on the recordings, where the guard accepts them (the second
    part of the "adapt" stage; engine/bespoke.py)."""
    plan = budget.bespoke
    if not plan.enabled:
        return voices, None
    match = next(v for v in voices if v.key == "match")
    listen = speaker_data.evenly(data.pool, budget.timbre_sentences)
    # The sentences the guard judges by are kept out of the training: it hears the decoder on sentences it never saw.
    judged = {id(s) for s in [*guard.sentences, *listen]}
    kept = [(s, i) for s, i in zip(data.pool, data.pool_index) if id(s) not in judged]
    if len(kept) < 2:  # one to train on and one for early stopping, at the least
        say(1.0, "too few recordings besides the guard's sentences to train a decoder: the searched voices stay")
        return voices, None
    pool = bespoke.recordings([s for s, _ in kept], data.train, [i for _, i in kept])
    trained = bespoke.train(match.artifact, pool, data.source_rate, plan, workdir, lambda f, m: say(0.8 * f, m),
                            should_cancel, centroid=data.profile.centroid, threads=usable_cores(), seed=seed)
    # The closest match put on the speaker's median F0 (the decoder moved it), the others by the same ratio.
    path = workdir / "bespoke" / "pitch.json"
    pitch = load_json(path)
    if pitch is None:
        say(0.8, "setting the bespoke voices' pitch")
        bespoke_hz = voice_set.median_f0(trained.voice(match.artifact), listen, data.profile, renderer, should_cancel)
        pitch = {"pitch_ratio": round(bespoke.pitch_ratio(data.profile.f0_median_hz, bespoke_hz), 4),
                 "speaker_f0_hz": _finite(data.profile.f0_median_hz), "bespoke_f0_hz_before": _finite(bespoke_hz)}
        save_json(path, pitch)
    trained = replace(trained, pitch_ratio=pitch["pitch_ratio"], details={**trained.details, "pitch": pitch})
    # One filter for the four voices: they share the decoder and its timbre, and differ in delivery.
    path = workdir / "bespoke" / "filter.json"
    chosen_filter = load_json(path)
    if chosen_filter is None:
        say(0.82, "choosing the timbre filter of the bespoke voices")
        array, details = voice_set.choose_timbre(trained.voice(match.artifact), listen, data.profile, renderer,
                                                 match.artifact.timbre, should_cancel)
        chosen_filter = {"filter": None if array is None else array.tolist(), "details": details}
        save_json(path, chosen_filter)
    flt = chosen_filter["filter"]
    trained = replace(trained, filter=None if flt is None else np.asarray(flt, np.float32),
                      details={**trained.details, **chosen_filter["details"]})
    # The guard's spectral half: the closest match through the decoder and as searched, on the same sentences.
    path = workdir / "bespoke" / "spectrum.json"
    spectral = load_json(path)
    if spectral is None:
        say(0.84, "comparing the bespoke voices' spectrum with your recordings")
        index = {id(s): i for s, i in zip(data.pool, data.pool_index)}
        recorded = [to_band(data.train[index[id(s)]].load(), data.train[index[id(s)]].sample_rate, data.source_rate)
                    for s in listen]
        spectral = bespoke.spectrum(*(voice_set.mfcc_distance(v, listen, recorded, data.profile, renderer,
                                                              should_cancel)
                                      for v in (trained.voice(match.artifact), match.artifact)), len(listen))
        save_json(path, spectral)
    chosen = bespoke.choose(voices, trained,
                            lambda voice: voice_set.hear(voice, guard, data.profile, renderer, should_cancel),
                            guard.metric, spectral, workdir, lambda f, m: say(0.87 + 0.13 * f, m))
    return chosen, trained


def _finite(hz: float) -> float | None:
    return round(hz, 1) if math.isfinite(hz) else None


def _evaluate_stage(
    request: FineTuneRequest, workdir: Path, data: _Prepared, budget: Budget, renderer: Renderer,
    voices: list[voice_set.BuiltVoice], start_info: dict, progress: _Progress, should_cancel: Callable[[], bool],
    reference: tuple[str, str, VoiceArtifact] | None, trained: bespoke.Bespoke | None,
) -> FineTuneResult:
    """Every voice on the held-out split, and `reference` (key, what, voice) beside them: the closest match that
    the bespoke stage did not hand to the user (the searched one it replaced, or the bespoke one it refused)."""
    say = progress.stage("evaluate")
    centroid = speaker_data.train_centroid(data.train)
    held = speaker_data.held_out_set(data.held, centroid, request.language, data.source_rate, budget.eval_utterances,
                                     data.train)
    steps = len(style_space.stock_packs()) + 1 + len(voices) + (reference is not None)
    k = 0
    stock = {}
    for key, pack in style_space.stock_packs().items():
        say(k / steps, f"measuring stock voice {key}")
        stock[key] = evaluate.evaluate_voice(VoiceArtifact(pack), held, renderer, with_wer=False, should_cancel=should_cancel)
        k += 1
    start_space = StyleSpace(np.load(workdir / "start_base.npy"))
    start = _candidate_from(start_info["start"]["candidate"])
    start_voice = start_space.artifact(start.z, start.pitch_scale, start.speed)
    say(k / steps, "measuring the start point")
    start_eval = evaluate.evaluate_voice(start_voice, held, renderer, should_cancel=should_cancel)
    k += 1
    evaluated = []
    for v in voices:
        say(k / steps, f"measuring {v.label}")
        evaluated.append(evaluate.evaluate_voice(v.artifact, held, renderer, previews=evaluate.PREVIEW_COUNT,
                                                 should_cancel=should_cancel))
        k += 1
    measured_reference = None
    if reference is not None:
        key, what, voice = reference
        say(k / steps, f"measuring the {what}")
        measured_reference = (key, what, evaluate.evaluate_voice(voice, held, renderer, should_cancel=should_cancel))
    name = _title(request.name)
    voice_names = [v.description.split(":")[0] for v in voices]
    report = evaluate.build_report(
        held, stock, start_eval, start_info["start"]["label"],
        [(v.key, n, ev) for v, n, ev in zip(voices, voice_names, evaluated)],
        measured_reference,
    )
    if trained is not None:
        report["bespoke"] = {
            "what": "low-rank adapters of Kokoro's decoder and the timbre half of the style, trained from the "
                    "closest match on the training recordings (teacher forced); each voice uses them only where "
                    "it is as intelligible and as like the speaker as the searched voice (engine/bespoke.py: choose)",
            "optimised": "multi-resolution STFT reconstruction of training recordings plus Resemblyzer similarity to "
                         "the speaker (the speaker term); of the report's measures, Resemblyzer",
            "used_by": [v.key for v in voices if v.details.get("bespoke", {}).get("used")],
            **trained.details,
        }
    report["start_options"] = start_info["start"]["ranking"]
    for entry, v in zip(report["voices"], voices):
        entry["details"] = v.details
    result_voices = []
    for v, n, ev in zip(voices, voice_names, evaluated):
        meta = {"source": "fine_tune", "variant": v.key, "held_out_similarity": round(ev.similarity, 4),
                "speaker_name": name}
        artifact = replace(v.artifact, meta=meta)
        result_voices.append(FineTunedVoice(n, v.description, artifact, v.key, ev.previews))
    say(1.0, "report ready")
    return FineTuneResult(result_voices, report, held.real_samples(evaluate.PREVIEW_COUNT))


def _save_result(result: FineTuneResult, folder: Path) -> None:
    """The finished result, so a re-run after completion (e.g. the worker died before the job was
    marked complete) returns it without redoing anything. Written last, atomically via the index."""
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for v in result.voices:
        (folder / f"{v.key}.voice").write_bytes(v.artifact.to_bytes())
        previews = []
        for i, (text, wav) in enumerate(v.previews):
            (folder / f"{v.key}-{i}.wav").write_bytes(wav)
            previews.append({"text": text, "file": f"{v.key}-{i}.wav"})
        index.append({"key": v.key, "name": v.name, "description": v.description, "previews": previews})
    real = []
    for i, (text, wav) in enumerate(result.real_samples):
        (folder / f"real-{i}.wav").write_bytes(wav)
        real.append({"text": text, "file": f"real-{i}.wav"})
    save_json(folder / "result.json", {"voices": index, "report": result.report, "real_samples": real})


def _load_result(folder: Path) -> FineTuneResult | None:
    saved = load_json(folder / "result.json")
    if saved is None:
        return None
    voices = [
        FineTunedVoice(
            v["name"], v["description"], VoiceArtifact.from_bytes((folder / f"{v['key']}.voice").read_bytes()), v["key"],
            [(p["text"], (folder / p["file"]).read_bytes()) for p in v["previews"]],
        )
        for v in saved["voices"]
    ]
    real = [(p["text"], (folder / p["file"]).read_bytes()) for p in saved.get("real_samples", [])]
    return FineTuneResult(voices, saved["report"], real)


def run_fine_tune(
    request: FineTuneRequest,
    progress: Callable[[ProgressUpdate], None],
    should_cancel: Callable[[], bool],
    workdir: Path,
) -> FineTuneResult:
    """Run (or resume, from `workdir`) a fine-tune. Raises DatasetRejected or Cancelled."""
    import torch

    # One torch thread: parallelism comes from the renderer's threads. With torch's default pool
    # on a shared 2-core machine, one Resemblyzer embedding took 28 s instead of 1 s (spin-waiting
    # OpenMP threads fighting other processes).
    torch.set_num_threads(1)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    budget = budget_from_params(request.params)
    seed = int(request.params.get("seed", 0))
    work = planned_work(budget, _audio_seconds(request.files), bool(request.analyses))
    tracker = _Progress(progress, should_cancel, expected_seconds(work, request.pace))
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    done = _load_result(workdir / "result")
    if done is not None:
        tracker("evaluate", 1.0, "already complete")
        return done
    tracker("ingest", 0.0, f"checking {len(request.files)} files")
    if not request.files:
        raise DatasetRejected("no_files", "The dataset has no audio files.")
    analyses = _ingest(request, workdir, tracker)
    timings["ingest"] = time.monotonic() - t0
    utts, source_rate = _prepare(request, workdir, analyses, tracker)
    timings["segment_transcribe"] = time.monotonic() - t0 - sum(timings.values())
    if source_rate is None or len(utts) < 10:
        raise DatasetRejected("too_little_speech", "Too few usable utterances were found in the recordings.")
    data = _training_data(request, workdir, utts, source_rate, budget)
    timings["split_profile"] = time.monotonic() - t0 - sum(timings.values())

    with Renderer() as renderer:
        guard = IntelligibilityGuard(speaker_data.guard_sentences(data.pool, budget.guard_sentences),
                                     request.language, renderer)
        say = tracker.stage("adapt")
        search_share = 1 - bespoke_work(budget) / max(work["adapt"], 1e-9)
        voices, start_info = _search_stage(request, workdir, data, budget, renderer, guard,
                                           lambda f, m: say(search_share * f, m), should_cancel, seed)
        searched = next(v.artifact for v in voices if v.key == "match")
        timings["search"] = time.monotonic() - t0 - sum(timings.values())
        voices, trained = _bespoke_stage(workdir, data, budget, renderer, guard, voices,
                                         lambda f, m: say(search_share + (1 - search_share) * f, m), should_cancel,
                                         seed)
        timings["bespoke"] = time.monotonic() - t0 - sum(timings.values())
        reference = None
        if trained is not None:
            replaced = next(v for v in voices if v.key == "match").artifact is not searched
            reference = (("style_search_match", "closest match as the style search made it", searched) if replaced
                         else ("bespoke_match", "closest match through the bespoke decoder (not used)",
                               trained.voice(searched)))
        result = _evaluate_stage(request, workdir, data, budget, renderer, voices, start_info, tracker, should_cancel,
                                 reference, trained)
        timings["evaluate"] = time.monotonic() - t0 - sum(timings.values())
        timings["adapt"] = timings["search"] + timings["bespoke"]  # the stage both parts report progress under
        workers = renderer.workers
    result.report["budget"] = asdict(budget)
    result.report["threads"] = workers
    result.report["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    result.report["planned_work_s"] = {k: round(v, 2) for k, v in work.items()}
    result.report["train_utterances"] = len(data.train)
    result.report["held_out_total"] = len(data.held)
    result.report["source_rate_hz"] = source_rate
    _save_result(result, workdir / "result")
    return result
