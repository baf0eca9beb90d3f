"""Word error rate of a finished fine-tune's voices on more held-out utterances than its report uses.

The report scores WER on the budget's held-out sample (12 utterances for `default`, ~140 words), where one
word is 0.7%: too few to tell 1.4% from 3.5%. This re-measures, with the same method (Whisper tiny.en, clips
packed into 30 s windows), the real recordings and each voice on up to N held-out utterances of a fine-tune
work folder kept by `bench_fine_tune.py --keep`. English only.

Usage: python bench/bench_held_out_wer.py WORKDIR [--utterances 48]
Prints one JSON line: words, real WER, and per voice WER and its ratio to the real recordings'.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    from voicesmith.engine import evaluate, speaker_data, split, utterances
    from voicesmith.engine.rendering import Renderer
    from voicesmith.engine.voice import VoiceArtifact

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--utterances", type=int, default=48)
    args = ap.parse_args()
    prepared = json.loads((args.workdir / "prepared.json").read_text())
    utts = [utterances.Utterance.from_json(d, args.workdir / "utterances") for d in prepared["utterances"]]
    train, held = split.split_utterances([u for u in utts if u.embedding is not None])
    held_set = speaker_data.held_out_set(held, speaker_data.train_centroid(train), "en", prepared["source_rate"],
                                         args.utterances)
    result = json.loads((args.workdir / "result" / "result.json").read_text())
    out = {"bench": "held_out_wer", "workdir": str(args.workdir), "utterances": len(held_set.texts),
           "words": sum(len(t.split()) for t in held_set.texts), "real_wer": round(held_set.real_wer, 4),
           "voices": []}
    with Renderer() as renderer:
        for v in result["voices"]:
            voice = VoiceArtifact.from_bytes((args.workdir / "result" / f"{v['key']}.voice").read_bytes())
            ev = evaluate.evaluate_voice(voice, held_set, renderer)
            out["voices"].append({"key": v["key"], "wer": round(ev.wer, 4),
                                  "ratio_to_real": round(ev.wer / held_set.real_wer, 2) if held_set.real_wer else None,
                                  "similarity": round(ev.similarity, 4)})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
