"""Train the instant-clone mapping shipped in src/voicesmith/engine/data/clone_mapping.npz.

1. Anchors: each stock pack speaks the pair sentences; its embedding centroid at 24/16/8 kHz and
   its median F0 are kept (what the clip is compared with).
2. Pairs from the model itself (scripts/clone_pairs.py; resumable, cached in .cache/): random
   style offsets around the stock packs -> a short sentence spoken -> Resemblyzer embeddings at
   24/16/8 kHz and the median F0.
3. Fit, per bandwidth, a ridge regression from the (unit) embedding to what the anchor blend leaves
   unexplained of the offset, in the offset's top principal components (rank and ridge strength by
   5-fold cross-validation). The learned part is shipped only if its cross-validated R^2 is
   positive by a margin; otherwise the mapping is the anchor blend alone (said in its meta).
   One more regression predicts how an offset changes the median F0.
4. Save as float16 (tens to a few hundred KB) and print the figures.

Usage: python scripts/train_clone_mapping.py [--pairs 1500] [--workers N]
Time taken is printed at the end; see docs/benchmarks.md for the figure of the shipped file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from clone_pairs import BANDS, SENTENCES, generate  # noqa: E402

from voicesmith.engine import phonemes as g2p  # noqa: E402
from voicesmith.engine import speaker, style_space  # noqa: E402
from voicesmith.engine.audio import f0_stats  # noqa: E402
from voicesmith.engine.clone import MAPPING_FILE, CloneMapping  # noqa: E402
from voicesmith.engine.rendering import Renderer  # noqa: E402
from voicesmith.engine.voice_profile import to_band  # noqa: E402

TAU = 0.03  # softmax temperature of the anchor blend, in cosine units (as for the fine-tune's blend)
MIN_CV_R2 = 0.02


def stock_anchors(cache: Path, workers: int | None) -> dict[str, np.ndarray]:
    """Per pack: embedding centroid per band and median F0 (cached)."""
    if cache.exists():
        with np.load(cache) as npz:
            return {k: npz[k] for k in npz.files}
    packs = style_space.stock_packs()
    phonemes = [g2p.phonemize(s, "en") for s in SENTENCES]
    out: dict[str, list] = {f"anchors_{b}": [] for b in BANDS} | {"f0": []}
    with Renderer(workers=workers) as r:
        for key, pack in packs.items():
            clips = r.speak_many([(pack, p, 1.0, 1.0) for p in phonemes])
            for b in BANDS:
                emb = speaker.embed_many([to_band(c, r.sample_rate, b) for c in clips], min(b, 24000))
                out[f"anchors_{b}"].append(speaker.centroid(emb))
            out["f0"].append(f0_stats(np.concatenate(clips), r.sample_rate)[0])
    arrays = {k: np.asarray(v) for k, v in out.items()}
    np.savez(cache, **arrays)
    return arrays


def _folds(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::k] for i in range(k)]


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Coefficients (d+1, m) of y ~ [x, 1] with an L2 penalty on the non-intercept weights."""
    xa = np.column_stack([x, np.ones(len(x))])
    penalty = lam * np.eye(xa.shape[1])
    penalty[-1, -1] = 0.0
    return np.linalg.solve(xa.T @ xa + penalty, xa.T @ y)


def _apply(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.column_stack([x, np.ones(len(x))]) @ coef


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean(0)) ** 2))


def fit(pairs: dict[str, np.ndarray], anchors: dict[str, np.ndarray]) -> tuple[CloneMapping, dict]:
    packs = list(style_space.stock_packs())
    offsets = np.stack([style_space.stock_offsets()[k] for k in packs])  # (5, 256)
    z = pairs["z"].astype(np.float64)
    emb = {b: pairs[f"emb{b}"].astype(np.float64).mean(axis=1) for b in BANDS}
    emb = {b: e / np.linalg.norm(e, axis=1, keepdims=True) for b, e in emb.items()}

    def blend_weights(e: np.ndarray, band: int) -> np.ndarray:
        sims = e @ anchors[f"anchors_{band}"].T
        w = np.exp((sims - sims.max(axis=1, keepdims=True)) / TAU)
        return w / w.sum(axis=1, keepdims=True)

    residual = {b: z - blend_weights(emb[b], b) @ offsets for b in BANDS}
    folds = _folds(len(z), 5)
    scores: dict[str, float] = {}
    best: tuple[float, int, float] | None = None
    target = residual[16000]
    mean = target.mean(0)
    _, _, vt = np.linalg.svd(target - mean, full_matrices=False)
    # Rank and ridge strength on the 16 kHz band (the others get the same settings).
    for rank in (8, 16, 32, 64):
        basis = vt[:rank]
        for lam in (0.1, 1.0, 10.0, 100.0):
            preds = np.zeros_like(target)
            for held in folds:
                train = np.setdiff1d(np.arange(len(z)), held)
                coords = target[train] @ basis.T
                coef = _ridge(emb[16000][train], coords, lam)
                preds[held] = _apply(coef, emb[16000][held]) @ basis
            r2 = _r2(target, preds)
            scores[f"rank{rank}_lam{lam}"] = round(r2, 4)
            if best is None or r2 > best[0]:
                best = (r2, rank, lam)
    assert best is not None
    r2, rank, lam = best
    learned = r2 >= MIN_CV_R2
    coef = basis = None
    if learned:
        basis = vt[:rank]
        coef = {b: _ridge(emb[b], residual[b] @ basis.T, lam) for b in BANDS}
    # How an offset moves F0: log F0 - log(pitch scale) ~ [z, 1].
    ok = np.isfinite(pairs["f0"]) & (pairs["f0"] > 0)
    f0_target = np.log(pairs["f0"][ok]) - np.log(pairs["pitch_scale"][ok])
    f0_coef = _ridge(z[ok], f0_target, 1.0)
    meta = {
        "pairs": int(len(z)),
        "tau": TAU,
        "learned_residual": bool(learned),
        "rank": rank if learned else 0,
        "ridge": lam if learned else None,
        "cv_r2_residual_16k": round(r2, 4),
        "cv_grid": scores,
        "f0_fit_r2": round(_r2(f0_target, _apply(f0_coef, z[ok])), 4),
        "anchor_f0_hz": [round(float(x), 1) for x in anchors["f0"]],
    }
    mapping = CloneMapping(
        bands=list(BANDS), packs=packs, anchors={b: anchors[f"anchors_{b}"] for b in BANDS},
        anchor_f0=anchors["f0"].astype(np.float64), tau=TAU, coef=coef, basis=basis, f0_coef=f0_coef, meta=meta,
    )
    return mapping, meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=1500)
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "clone_pairs.npz")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "voicesmith" / "engine" / "data" / MAPPING_FILE)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    anchors = stock_anchors(args.cache.with_name("clone_anchors.npz"), args.workers)
    generate(args.cache, args.pairs, args.seed, args.workers)
    t_gen = time.time() - t0
    with np.load(args.cache) as npz:
        pairs = {k: npz[k] for k in npz.files}
    mapping, meta = fit(pairs, anchors)
    meta["generation_seconds_this_run"] = round(t_gen, 1)  # pairs already cached are not counted
    meta["fit_seconds"] = round(time.time() - t0 - t_gen, 1)
    mapping.meta = meta
    args.out.parent.mkdir(parents=True, exist_ok=True)
    mapping.save(args.out)
    print(json.dumps({**{k: v for k, v in meta.items() if k != "cv_grid"}, "file_kb": round(args.out.stat().st_size / 1024, 1)}))


if __name__ == "__main__":
    main()
