"""Real-speech helpers for the adaptation tests (test_adapt, test_evaluate, test_clone, test_fine_tune)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicesmith.engine.audio import load_audio


def corpus_rows(speech_data: Path, speaker: str, minutes: float | None = None) -> list[dict]:
    """Manifest rows of one speaker in a fixed order, the first `minutes` of them."""
    with open(speech_data / "manifest.tsv", newline="") as f:
        rows = sorted((r for r in csv.DictReader(f, delimiter="\t") if r["speaker"] == speaker), key=lambda r: r["path"])
    if minutes is None:
        return rows
    out, total = [], 0.0
    for r in rows:
        if total >= minutes * 60:
            break
        out.append(r)
        total += float(r["seconds"])
    return out


@dataclass
class Clip:
    """A real utterance, shaped like engine.utterances.Utterance for the parts adaptation reads."""

    id: str
    text: str
    audio: np.ndarray  # 24 kHz
    embedding: np.ndarray | None
    source_rate: int
    sample_rate: int = 24000

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def load(self) -> np.ndarray:
        return self.audio


def load_clips(speech_data: Path, speaker: str, count: int, min_s: float = 1.2, max_s: float = 4.0) -> list[Clip]:
    from voicesmith.engine import speaker as spk

    rows = [r for r in corpus_rows(speech_data, speaker) if min_s <= float(r["seconds"]) <= max_s]
    idx = np.unique(np.linspace(0, len(rows) - 1, count).round().astype(int))
    clips = []
    for i in idx:
        r = rows[i]
        native, sr = load_audio(speech_data / r["path"])
        audio, _ = load_audio(speech_data / r["path"], 24000)
        clips.append(Clip(Path(r["path"]).stem, r["text"], audio, spk.embed_utterance(native, sr), sr))
    return clips
