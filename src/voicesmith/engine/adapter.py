"""A speaker's own decoder: low-rank adapters on Kokoro's decoder, trained on the speaker's recordings.

The style search moves only the 256 style values; the decoder that turns them into sound stays the stock
one. Here the decoder itself learns the speaker: each adapted weight W becomes W + B A (rank `rank`, B
starting at zero so training starts from the stock decoder), and the timbre half of the style is trained
with it. Everything else stays frozen.

Training is teacher forced (engine/teacher.py): the decoder gets each recording's own alignment, F0 and
energy and must reproduce that recording, scored by a multi-resolution STFT loss below the recording's
Nyquist frequency (a 16 kHz dataset says nothing about 8-12 kHz). Held-out recordings are scored the same
way every few steps with a fixed noise seed; the adapter with the lowest held-out loss is kept (early
stopping), and each adapter's update is bounded relative to the weight it adapts.

The held-out reconstruction loss is what the training optimises, on other recordings: it shows that
training generalises, not that the voice sounds like the speaker. That is measured apart, on what training
never sees (bench/bench_adapter.py: likeness, quality and Whisper on free-running speech; docs/fine-tune.md).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from voicesmith.engine.checkpoints import atomic_write
from voicesmith.engine.kokoro.decoder import SAMPLE_RATE, STYLE_DIM, Decoder
from voicesmith.engine.rendering import Cancelled
from voicesmith.engine.teacher import Example

RANK = 4
# An adapter may move its weight by at most this fraction of the weight's own norm (Frobenius).
MAX_RELATIVE_UPDATE = 0.2
# (FFT size, hop) of the multi-resolution STFT loss.
RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))
# Which modules get adapters. On 2 minutes of allison_en (60 steps, MFCC-aligned examples) the generator
# alone reached 94% of the held-out loss reduction of adapting the whole decoder (3.018 -> 1.761 against 1.702;
# the timbre alone: 2.168) with 1.8 MB instead of 2.9, and it keeps the graph's front half shared between voices.
SCOPE = ("generator.*",)


class LowRankUpdate(nn.Module):
    """Parametrization W -> W + B A, shaped like W (conv weights flattened past the first axis)."""

    def __init__(self, weight: torch.Tensor, rank: int) -> None:
        super().__init__()
        rows, cols = weight.shape[0], weight[0].numel()
        self.A = nn.Parameter(torch.randn(rank, cols) / math.sqrt(cols))
        self.B = nn.Parameter(torch.zeros(rows, rank))

    def delta(self) -> torch.Tensor:
        return self.B @ self.A

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + self.delta().view_as(weight)


def adapted_modules(decoder: Decoder, scope: tuple[str, ...] = SCOPE) -> dict[str, nn.Module]:
    """The modules that get an adapter: every convolution and AdaIN projection whose name matches a pattern of
    `scope` (fnmatch) and that has a weight matrix (the depthwise upsampling pool and the source's merge are
    left out)."""
    out = {}
    for name, module in decoder.named_modules():
        if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d, nn.Linear)) and module.weight[0].numel() > 3:
            if any(fnmatch(name, pattern) for pattern in scope) and not name.startswith("generator.m_source"):
                out[name] = module
    return out


def attach(decoder: Decoder, rank: int = RANK, seed: int = 0, scope: tuple[str, ...] = SCOPE) -> dict[str, LowRankUpdate]:
    """Freeze `decoder` and give each adapted module a zero-initialised low-rank update (in place)."""
    torch.manual_seed(seed)
    decoder.requires_grad_(False)
    updates = {}
    for name, module in adapted_modules(decoder, scope).items():
        update = LowRankUpdate(module.weight.detach(), rank)
        parametrize.register_parametrization(module, "weight", update)
        updates[name] = update
    return updates


def adapter_state(updates: dict[str, LowRankUpdate]) -> dict[str, np.ndarray]:
    """The adapters as plain arrays: `<module>.A`, `<module>.B` (what a voice artifact stores, and what
    `graph.merge_adapter` adds into the graph's weights for synthesis)."""
    state = {}
    for name, update in updates.items():
        state[f"{name}.A"] = update.A.detach().numpy().copy()
        state[f"{name}.B"] = update.B.detach().numpy().copy()
    return state


# --- loss ----------------------------------------------------------------------------------------

def reconstruction_loss(audio: torch.Tensor, target: torch.Tensor, band_hz: float) -> torch.Tensor:
    """Multi-resolution STFT loss (spectral convergence + log-magnitude L1) over frequencies below `band_hz`."""
    n = min(audio.shape[-1], target.shape[-1])
    audio, target = audio[..., :n].reshape(1, -1), target[..., :n].reshape(1, -1)
    total = audio.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        window = torch.hann_window(n_fft)
        bins = int(band_hz / (SAMPLE_RATE / 2) * (n_fft // 2)) + 1
        mag = [torch.stft(x, n_fft, hop, window=window, return_complex=True).abs()[:, :bins].clamp_min(1e-5)
               for x in (audio, target)]
        convergence = torch.linalg.norm(mag[1] - mag[0]) / torch.linalg.norm(mag[1]).clamp_min(1e-5)
        total = total + convergence + F.l1_loss(mag[0].log(), mag[1].log())
    return total / len(RESOLUTIONS)


# --- training ------------------------------------------------------------------------------------

@dataclass
class SpeakerTerm:
    """A speaker-likeness term of the objective: `loss(audio)` (e.g. engine/speaker_loss.py), times `weight`."""

    loss: Callable[[torch.Tensor], torch.Tensor]
    weight: float


@dataclass
class AdapterRun:
    state: dict[str, np.ndarray]  # the kept adapters (adapter_state)
    timbre: np.ndarray  # [128] the trained timbre half of the style
    held_out_loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss); step 0 = stock decoder
    best_step: int = 0
    steps_run: int = 0

    @property
    def start_loss(self) -> float:
        return self.held_out_loss[0][1]

    @property
    def best_loss(self) -> float:
        return min(loss for _, loss in self.held_out_loss)


def _tensors(example: Example) -> tuple[torch.Tensor, ...]:
    return (torch.from_numpy(example.asr)[None], torch.from_numpy(example.f0)[None],
            torch.from_numpy(example.energy)[None], torch.from_numpy(example.audio))


def objective(audio: torch.Tensor, target: torch.Tensor, band_hz: float, speaker: SpeakerTerm | None) -> torch.Tensor:
    """What training minimises: the reconstruction loss, plus the weighted speaker term where there is one."""
    loss = reconstruction_loss(audio, target, band_hz)
    if speaker is not None:
        loss = loss + speaker.weight * speaker.loss(audio)
    return loss


def held_out_loss(decoder: Decoder, timbre: torch.Tensor, examples: Sequence[Example], band_hz: float,
                  speaker: SpeakerTerm | None = None) -> float:
    """Mean training objective over `examples`, with the same source noise every call."""
    losses = []
    with torch.no_grad():
        for i, example in enumerate(examples):
            asr, f0, energy, target = _tensors(example)
            audio = decoder(asr, f0, energy, timbre[None], generator=torch.Generator().manual_seed(i))
            losses.append(float(objective(audio, target, band_hz, speaker)))
    return float(np.mean(losses))


def _bound(updates: dict[str, LowRankUpdate], norms: dict[str, float]) -> None:
    """Scale each update down to at most MAX_RELATIVE_UPDATE of its weight's norm."""
    with torch.no_grad():
        for name, update in updates.items():
            size = float(torch.linalg.norm(update.delta()))
            limit = MAX_RELATIVE_UPDATE * norms[name]
            if size > limit:
                update.B *= limit / size


def train(
    decoder: Decoder,
    timbre: np.ndarray,
    train_set: Sequence[Example],
    held_out: Sequence[Example],
    band_hz: float,
    steps: int,
    *,
    lr: float = 2e-3,
    timbre_lr: float = 5e-3,
    rank: int = RANK,
    eval_every: int = 10,
    patience: int = 3,
    scope: tuple[str, ...] = SCOPE,
    seed: int = 0,
    progress: Callable[[float, str], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    checkpoint: Path | None = None,
    speaker: SpeakerTerm | None = None,
) -> AdapterRun:
    """Train adapters and the timbre on `train_set` (one recording a step); keep the best on `held_out`.

    Stops after `steps`, or when the held-out loss has not improved for `patience` evaluations. The
    decoder is left with its adapters attached and holding the kept state. `should_cancel` is polled
    every step (raises `Cancelled`). With `checkpoint`, the whole training state is saved there at every
    evaluation, and a run that finds one there continues from it: a killed worker loses at most
    `eval_every` steps. With `speaker`, its term joins the objective, in training and early stopping alike.
    """
    updates = attach(decoder, rank, seed, scope)
    norms = {name: float(torch.linalg.norm(parametrize_original(decoder, name))) for name in updates}
    style = torch.tensor(np.asarray(timbre, dtype=np.float32).reshape(STYLE_DIM), requires_grad=True)
    optimiser = torch.optim.Adam([
        {"params": [p for u in updates.values() for p in u.parameters()], "lr": lr},
        {"params": [style], "lr": timbre_lr},
    ])
    order = random.Random(seed)
    noise = torch.Generator().manual_seed(seed)
    saved = _restore(checkpoint, updates, style, optimiser, order, noise) if checkpoint else None
    if saved is not None:
        run, stale = saved
    else:
        run, stale = AdapterRun(adapter_state(updates), style.detach().numpy().copy()), 0
        run.held_out_loss.append((0, held_out_loss(decoder, style, held_out, band_hz, speaker)))
    for step in range(run.steps_run + 1, steps + 1):
        if stale >= patience:
            break
        if should_cancel and should_cancel():
            raise Cancelled()
        asr, f0, energy, target = _tensors(order.choice(train_set))
        loss = objective(decoder(asr, f0, energy, style[None], generator=noise), target, band_hz, speaker)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        _bound(updates, norms)
        run.steps_run = step
        if step % eval_every == 0 or step == steps:
            score = held_out_loss(decoder, style, held_out, band_hz, speaker)
            run.held_out_loss.append((step, score))
            if score < min(s for _, s in run.held_out_loss[:-1]):
                run.state, run.timbre, run.best_step, stale = adapter_state(updates), style.detach().numpy().copy(), step, 0
            else:
                stale += 1
            if checkpoint:
                _save(checkpoint, updates, style, optimiser, order, noise, run, stale)
            if progress:
                progress(step / steps, f"step {step}/{steps}: held-out loss {score:.3f} (start {run.start_loss:.3f})")
    _load(updates, run.state)
    return run


def _save(path: Path, updates: dict[str, LowRankUpdate], style: torch.Tensor, optimiser: torch.optim.Optimizer,
          order: random.Random, noise: torch.Generator, run: AdapterRun, stale: int) -> None:
    state = {
        "current": adapter_state(updates), "style": style.detach().numpy().copy(), "optimiser": optimiser.state_dict(),
        "order": order.getstate(), "noise": noise.get_state(), "stale": stale,
        "run": {"state": run.state, "timbre": run.timbre, "held_out_loss": run.held_out_loss,
                "best_step": run.best_step, "steps_run": run.steps_run},
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def _restore(path: Path, updates: dict[str, LowRankUpdate], style: torch.Tensor, optimiser: torch.optim.Optimizer,
             order: random.Random, noise: torch.Generator) -> tuple[AdapterRun, int] | None:
    if not path.is_file():
        return None
    state = torch.load(path, weights_only=False)  # our own file, written by _save
    _load(updates, state["current"])
    with torch.no_grad():
        style.copy_(torch.from_numpy(state["style"]))
    optimiser.load_state_dict(state["optimiser"])
    order.setstate(state["order"])
    noise.set_state(state["noise"])
    r = state["run"]
    run = AdapterRun(r["state"], r["timbre"], [tuple(x) for x in r["held_out_loss"]], r["best_step"], r["steps_run"])
    return run, int(state["stale"])


def parametrize_original(decoder: Decoder, name: str) -> torch.Tensor:
    """The frozen weight under module `name`'s adapter."""
    return decoder.get_submodule(name).parametrizations.weight.original


def _load(updates: dict[str, LowRankUpdate], state: dict[str, np.ndarray]) -> None:
    with torch.no_grad():
        for name, update in updates.items():
            update.A.copy_(torch.from_numpy(state[f"{name}.A"]))
            update.B.copy_(torch.from_numpy(state[f"{name}.B"]))
