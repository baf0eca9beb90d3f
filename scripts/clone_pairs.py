"""Generate (style offset, pitch scale) -> (speaker embedding, F0) pairs from the model itself.

Used by scripts/train_clone_mapping.py; kept separate so generation (slow: one synthesis per pair
sentence) can run, be interrupted and resume without refitting anything.

Each pair: a random style offset z around the stock packs (a random convex mix of the packs' own
offsets plus Gaussian noise of random size, clipped to the search bound), a random pitch scale,
one short sentence (cycling through a fixed list) spoken in it, and the Resemblyzer embeddings of
that clip at the bandwidths users upload (24, 16 and 8 kHz), plus its median F0. One sentence per
pair: the sentence-to-sentence noise of the embedding averages out over pairs in the regression,
and a pair costs one synthesis.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from voicesmith.engine import phonemes as g2p
from voicesmith.engine import speaker, style_space
from voicesmith.engine.audio import f0_stats
from voicesmith.engine.rendering import Renderer
from voicesmith.engine.voice_profile import to_band

BANDS = (24000, 16000, 8000)
SENTENCES = [
    "The meeting starts at nine tomorrow morning.",
    "Please leave your message after the tone.",
    "She bought fresh bread and a bag of apples.",
    "We will be landing in about twenty minutes.",
    "Turn left at the next corner, then go straight.",
    "Thank you for calling, how can I help you?",
    "The weather should clear up by the afternoon.",
    "He read the letter twice before he answered.",
    "Our office is closed on public holidays.",
    "Could you send me the report by Friday?",
    "The children were playing in the garden.",
    "I think we should try the other road.",
    "Your order has been shipped and will arrive soon.",
    "That is the best coffee I have had all week.",
    "The train to the city leaves every hour.",
    "Remember to switch off the lights when you leave.",
]


def sample_offset(rng: np.random.Generator, offsets: np.ndarray, bound: float) -> np.ndarray:
    mix = rng.dirichlet(np.full(len(offsets), 0.5)) @ offsets
    noise = rng.standard_normal(offsets.shape[1]) * rng.uniform(0.3, 2.0)
    return np.clip(mix + noise, -bound, bound)


def generate(out: Path, n_pairs: int, seed: int, workers: int | None) -> None:
    rng = np.random.default_rng(seed)
    phonemes = [g2p.phonemize(s, "en") for s in SENTENCES]
    offsets = np.stack(list(style_space.stock_offsets().values()))
    space = style_space.StyleSpace(style_space.stock_mean())
    records: dict[str, list] = {"z": [], "pitch_scale": [], "sentences": [], "f0": [], **{f"emb{b}": [] for b in BANDS}}
    if out.exists():
        with np.load(out) as old:
            records = {k: list(old[k]) for k in records}
        rng = np.random.default_rng([seed, len(records["z"])])  # resume with fresh draws
    renderer = Renderer(workers=workers)
    start = time.time()
    done0 = len(records["z"])
    while len(records["z"]) < n_pairs:
        batch = []
        for _ in range(renderer.workers * 2):
            z = sample_offset(rng, offsets, space.bound)
            ps = float(np.exp(rng.uniform(np.log(0.75), np.log(1.35))))
            picks = [len(records["z"]) + len(batch)]
            batch.append((z, ps, [p % len(SENTENCES) for p in picks]))
        jobs = [(space.style(z), phonemes[i], 1.0, ps) for z, ps, picks in batch for i in picks]
        clips = renderer.speak_many(jobs)
        for k, (z, ps, picks) in enumerate(batch):
            pair = clips[k : k + 1]
            records["z"].append(z.astype(np.float32))
            records["pitch_scale"].append(ps)
            records["sentences"].append(picks)
            records["f0"].append(f0_stats(np.concatenate(pair), renderer.sample_rate)[0])
            for b in BANDS:
                emb = speaker.embed_many([to_band(c, renderer.sample_rate, b) for c in pair], min(b, 24000))
                records[f"emb{b}"].append(emb.astype(np.float32))
        n = len(records["z"])
        rate = (n - done0) / (time.time() - start)
        print(f"{n}/{n_pairs} pairs, {rate:.2f}/s", flush=True)
        if n % 64 < len(batch) or n >= n_pairs:
            tmp = out.with_suffix(".tmp.npz")
            np.savez(tmp, **{k: np.asarray(v) for k, v in records.items()})
            tmp.replace(out)
    renderer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path(".cache/clone_pairs.npz"))
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    generate(args.out, args.pairs, args.seed, args.workers)


if __name__ == "__main__":
    main()
