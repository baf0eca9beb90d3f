"""TEST-ONLY stand-in for the trainer, to exercise the job machinery (kill, cancel, re-dispatch).

Loaded by the worker through VOICESMITH_TEST_ONLY_FINE_TUNE_PIPELINE="slow_pipeline:run" (with this
directory on PYTHONPATH). It trains nothing: it sleeps in steps, checkpoints the step reached in the
workdir like the real trainer checkpoints its adaptation, and resumes from there when a job is run
again. A job run through it always ends failed/test_pipeline (jobs/tasks.py), never completed.

Settings: `slow_pipeline.json` in the job's workdir ({"steps": N, "step_s": seconds}; written by the
test before it dispatches the job), and SLOW_PIPELINE_LOG in the worker's environment, a file that
gets one line per start so tests can count who ran a job.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Update:
    stage: str
    progress: float
    eta_seconds: float
    message: str = ""


class Stopped(Exception):
    pass


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)  # atomic: a kill mid-write leaves the previous checkpoint


def run(files, progress, should_cancel, workdir: Path) -> dict:  # noqa: ANN001 (mirrors the trainer's call)
    config_path = workdir / "slow_pipeline.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    steps, step_s = int(config.get("steps", 20)), float(config.get("step_s", 0.25))
    checkpoint = workdir / "checkpoint.json"
    start = json.loads(checkpoint.read_text())["step"] if checkpoint.exists() else 0
    runs_path = workdir / "runs.json"
    runs = json.loads(runs_path.read_text())["runs"] if runs_path.exists() else []
    runs.append({"pid": os.getpid(), "from_step": start})
    _write_json(runs_path, {"runs": runs})
    log = os.environ.get("SLOW_PIPELINE_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{workdir.name} {os.getpid()} {start}\n")

    progress(Update("ingest", start / steps, (steps - start) * step_s))
    for step in range(start, steps):
        if should_cancel():
            raise Stopped("cancel requested")
        time.sleep(step_s)
        _write_json(checkpoint, {"step": step + 1})
        progress(Update("adapt", (step + 1) / steps, (steps - step - 1) * step_s))
    return {"runs": runs, "steps": steps, "files": [f.filename for f in files]}
