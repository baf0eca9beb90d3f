"""Benchmark the fine-tune on real speakers; one JSON line per speaker.

For each speaker of the speech corpus (default allison_en and carlo_it, whole sets, default budget):
wall time per stage (the report's `timings_s` splits "adapt" into the style search and the bespoke decoder),
peak RSS, each voice's artifact size, the report's held-out similarity / fraction of the floor->ceiling gap
closed / WER vs the real recordings for each voice and for the style search's closest match before its bespoke
decoder, and the instant clone (time for one ~20 s clip, and its gap closed on the same held-out set). Transcripts from the corpus manifest are passed as the
user's transcripts (as a user uploading metadata.csv would); --asr makes English use Whisper instead.

Usage: python bench/bench_fine_tune.py [--speakers allison_en carlo_it] [--minutes M] [--budget default]
       [--param bespoke_steps=60 ...] (the default budget trains no bespoke decoder: that turns it on)
Note the machine load in the output: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def corpus_files(root: Path, speaker: str, minutes: float | None):
    from voicesmith.engine.fine_tune import AudioFile

    rows = [r for r in csv.DictReader(open(root / "manifest.tsv"), delimiter="\t") if r["speaker"] == speaker]
    rows.sort(key=lambda r: r["path"])
    files, total = [], 0.0
    for r in rows:
        if minutes is not None and total >= minutes * 60:
            break
        files.append((AudioFile(root / r["path"], Path(r["path"]).name, r["text"]), r["lang"]))
        total += float(r["seconds"])
    return [f for f, _ in files], files[0][1], total


def clone_figures(workdir: Path, language: str, report: dict) -> dict:
    """Instant clone from ~20 s of training audio, measured on the fine-tune's held-out set."""
    from voicesmith.engine import clone, evaluate, speaker_data, split, utterances
    from voicesmith.engine.rendering import Renderer

    prepared = json.loads((workdir / "prepared.json").read_text())
    utts = [utterances.Utterance.from_json(d, workdir / "utterances") for d in prepared["utterances"]]
    train, held = split.split_utterances([u for u in utts if u.embedding is not None])
    audio, sr = [], 24000
    for u in train:
        if sum(len(a) for a in audio) >= 20 * sr:
            break
        audio.append(u.load())
    clip = np.concatenate(audio)
    t = time.perf_counter()
    clone.instant_clone(clip, sr)  # cold: loads the speech model a server has loaded already
    cold = time.perf_counter() - t
    t = time.perf_counter()
    voice = clone.instant_clone(clip, sr)
    seconds = time.perf_counter() - t
    held_set = speaker_data.held_out_set(held, speaker_data.train_centroid(train), language,
                                         prepared["source_rate"], report["held_out_utterances"])
    with Renderer() as r:
        ev = evaluate.evaluate_voice(voice, held_set, r)
    floor, ceiling = report["floor"]["similarity"], report["ceiling"]["similarity"]
    return {
        "clip_seconds": round(len(clip) / sr, 1),
        "clone_seconds": round(seconds, 3),
        "clone_seconds_cold": round(cold, 3),
        "timbre": voice.meta.get("timbre"),
        "similarity": round(ev.similarity, 4),
        "gap_closed": round(evaluate.gap_closed(ev.similarity, floor, ceiling), 3),
        "wer": None if ev.wer is None else round(ev.wer, 3),
    }


