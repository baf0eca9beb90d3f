"""A fake trainer that exercises the job machinery (kill, cancel, re-dispatch) without training.

Injected into real worker processes by slow_worker.py (settings.worker_app). It sleeps in steps,
checkpoints the step reached in the workdir as the real trainer checkpoints its searches, and resumes
from there when a job is run again. It never makes a voice: it ends by refusing the dataset with the
code `test_pipeline` and its log as the report, so a job run through it always ends failed/test_pipeline.

Settings: `slow_pipeline.json` in the job's workdir ({"steps": N, "step_s": seconds}; written by the
test before it dispatches the job), and SLOW_PIPELINE_LOG in the worker's environment, a file that
gets one line per start so tests can count who ran a job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from voicesmith.engine.checkpoints import load_json, save_json
from voicesmith.worker.trainer import Cancelled, DatasetRejected, FineTuneRequest, FineTuneResult, ProgressUpdate


def run(request: FineTuneRequest, progress: Callable[[ProgressUpdate], None], should_cancel: Callable[[], bool],
        workdir: Path) -> FineTuneResult:
    config = load_json(workdir / "slow_pipeline.json") or {}
    steps, step_s = int(config.get("steps", 20)), float(config.get("step_s", 0.25))
    start = (load_json(workdir / "checkpoint.json") or {"step": 0})["step"]
    runs = (load_json(workdir / "runs.json") or {"runs": []})["runs"]
    runs.append({"pid": os.getpid(), "from_step": start})
    save_json(workdir / "runs.json", {"runs": runs})
    log = os.environ.get("SLOW_PIPELINE_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{workdir.name} {os.getpid()} {start}\n")

    progress(ProgressUpdate("ingest", start / steps, (steps - start) * step_s, ""))
    for step in range(start, steps):
        if should_cancel():
            raise Cancelled("cancel requested")
        time.sleep(step_s)
        save_json(workdir / "checkpoint.json", {"step": step + 1})
        progress(ProgressUpdate("adapt", (step + 1) / steps, (steps - step - 1) * step_s, ""))
    report = {"test_pipeline": True, "runs": runs, "steps": steps, "files": [f.filename for f in request.files]}
    raise DatasetRejected("test_pipeline", "Run by the fake test trainer; no voices were made.", report)
