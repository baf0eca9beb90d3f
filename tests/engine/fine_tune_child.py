"""Run (or resume) the tiny fine-tune of test_fine_tune_crashes.py in a process of its own, so that the test can
SIGKILL it: `python fine_tune_child.py SPEECH_DATA WORKDIR OUT`. Prints each progress update as `stage|message`,
and at the end writes each voice's artifact to OUT/<key>.voice and prints `done`."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.engine.adapt_data import corpus_rows
from voicesmith.engine.fine_tune import AudioFile, FineTuneRequest, ProgressUpdate, run_fine_tune

SEED = 7


def main(speech_data: Path, workdir: Path, out: Path) -> None:
    rows = corpus_rows(speech_data, "allison_en", minutes=2)
    files = [AudioFile(speech_data / r["path"], Path(r["path"]).name, r["text"]) for r in rows]
    request = FineTuneRequest(files=files, language="en", name="Allison", params={"budget": "tiny", "seed": SEED})

    def progress(update: ProgressUpdate) -> None:
        print(f"{update.stage}|{update.message}", flush=True)

    result = run_fine_tune(request, progress, lambda: False, workdir)
    out.mkdir(parents=True, exist_ok=True)
    for voice in result.voices:
        (out / f"{voice.key}.voice").write_bytes(voice.artifact.to_bytes())
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
