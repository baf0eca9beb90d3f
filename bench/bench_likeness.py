"""The fine-tune report's likeness measures on stock voices, no fine-tune needed; one JSON line per speaker.

For a speaker of the speech corpus: the fine-tune's own split of the manifest (split.split on file
names), 12 held-out sentences (the default budget's report size), the five stock voices speaking them,
and the real speaker. Per stock voice: Resemblyzer similarity (what the search optimises) and each
likeness measure (engine.likeness), with the floor (best stock voice per measure) and the ceiling (the
held-out real recordings against as many real training recordings). The training centroid for the
Resemblyzer ceiling is made from 60 training clips, not all of them (the fine-tune uses all).

Usage: python bench/bench_likeness.py [--speakers allison_en] [--held 12]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure_speaker(root: Path, speaker: str, held_count: int) -> dict:
    from tests.engine.adapt_data import corpus_rows, manifest_rows
    from voicesmith.engine import likeness, speaker as spk, split, style_space
    from voicesmith.engine.audio import load_audio
    from voicesmith.engine.evaluate import HeldOutSet, evaluate_voice, gap_closed
    from voicesmith.engine.phonemes import phonemize
    from voicesmith.engine.rendering import Renderer
    from voicesmith.engine.speaker_data import evenly
    from voicesmith.engine.voice import VoiceArtifact
    from voicesmith.engine.voice_profile import to_band

    manifest = corpus_rows(root, speaker)
    language, source_rate = manifest[0]["lang"], int(manifest[0]["sample_rate"])
    rows = manifest_rows(root, speaker)
    train, held = split.split_utterances(rows)
    held = evenly(held, held_count)
    load = lambda r: load_audio(r.path, 24000)[0]  # noqa: E731 - the fine-tune's utterances are 24 kHz
    t0 = time.perf_counter()
    held_clips = [load(r) for r in held]
    train_clips = [load(r) for r in evenly(train, len(held))]
    centroid_clips = [load_audio(r.path)[0] for r in evenly(train, 60)]
    centroid = spk.centroid(spk.embed_many(centroid_clips, source_rate))
    held_set = HeldOutSet.from_recordings(
        held_clips, 24000, [r.text for r in held], [phonemize(r.text, language) for r in held], centroid, source_rate,
        language, embeddings=spk.embed_many([load_audio(r.path)[0] for r in held], source_rate), train_clips=train_clips)
    t_held = time.perf_counter() - t0
    band = [to_band(c, 24000, source_rate) for c in held_clips]
    t = time.perf_counter()
    likeness.features(band, held_set.stats.rate)  # the measures' own cost for one voice's clips (warm)
    t_measures = time.perf_counter() - t
    stock, seconds = {}, {}
    with Renderer() as renderer:
        for key, pack in style_space.stock_packs().items():
            t = time.perf_counter()
            stock[key] = evaluate_voice(VoiceArtifact(pack), held_set, renderer, with_wer=False)
            seconds[key] = round(time.perf_counter() - t, 1)
    sim_floor = max(ev.similarity for ev in stock.values())
    floors = {m: min(ev.distances[m] for ev in stock.values()) for m in likeness.DISTANCES}
    return {
        "bench": "likeness",
        "speaker": speaker,
        "held_out": len(held),
        "comparison_rate_hz": held_set.stats.rate,
        "loadavg": os.getloadavg(),
        "held_set_seconds": round(t_held, 1),
        "likeness_seconds_per_voice": round(t_measures, 2),
        "ceiling": {"resemblyzer": round(held_set.ceiling, 4),
                    **{m: round(v, 3) for m, v in held_set.likeness_ceiling.items()},
                    "what": held_set.likeness_ceiling_what},
        "quality_real": {"held_out": round(held_set.real_features.quality, 2), "training": round(held_set.train_quality, 2)},
        "stock": {
            key: {
                "resemblyzer": round(ev.similarity, 4),
                "resemblyzer_gap_closed": round(gap_closed(ev.similarity, sim_floor, held_set.ceiling), 3),
                **{m: {"value": round(ev.distances[m], 3),
                       "gap_closed": round(likeness.fraction(ev.distances[m], floors[m], held_set.likeness_ceiling[m]), 3)}
                   for m in likeness.DISTANCES},
                "quality_dnsmos": round(ev.quality, 2),
                "evaluate_seconds": seconds[key],
            }
            for key, ev in stock.items()
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speakers", nargs="+", default=["allison_en"])
    ap.add_argument("--held", type=int, default=12, help="held-out sentences (the default budget's report size)")
    args = ap.parse_args()
    root = Path(os.environ.get("VOICESMITH_SPEECH_DATA") or REPO / ".cache" / "speech")
    if not (root / "manifest.tsv").is_file():
        sys.exit(f"no speech corpus at {root}")
    sys.path.insert(0, str(REPO))  # tests.engine.adapt_data: the corpus manifest reader
    for speaker in args.speakers:
        print(json.dumps(measure_speaker(root, speaker, args.held)), flush=True)


if __name__ == "__main__":
    main()
