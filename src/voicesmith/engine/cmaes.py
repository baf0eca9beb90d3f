"""Separable (diagonal) CMA-ES in numpy, box-bounded, with a state that survives a restart.

Why this optimiser: the voice objective (synthesise, embed, compare) has no gradient through the
int8 ONNX graph and each evaluation costs a synthesis, so we need a sampler that learns a step size
and per-dimension scales from few evaluations. The diagonal variant (Ros & Hansen 2008) learns in
O(n) per sample, which is what 256 dimensions and a dozen candidates per generation can support;
the full covariance would need far more generations than we can pay for.

Candidates are mirrored (z and -z share a generation): with the same sentences for every candidate
in a generation, a mirrored pair measures the slope along its direction with the sentence noise
cancelled. Samples outside the box are clipped before evaluation and the update uses the clipped
points, so the mean never leaves the box.

Maximises f. Standard parameter settings from Hansen's tutorial, with the diagonal learning rates
scaled up by (n + 2) / 3 as in sep-CMA-ES.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CMAState:
    mean: np.ndarray  # (n,)
    sigma: float
    cov_diag: np.ndarray  # (n,)
    path_sigma: np.ndarray  # (n,)
    path_c: np.ndarray  # (n,)
    generation: int = 0
    evaluations: int = 0
    best_x: np.ndarray | None = None  # best single candidate ever seen (its score is noisy)
    best_f: float = -np.inf

    def to_dict(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "sigma": float(self.sigma),
            "cov_diag": self.cov_diag.tolist(),
            "path_sigma": self.path_sigma.tolist(),
            "path_c": self.path_c.tolist(),
            "generation": self.generation,
            "evaluations": self.evaluations,
            "best_x": None if self.best_x is None else self.best_x.tolist(),
            "best_f": float(self.best_f) if np.isfinite(self.best_f) else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CMAState":
        return cls(
            mean=np.asarray(d["mean"], dtype=np.float64),
            sigma=float(d["sigma"]),
            cov_diag=np.asarray(d["cov_diag"], dtype=np.float64),
            path_sigma=np.asarray(d["path_sigma"], dtype=np.float64),
            path_c=np.asarray(d["path_c"], dtype=np.float64),
            generation=int(d["generation"]),
            evaluations=int(d["evaluations"]),
            best_x=None if d.get("best_x") is None else np.asarray(d["best_x"], dtype=np.float64),
            best_f=-np.inf if d.get("best_f") is None else float(d["best_f"]),
        )


class SepCMAES:
    def __init__(self, dim: int, popsize: int, lower: np.ndarray, upper: np.ndarray) -> None:
        if popsize < 4 or popsize % 2:
            raise ValueError("popsize must be an even number >= 4 (candidates are mirrored)")
        self.dim = n = dim
        self.popsize = popsize
        self.lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy()
        self.upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy()
        mu = popsize // 2
        weights = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
        self.weights = weights / weights.sum()
        self.mu = mu
        self.mueff = 1.0 / np.sum(self.weights**2)
        me = self.mueff
        self.cs = (me + 2) / (n + me + 5)
        self.ds = 1 + 2 * max(0.0, np.sqrt((me - 1) / (n + 1)) - 1) + self.cs
        self.cc = 4 / (n + 4)
        scale = (n + 2) / 3  # sep-CMA-ES: the diagonal can learn faster than a full matrix
        self.c1 = min(1.0, scale * 2 / ((n + 1.3) ** 2 + me))
        self.cmu = min(1 - self.c1, scale * 2 * (me - 2 + 1 / me) / ((n + 2) ** 2 + me))
        self.chi_n = np.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))

    def initial_state(self, mean: np.ndarray, sigma: float, cov_diag: np.ndarray | None = None) -> CMAState:
        n = self.dim
        return CMAState(
            mean=np.clip(np.asarray(mean, dtype=np.float64), self.lower, self.upper),
            sigma=float(sigma),
            cov_diag=np.ones(n) if cov_diag is None else np.asarray(cov_diag, dtype=np.float64).copy(),
            path_sigma=np.zeros(n),
            path_c=np.zeros(n),
        )

    def ask(self, state: CMAState, rng: np.random.Generator) -> np.ndarray:
        """(popsize, n) candidates: mirrored Gaussian samples around the mean, clipped to the box."""
        half = rng.standard_normal((self.popsize // 2, self.dim))
        z = np.concatenate([half, -half])
        x = state.mean + state.sigma * np.sqrt(state.cov_diag) * z
        return np.clip(x, self.lower, self.upper)

    def tell(self, state: CMAState, candidates: np.ndarray, scores: np.ndarray) -> CMAState:
        """The next state after scoring `candidates` (higher is better)."""
        scores = np.asarray(scores, dtype=np.float64)
        order = np.argsort(-scores)
        best = order[0]
        best_x, best_f = state.best_x, state.best_f
        if scores[best] > best_f:
            best_x, best_f = candidates[best].copy(), float(scores[best])
        y = (candidates[order[: self.mu]] - state.mean) / state.sigma
        y_w = self.weights @ y
        mean = np.clip(state.mean + state.sigma * y_w, self.lower, self.upper)
        g = state.generation + 1
        ps = (1 - self.cs) * state.path_sigma + np.sqrt(self.cs * (2 - self.cs) * self.mueff) * y_w / np.sqrt(state.cov_diag)
        h_sigma = np.linalg.norm(ps) / np.sqrt(1 - (1 - self.cs) ** (2 * g)) / self.chi_n < 1.4 + 2 / (self.dim + 1)
        pc = (1 - self.cc) * state.path_c + h_sigma * np.sqrt(self.cc * (2 - self.cc) * self.mueff) * y_w
        cov = (
            (1 - self.c1 - self.cmu) * state.cov_diag
            + self.c1 * (pc**2 + (not h_sigma) * self.cc * (2 - self.cc) * state.cov_diag)
            + self.cmu * (self.weights @ (y**2))
        )
        sigma = state.sigma * np.exp((self.cs / self.ds) * (np.linalg.norm(ps) / self.chi_n - 1))
        # Keep the search alive and bounded: a step larger than the box is meaningless, and a
        # vanishing one wastes the remaining generations.
        span = float(np.max(self.upper - self.lower))
        sigma = float(np.clip(sigma, 1e-3, span))
        return CMAState(
            mean=mean,
            sigma=sigma,
            cov_diag=np.clip(cov, 1e-4, 1e4),
            path_sigma=ps,
            path_c=pc,
            generation=g,
            evaluations=state.evaluations + len(candidates),
            best_x=best_x,
            best_f=best_f,
        )
