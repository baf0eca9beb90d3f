"""Calibrate the consent check's speaker threshold on the real speakers (docs/consent.md).

For every speaker with enough audio (a "target"): a reference made like a dataset's (the weighted mean of
the narrowband embeddings of --reference clips, engine.consent.reference_from_clips), then
"consent-like" trial clips of 6-10 s (real clips of one speaker joined with 0.3 s pauses, as a statement
read aloud is 5-15 s), never taken from the reference clips. Same-speaker trials against their own
speaker's reference are genuine; every other speaker's trials against it are impostors.
For each threshold t: false accept rate = impostor scores >= t, false reject rate = genuine scores < t.

Usage: python bench/bench_consent.py [SPEECH_DIR] [--reference 20] [--trials 40] [--seed 0]
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time
from pathlib import Path

import numpy as np

MIN_TARGET_CLIPS = 60  # speakers with fewer clips (librivox_en: 5) are impostors only


def read_manifest(root: Path) -> dict[str, list[dict]]:
    by_speaker: dict[str, list[dict]] = {}
    with open(root / "manifest.tsv", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = Path(row["path"])
            row["path"] = path if path.is_absolute() else root / path
            row["seconds"] = float(row["seconds"])
            by_speaker.setdefault(row["speaker"], []).append(row)
    return by_speaker


def consent_like(rows: list[dict], rng: random.Random, count: int, load) -> list[tuple[np.ndarray, int]]:  # noqa: ANN001
    """`count` clips of 6-10 s, each made of whole clips of one speaker joined with 0.3 s of silence."""
    pool = [r for r in rows if r["seconds"] >= 1.0]
    trials = []
    for _ in range(count * 5):
        if len(trials) == count:
            break
        rng.shuffle(pool)
        parts, total = [], 0.0
        for r in pool:
            if total + r["seconds"] > 10.0:
                continue
            parts.append(r)
            total += r["seconds"] + 0.3
            if total >= 6.0:
                break
        if total < 6.0:
            continue
        audio = [load(r["path"]) for r in parts]
        sr = audio[0][1]
        gap = np.zeros(int(0.3 * sr), np.float32)
        joined = np.concatenate([x for a, _ in audio for x in (a, gap)][:-1])
        trials.append((joined, sr))
    return trials


def main() -> None:
    from voicesmith.engine import consent
    from voicesmith.engine.audio import load_audio

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("speech", nargs="?", type=Path,
                    default=Path(os.environ.get("VOICESMITH_SPEECH_DATA", ".cache/speech")))
    ap.add_argument("--reference", type=int, default=20)
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    speakers = read_manifest(args.speech)

    cache: dict[Path, tuple[np.ndarray, int]] = {}

    def load(path: Path) -> tuple[np.ndarray, int]:
        if path not in cache:
            cache[path] = load_audio(path)
        return cache[path]

    references: dict[str, np.ndarray] = {}
    trial_embeddings: dict[str, list[np.ndarray]] = {}
    for name, rows in sorted(speakers.items()):
        rows = list(rows)
        rng.shuffle(rows)
        trial_rows = rows
        if len(rows) >= MIN_TARGET_CLIPS:
            ref_rows = [r for r in rows if r["seconds"] >= 1.5][: args.reference]
            references[name], _ = consent.reference_from_clips([load(r["path"]) for r in ref_rows])
            used = {id(r) for r in ref_rows}
            trial_rows = [r for r in rows if id(r) not in used]
        trials = consent_like(trial_rows, rng, args.trials, load)
        embs = []
        for audio, sr in trials:
            try:
                embs.append(consent.voice_embedding(audio, sr))
            except ValueError:
                pass
        trial_embeddings[name] = embs

    genuine: list[float] = []
    impostor: list[float] = []
    per_pair: dict[str, dict[str, float]] = {}
    for target, ref in references.items():
        for name, embs in trial_embeddings.items():
            scores = [consent.similarity(e, ref) for e in embs]
            if not scores:
                continue
            (genuine if name == target else impostor).extend(scores)
            per_pair[f"{name}->{target}"] = {"n": len(scores), "min": round(min(scores), 4),
                                             "median": round(float(np.median(scores)), 4),
                                             "max": round(max(scores), 4)}
    g, i = np.array(genuine), np.array(impostor)
    rates = []
    for t in np.round(np.arange(0.50, 0.96, 0.01), 2):
        rates.append({"threshold": float(t), "far": round(float((i >= t).mean()), 4),
                      "frr": round(float((g < t).mean()), 4)})
    # Instant clones compare the consent recording with the one clip being cloned, not with a dataset:
    # one consent-like trial as the reference, every other trial as the clip.
    clone_g, clone_i = [], []
    names = sorted(trial_embeddings)
    for a in names:
        for b in names:
            for x, ea in enumerate(trial_embeddings[a]):
                for y, eb in enumerate(trial_embeddings[b]):
                    if a == b and x < y:
                        clone_g.append(consent.similarity(ea, eb))
                    elif a < b:
                        clone_i.append(consent.similarity(ea, eb))
    cg, ci = np.array(clone_g), np.array(clone_i)
    eer = min(rates, key=lambda r: abs(r["far"] - r["frr"]))
    current = consent.SPEAKER_THRESHOLD
    at_current = {"threshold": current, "far": round(float((i >= current).mean()), 4),
                  "frr": round(float((g < current).mean()), 4)}
    print(json.dumps({
        "bench": "consent_threshold", "seed": args.seed, "targets": sorted(references),
        "speakers": sorted(trial_embeddings), "reference_clips": args.reference,
        "genuine_trials": len(g), "impostor_trials": len(i),
        "genuine": {"min": round(float(g.min()), 4), "p1": round(float(np.percentile(g, 1)), 4),
                    "median": round(float(np.median(g)), 4)},
        "impostor": {"max": round(float(i.max()), 4), "p99": round(float(np.percentile(i, 99)), 4),
                     "median": round(float(np.median(i)), 4)},
        "pairs": per_pair, "eer_point": eer, "chosen": at_current,
        "clone": {"genuine_pairs": len(cg), "impostor_pairs": len(ci), "genuine_min": round(float(cg.min()), 4),
                  "genuine_p1": round(float(np.percentile(cg, 1)), 4), "impostor_max": round(float(ci.max()), 4),
                  "impostor_p99": round(float(np.percentile(ci, 99)), 4),
                  "at_threshold": {"far": round(float((ci >= current).mean()), 4),
                                   "frr": round(float((cg < current).mean()), 4)}},
        "rates": rates,
        "seconds": round(time.perf_counter() - started, 1),
    }), flush=True)


if __name__ == "__main__":
    main()