def bench_speaker(root: Path, speaker: str, minutes: float | None, budget: str, asr: bool, keep: Path | None,
                  overrides: dict[str, int]) -> dict:
    from voicesmith.engine.fine_tune import FineTuneRequest, run_fine_tune

    files, language, seconds = corpus_files(root, speaker, minutes)
    if asr and language == "en":
        for f in files:
            f.transcript = None
    workdir = keep / speaker if keep else Path(tempfile.mkdtemp(prefix=f"bench-ft-{speaker}-"))
    stages: dict[str, float] = {}
    last = {"stage": None, "t": time.perf_counter()}

    def progress(update) -> None:
        now = time.perf_counter()
        if update.stage != last["stage"]:
            if last["stage"] is not None:
                stages[last["stage"]] = stages.get(last["stage"], 0.0) + now - last["t"]
            last.update(stage=update.stage, t=now)
            print(f"[{speaker}] {update.stage}: {update.message} (eta {update.eta_seconds})", file=sys.stderr, flush=True)

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    request = FineTuneRequest(files=files, language=language, name=speaker.split("_")[0].title(),
                              params={"budget": budget, **overrides})
    result = run_fine_tune(request, progress, lambda: False, workdir)
    total = time.perf_counter() - t0
    stages[last["stage"]] = stages.get(last["stage"], 0.0) + time.perf_counter() - last["t"]
    report = result.report
    out = {
        "bench": "fine_tune",
        "speaker": speaker,
        "language": language,
        "audio_minutes": round(seconds / 60, 2),
        "files": len(files),
        "budget": budget,
        "budget_overrides": overrides,
        "transcripts": "asr" if asr and language == "en" else "user",
        "wall_seconds": round(total, 1),
        "stage_seconds": {k: round(v, 1) for k, v in stages.items()},
        "report_timings_s": report.get("timings_s"),
        "threads": report.get("threads"),
        "loadavg_1min_start": round(load0, 2),
        "loadavg_1min_end": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "floor": report["floor"],
        "ceiling": report["ceiling"]["similarity"],
        "start_point": report["start_point"],
        "real_wer": report["speaker"]["real_wer"],
        "optimised": report.get("optimised"),
        "likeness": report.get("likeness"),
        "voices": [{**{k: v.get(k) for k in ("key", "name", "similarity", "gap_closed", "wer", "f0_median_hz",
                                             "rate_phones_per_s", "likeness")},
                    "timbre": v.get("details", {}).get("timbre"),
                    "bespoke": v.get("details", {}).get("bespoke")} for v in report["voices"]],
        # The closest match the user did not get, on the same measures: the searched one the bespoke decoder
        # replaced, or the bespoke one the guard refused (both null without a bespoke stage).
        "style_search_match": report.get("style_search_match"),
        "bespoke_match": report.get("bespoke_match"),
        "bespoke": {k: v for k, v in (report.get("bespoke") or {}).items() if k not in ("what", "optimised")},
        "artifact_bytes": {v.key: len(v.artifact.to_bytes()) for v in result.voices},
        "speaker_f0_hz": report["speaker"]["f0_median_hz"],
        "speaker_rate": report["speaker"]["rate_phones_per_s"],
    }
    try:
        out["instant_clone"] = clone_figures(workdir, language, report)
    except RuntimeError as exc:  # the mapping is not installed
        out["instant_clone"] = {"error": str(exc)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speakers", nargs="+", default=["allison_en", "carlo_it"])
    ap.add_argument("--minutes", type=float, default=None, help="use only the first M minutes of each speaker")
    ap.add_argument("--budget", default="default")
    ap.add_argument("--asr", action="store_true", help="English: transcribe with Whisper instead of the manifest text")
    ap.add_argument("--keep", type=Path, default=None, help="keep workdirs here (a re-run resumes from them)")
    ap.add_argument("--param", action="append", default=[], metavar="FIELD=N",
                    help="override a budget field, e.g. --param bespoke_steps=60 (repeatable)")
    args = ap.parse_args()
    overrides = {k: int(v) for k, v in (p.split("=", 1) for p in args.param)}
    root = Path(os.environ.get("VOICESMITH_SPEECH_DATA") or REPO / ".cache" / "speech")
    if not (root / "manifest.tsv").is_file():
        sys.exit(f"no speech corpus at {root}")
    for speaker in args.speakers:
        print(json.dumps(bench_speaker(root, speaker, args.minutes, args.budget, args.asr, args.keep, overrides)),
              flush=True)


if __name__ == "__main__":
    main()
