"""A speaker's own decoder (engine/adapter.py) against the stock decoder, on held-out sentences; one JSON line.

For a speaker of the speech corpus: the fine-tune's split of the manifest (split.split_utterances),
`--minutes` of short training clips (1.5-4.5 s), 12 held-out sentences. Three voices speak the held-out
sentences free running (durations, F0 and energy predicted from the text, as a user hears them), all
through the PyTorch decoder:

- `start`: the stock voice training starts from (`--start`), unchanged;
- `timbre`: only the timbre half of its style trained (no adapters), the same steps;
- `adapter`: low-rank adapters on the decoder and the timbre, trained together on the reconstruction loss;
- `adapter+speaker<W>`: the same with the speaker term (engine/speaker_loss.py) at weight W in the objective, as
  the fine-tune's bespoke stage trains (`--speaker-weight`, default 0 and the stage's weight: both, side by side).

Each voice also speaks the held-out sentences teacher forced (`teacher_forced`: on the held-out recordings' own
alignment, F0 and energy, as training sees its inputs), which separates what the adapter learnt from how it fares
on the inputs Kokoro predicts.

Measures, each marked by what the training saw:
- `held_out_loss`: teacher-forced reconstruction loss on the held-out recordings: the training objective (all of
  it for `adapter`, its main term for `adapter+speaker<W>`), on recordings it never trained on;
- Resemblyzer similarity to the training centroid: never used by `adapter`'s training, but in the objective of
  `adapter+speaker<W>` (on the training recordings, teacher forced);
- the likeness distances (MFCC Fréchet, LTAS, F0 distribution), DNSMOS, WER: never used by any training here.
  Gap fractions use the best stock voice as the floor and the real speaker as the ceiling, as the fine-tune's
  report does.

Usage: python bench/bench_adapter.py [--speaker allison_en] [--minutes 2] [--steps 60] [--speaker-weight 0 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def run(root: Path, speaker: str, minutes: float, steps: int, start_key: str, held_count: int, f0_mode: str,
        quick: bool, scope_patterns: tuple[str, ...], speaker_weights: tuple[float, ...]) -> dict:
    import onnx
    import onnxruntime as ort
    import torch

    from tests.engine.adapt_data import corpus_rows, manifest_rows
    from voicesmith.engine.adapter import SCOPE

    scope_patterns = scope_patterns or SCOPE
    from voicesmith.engine import adapter, likeness, speaker as spk, split, style_space, teacher
    from voicesmith.engine.speaker_loss import SpeakerLoss
    from voicesmith.engine.audio import load_audio
    from voicesmith.engine.evaluate import HeldOutSet, evaluate_clips, evaluate_voice, gap_closed
    from voicesmith.engine.kokoro import decoder as kdecoder, graph, runtime, weights
    from voicesmith.engine.phonemes import phonemize
    from voicesmith.engine.rendering import Renderer
    from voicesmith.engine.speaker_data import evenly
    from voicesmith.engine.voice import VoiceArtifact

    torch.set_num_threads(2)
    manifest = corpus_rows(root, speaker)
    language, source_rate = manifest[0]["lang"], int(manifest[0]["sample_rate"])
    rows = manifest_rows(root, speaker)
    train, held = split.split_utterances(rows)
    held = evenly(held, held_count)
    short = [r for r in train if 1.5 <= r.duration <= 4.5]
    picked, total = [], 0.0
    for r in evenly(short, len(short)):
        if total >= minutes * 60:
            break
        picked.append(r)
        total += r.duration
    picked = evenly(short, len(picked))  # spread over the corpus, as many as `minutes` holds
    figures: dict = {"bench": "adapter", "speaker": speaker, "train_clips": len(picked),
                     "train_seconds": round(sum(r.duration for r in picked), 1), "held_out": len(held),
                     "steps": steps, "start_voice": start_key, "f0": f0_mode, "scope": scope_patterns,
                     "loadavg_start": os.getloadavg()}

    t = time.perf_counter()
    int8 = onnx.load(str(graph.build_variant("int8")))
    front = teacher.TextFront(int8, threads=2)
    vocab, pack = weights.vocab(), weights.voice_packs()[start_key]
    tokens_of = lambda text: [vocab[c] for c in phonemize(text, language) if c in vocab]  # noqa: E731

    def example(r) -> teacher.Example:
        audio, sr = load_audio(r.path)
        tokens = tokens_of(r.text)
        return front.example(tokens, pack[len(tokens) - 1].reshape(1, 256), audio, sr,
                             bridge_unvoiced=f0_mode == "filled")

    train_examples = [example(r) for r in picked]
    held_examples = [example(r) for r in held]
    figures["prepare_s"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    held_clips = [load_audio(r.path, 24000)[0] for r in held]
    centroid = spk.centroid(spk.embed_many([load_audio(r.path)[0] for r in evenly(train, 60)], source_rate))
    held_set = HeldOutSet.from_recordings(
        held_clips, 24000, [r.text for r in held], [phonemize(r.text, language) for r in held], centroid,
        source_rate, language, embeddings=spk.embed_many([load_audio(r.path)[0] for r in held], source_rate),
        train_clips=[load_audio(r.path, 24000)[0] for r in evenly(train, len(held))])
    with Renderer() as renderer:
        stock = {key: evaluate_voice(VoiceArtifact(p), held_set, renderer)
                 for key, p in style_space.stock_packs().items() if not quick or key == start_key}
    figures["reference_s"] = round(time.perf_counter() - t, 1)

    float32 = onnx.load(str(graph.build_variant("float32")))
    taps = graph.tap(int8, list(graph.DECODER_INPUTS[:3]))
    session = ort.InferenceSession(taps.SerializeToString(), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    # As the style search does, every voice speaks at the speaker's median pitch: the start voice's F0 curves are
    # scaled by the ratio of the training recordings' median F0 to the start voice's on the held-out sentences.
    real_f0 = float(np.median(np.concatenate([e.f0[e.f0 > 0] for e in train_examples])))
    pitch_scale = real_f0 / stock[start_key].f0_median_hz
    figures["pitch_scale"] = round(pitch_scale, 3)

    def speak(dec, timbre: np.ndarray) -> list[np.ndarray]:
        clips = []
        for i, text in enumerate(held_set.texts):
            tokens = tokens_of(text)
            style = pack[len(tokens) - 1].reshape(1, 256)
            feeds = {k: v for k, v in runtime.feeds(tokens, style, 1.0, pitch_scale).items() if k in wanted}
            asr, f0, energy = (torch.from_numpy(x) for x in session.run(list(graph.DECODER_INPUTS[:3]), feeds))
            with torch.no_grad():
                audio = dec(asr, f0, energy, torch.from_numpy(np.asarray(timbre, np.float32)).reshape(1, 128),
                            generator=torch.Generator().manual_seed(i))
            clips.append(audio.numpy().reshape(-1))
        return clips

    start_timbre = pack[len(pack) // 2, :128].copy()
    voices, train_figures = {}, {}
    band = min(source_rate / 2, teacher.SAMPLE_RATE / 2)
    base = kdecoder.load_decoder(float32)
    voices["start"] = (base, start_timbre, adapter.held_out_loss(base, torch.from_numpy(start_timbre), held_examples, band))
    runs = (("timbre", (), 0.0),) if not quick else ()
    runs += tuple((f"adapter+speaker{w:g}" if w else "adapter", scope_patterns, w) for w in speaker_weights)
    for name, scope, weight in runs:
        dec = kdecoder.load_decoder(float32)
        term = adapter.SpeakerTerm(SpeakerLoss(centroid, 24000, band), weight) if weight else None
        t = time.perf_counter()
        result = adapter.train(dec, start_timbre, train_examples, held_examples, band, steps, scope=scope,
                               patience=steps, speaker=term)  # the whole budget: the curve is the figure
        train_figures[name] = {
            "train_s": round(time.perf_counter() - t, 1), "best_step": result.best_step,
            "held_out_loss_curve": [(s, round(v, 4)) for s, v in result.held_out_loss],
            "adapter_mb": round(sum(v.nbytes for v in result.state.values()) / 1e6, 2),
        }
        # The reconstruction part alone, so that runs with and without the speaker term compare.
        voices[name] = (dec, result.timbre, adapter.held_out_loss(dec, torch.from_numpy(result.timbre), held_examples, band))
    figures["training"] = train_figures
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    sim_floor = max(ev.similarity for ev in stock.values())
    floors = {m: min(ev.distances[m] for ev in stock.values()) for m in likeness.DISTANCES}
    def teacher_forced(dec, timbre: np.ndarray) -> list[np.ndarray]:
        """The held-out sentences spoken on their recordings' own alignment, F0 and energy (what training sees)."""
        clips = []
        for i, ex in enumerate(held_examples):
            with torch.no_grad():
                audio = dec(torch.from_numpy(ex.asr)[None], torch.from_numpy(ex.f0)[None],
                            torch.from_numpy(ex.energy)[None],
                            torch.from_numpy(np.asarray(timbre, np.float32)).reshape(1, 128),
                            generator=torch.Generator().manual_seed(i))
            clips.append(audio.numpy().reshape(-1))
        return clips

    results = {}
    for name, (dec, timbre, loss) in voices.items():
        ev = evaluate_clips(speak(dec, timbre), 24000, held_set)
        forced = evaluate_clips(teacher_forced(dec, timbre), 24000, held_set)
        results[name] = {
            "teacher_forced": {"wer": round(forced.wer, 3) if forced.wer is not None else None,
                               "resemblyzer": round(forced.similarity, 4),
                               **{m: round(forced.distances[m], 3) for m in likeness.DISTANCES},
                               "quality_dnsmos": round(forced.quality, 2)},
            "held_out_loss (reconstruction: trained, on held-out recordings)": round(loss, 4),
            "resemblyzer": round(ev.similarity, 4),
            "resemblyzer_gap_closed": round(gap_closed(ev.similarity, sim_floor, held_set.ceiling) or 0.0, 3),
            **{m: {"value": round(ev.distances[m], 3),
                   "gap_closed": round(likeness.fraction(ev.distances[m], floors[m], held_set.likeness_ceiling[m])
                                       or 0.0, 3)} for m in likeness.DISTANCES},
            "quality_dnsmos": round(ev.quality, 2),
            "wer": round(ev.wer, 3) if ev.wer is not None else None,
            "f0_median_hz": round(ev.f0_median_hz, 1),
        }
    figures["voices"] = results
    figures["floor"] = {"resemblyzer": round(sim_floor, 4), **{m: round(v, 3) for m, v in floors.items()},
                        "stock_quality_mean": round(float(np.mean([ev.quality for ev in stock.values()])), 2)}
    figures["ceiling"] = {"resemblyzer": round(held_set.ceiling, 4),
                          **{m: round(v, 3) for m, v in held_set.likeness_ceiling.items()},
                          "real_wer": round(held_set.real_wer, 3) if held_set.real_wer is not None else None,
                          "real_f0_median_hz": round(held_set.stats.f0_median_hz, 1)}
    figures["loadavg_end"] = os.getloadavg()
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speaker", default="allison_en")
    ap.add_argument("--minutes", type=float, default=2.0, help="training audio (short clips)")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--start", default="jf_alpha", help="the stock voice training starts from")
    ap.add_argument("--held", type=int, default=12)
    ap.add_argument("--f0", choices=("real", "filled"), default="filled",
                    help="teacher F0: the recording's (0 where unvoiced) or bridged through unvoiced frames")
    ap.add_argument("--quick", action="store_true", help="only the start voice as stock reference, no timbre-only run")
    ap.add_argument("--scope", nargs="+", help="modules to adapt (fnmatch patterns; default engine.adapter.SCOPE)")
    ap.add_argument("--speaker-weight", nargs="+", type=float, default=None,
                    help="adapter runs, one per weight of the speaker term (0: none); default 0 and the fine-tune's")
    args = ap.parse_args()
    root = Path(os.environ.get("VOICESMITH_SPEECH_DATA") or REPO / ".cache" / "speech")
    if not (root / "manifest.tsv").is_file():
        sys.exit(f"no speech corpus at {root}")
    sys.path.insert(0, str(REPO))  # tests.engine.adapt_data: the corpus manifest reader
    from voicesmith.engine.bespoke import SPEAKER_WEIGHT

    weights = tuple(args.speaker_weight) if args.speaker_weight else (0.0, SPEAKER_WEIGHT)
    print(json.dumps(run(root, args.speaker, args.minutes, args.steps, args.start, args.held, args.f0,
                         args.quick, tuple(args.scope) if args.scope else None, weights)), flush=True)


if __name__ == "__main__":
    main()
