"""Train test_bespoke.py's small bespoke decoder in a process of its own, so that the test can SIGKILL it:
`python bespoke_child.py SPEECH_DATA WORKDIR`. Prints each progress message, then the result's details as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tests.engine.adapt_data import START_PACK, corpus_rows
from voicesmith.engine import bespoke, speaker
from voicesmith.engine.audio import load_audio
from voicesmith.engine.kokoro import weights
from voicesmith.engine.phonemes import phonemize
from voicesmith.engine.voice import VoiceArtifact

PLAN = bespoke.BespokePlan(steps=6, clips=4, held=2)  # evaluations and checkpoints at steps 3 and 6


def pool(speech_data: Path) -> list[bespoke.Recording]:
    """Eight short allison_en recordings (1.5-2.5 s)."""
    rows = [r for r in corpus_rows(speech_data, "allison_en") if 1.5 <= float(r["seconds"]) <= 2.5][:8]
    return [bespoke.Recording(phonemize(r["text"], "en"), lambda p=speech_data / r["path"]: load_audio(p)[0],
                              int(r["sample_rate"])) for r in rows]


def centroid(recordings: list[bespoke.Recording]) -> np.ndarray:
    """The speaker's Resemblyzer centroid over `recordings` (the speaker term's target)."""
    return speaker.centroid(speaker.embed_many([r.load() for r in recordings], recordings[0].rate))


def main(speech_data: Path, workdir: Path) -> None:
    start = VoiceArtifact(weights.voice_packs()[START_PACK])
    recordings = pool(speech_data)
    result = bespoke.train(start, recordings, 16000, PLAN, workdir, lambda f, m: print(m, flush=True),
                           lambda: False, centroid=centroid(recordings), threads=2)
    print(json.dumps(result.details), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
