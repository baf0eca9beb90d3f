"""Real-speech helpers for the adaptation tests (test_adapt, test_evaluate, test_clone, test_fine_tune)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
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


START_PACK = "jf_alpha"  # the stock voice the adapter tests train from


def teacher_examples(speech_data: Path, speaker: str, count: int, max_s: float) -> list:
    """`count` clips of `speaker` (1.5 s to `max_s`, evenly over the corpus) as teacher-forced examples."""
    import onnx

    from voicesmith.engine import teacher
    from voicesmith.engine.kokoro import graph, weights
    from voicesmith.engine.phonemes import phonemize

    rows = [r for r in corpus_rows(speech_data, speaker) if 1.5 <= float(r["seconds"]) <= max_s]
    front = teacher.TextFront(onnx.load(str(graph.build_variant("int8"))), threads=2)
    vocab, pack = weights.vocab(), weights.voice_packs()[START_PACK]
    out = []
    for i in np.unique(np.linspace(0, len(rows) - 1, count).round().astype(int)):
        audio, sr = load_audio(speech_data / rows[i]["path"])
        tokens = [vocab[c] for c in phonemize(rows[i]["text"], rows[i]["lang"]) if c in vocab]
        out.append(front.example(tokens, pack[len(tokens) - 1].reshape(1, 256), audio, sr))
    return out


@lru_cache(maxsize=1)
def small_adapter(speech_data: Path):
    """An adapter trained briefly on allison_en (4 clips of at most 2.5 s, 6 steps, 2 clips held out): the fast
    tests' bespoke voice, trained once per test process. Returns engine.adapter's AdapterRun."""
    import onnx
    import torch

    from voicesmith.engine import adapter
    from voicesmith.engine.kokoro import decoder, graph, weights

    examples = teacher_examples(speech_data, "allison_en", 6, max_s=2.5)
    torch.set_num_threads(2)
    dec = decoder.load_decoder(onnx.load(str(graph.build_variant("float32"))))
    timbre = weights.voice_packs()[START_PACK][20, :128]
    return adapter.train(dec, timbre, examples[2:], examples[:2], band_hz=8000, steps=6, eval_every=3)


@dataclass
class ManifestRow:
    """A corpus clip shaped for `split.split_utterances` (source, start, text, duration), with its path."""

    source: str
    start: float
    text: str
    duration: float
    path: Path


def manifest_rows(speech_data: Path, speaker: str) -> list[ManifestRow]:
    return [ManifestRow(r["path"], 0.0, r["text"], float(r["seconds"]), speech_data / r["path"])
            for r in corpus_rows(speech_data, speaker)]
