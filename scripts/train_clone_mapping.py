"""Train the instant-clone mapping shipped in src/voicesmith/engine/data/clone_mapping.npz.

1. Generate pairs from the model itself (scripts/clone_pairs.py; resumable, cached in .cache/):
   random style offsets around the stock packs -> two short sentences spoken -> Resemblyzer
   embeddings at 24/16/8 kHz, and the median F0.
2. Fit, per bandwidth, a ridge regression from the (unit) speaker embedding to the offset's
   coordinates in its top principal components (the rank and the ridge strength picked by 5-fold
   cross-validation), and one regression from the offset to the log median F0 at pitch scale 1.
3. Save the mapping as float16 (a few hundred KB at most) and print held-out R^2 figures.

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

from clone_pairs import BANDS, generate  # noqa: E402

from voicesmith.engine.clone import MAPPING_FILE, CloneMapping  # noqa: E402


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


def fit(pairs: dict[str, np.ndarray]) -> tuple[CloneMapping, dict]:
    z = pairs["z"].astype(np.float64)
    z_mean = z.mean(0)
    _, _, vt = np.linalg.svd(z - z_mean, full_matrices=False)
    folds = _folds(len(z), 5)
    scores: dict[str, float] = {}
    best: tuple[float, int, float] | None = None
    emb = {b: pairs[f"emb{b}"].astype(np.float64).mean(axis=1) for b in BANDS}
    emb = {b: e / np.linalg.norm(e, axis=1, keepdims=True) for b, e in emb.items()}
    # Rank and ridge strength on the 16 kHz band (the others get the same settings).
    for rank in (16, 32, 64, 128):
        basis = vt[:rank]
        coords = (z - z_mean) @ basis.T
        for lam in (0.01, 0.1, 1.0, 10.0):
            preds = np.zeros_like(z)
            for held in folds:
                train = np.setdiff1d(np.arange(len(z)), held)
                coef = _ridge(emb[16000][train], coords[train], lam)
                preds[held] = z_mean + _apply(coef, emb[16000][held]) @ basis
            r2 = _r2(z, preds)
            scores[f"rank{rank}_lam{lam}"] = round(r2, 4)
            if best is None or r2 > best[0]:
                best = (r2, rank, lam)
    assert best is not None
    r2, rank, lam = best
    basis = vt[:rank]
    coords = (z - z_mean) @ basis.T
    coef = {b: _ridge(emb[b], coords, lam) for b in BANDS}
    # F0 of a style at pitch scale 1: log F0 - log(pitch scale) ~ [z, 1].
    ok = np.isfinite(pairs["f0"]) & (pairs["f0"] > 0)
    target = np.log(pairs["f0"][ok]) - np.log(pairs["pitch_scale"][ok])
    f0_coef = _ridge(z[ok], target, 1.0)
    f0_r2 = _r2(target, _apply(f0_coef, z[ok]))
    meta = {
        "pairs": int(len(z)),
        "rank": rank,
        "ridge": lam,
        "cv_r2_z_16k": round(r2, 4),
        "cv_grid": scores,
        "f0_fit_r2": round(f0_r2, 4),
        "bands": list(BANDS),
    }
    mapping = CloneMapping(bands=list(BANDS), coef=coef, basis=basis, z_mean=z_mean, f0_coef=f0_coef, meta=meta)
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
    generate(args.cache, args.pairs, args.seed, args.workers)
    t_gen = time.time() - t0
    with np.load(args.cache) as npz:
        pairs = {k: npz[k] for k in npz.files}
    mapping, meta = fit(pairs)
    meta["generation_seconds_this_run"] = round(t_gen, 1)
    meta["fit_seconds"] = round(time.time() - t0 - t_gen, 1)
    mapping.meta = meta
    args.out.parent.mkdir(parents=True, exist_ok=True)
    mapping.save(args.out)
    print(json.dumps({**{k: v for k, v in meta.items() if k != "cv_grid"}, "file_kb": round(args.out.stat().st_size / 1024, 1)}))


if __name__ == "__main__":
    main()
