"""Fixtures for the ingest tests (audio, segment, transcribe, speaker, split, dataset report):
real clips from the speech corpus (`speech_data`, tests/conftest.py). Generated bad signals are in
ingest_signals.py."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Clip:
    speaker: str
    path: Path
    seconds: float
    sample_rate: int
    text: str


class SpeechClips:
    """The corpus manifest, with deterministic picks (sorted by path) per speaker."""

    def __init__(self, root: Path) -> None:
        with open(root / "manifest.tsv", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        self.clips = sorted(
            (Clip(r["speaker"], root / r["path"], float(r["seconds"]), int(r["sample_rate"]), r["text"]) for r in rows),
            key=lambda c: str(c.path),
        )

    def pick(self, speaker: str, n: int, min_s: float = 2.5, max_s: float = 9.0, skip: int = 0) -> list[Clip]:
        """n clips of `speaker` between min_s and max_s seconds, evenly spread over the corpus."""
        pool = [c for c in self.clips if c.speaker == speaker and min_s <= c.seconds <= max_s]
        if len(pool) < n + skip:
            pytest.skip(f"speech corpus has too few {speaker} clips of {min_s}-{max_s} s")
        step = max(1, (len(pool) - skip) // n)
        return [pool[skip + i * step] for i in range(n)]


@pytest.fixture(scope="session")
def speech_clips(speech_data: Path) -> SpeechClips:
    return SpeechClips(speech_data)
