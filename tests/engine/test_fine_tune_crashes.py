"""A fine-tune whose process is SIGKILLed in each stage (ingest, segment/transcribe, adapt, evaluate) resumes from
what its workdir holds, and ends with the voices of an uninterrupted run with the same seed.

The fine-tune runs in a child process (fine_tune_child.py): the engine's resume is what is under test; the worker's
side (claim, heartbeat, re-dispatch after a kill) is tests/worker/test_job_recovery.py's. Several tiny fine-tunes on
a shared 2-core machine take many minutes: slow. The always-run sibling is the atomic checkpoint write under SIGKILL
(tests/engine/test_checkpoints.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("fine_tune_child.py")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(5400)]

# Where each kill lands: at the n-th progress update of that stage whose message has that text (in ingest: the first
# file's analysis is saved; in adapt: the closest-match search has checkpointed its first generation and is speaking
# the second's candidates, then the bespoke decoder has checkpointed its first evaluation).
KILLS = (("ingest", "checking ", 3), ("transcribe", "transcribing", 2), ("adapt", "in round 2", 1),
         ("adapt", "held-out loss", 1), ("evaluate", "measuring", 2))


def _start(speech_data: Path, workdir: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, str(CHILD), str(speech_data), str(workdir), str(out)], env=env,
                            stdout=subprocess.PIPE, text=True)


def _voices(out: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(out.glob("*.voice"))}


def _run_to_the_end(speech_data: Path, workdir: Path, out: Path) -> list[str]:
    proc = _start(speech_data, workdir, out)
    lines = [line.strip() for line in proc.stdout]
    assert proc.wait() == 0 and lines[-1] == "done", lines[-20:]
    return lines


def test_killed_in_every_stage_it_resumes_to_the_voices_of_an_uninterrupted_run(speech_data: Path, tmp_path) -> None:
    _run_to_the_end(speech_data, tmp_path / "straight", tmp_path / "straight-voices")
    reference = _voices(tmp_path / "straight-voices")
    assert sorted(reference) == ["clear", "match", "style_a", "style_b"]

    workdir = tmp_path / "killed"
    for stage, text, nth in KILLS:
        proc = _start(speech_data, workdir, tmp_path / "killed-voices")
        seen, killed = 0, False
        try:
            for line in proc.stdout:
                seen += line.startswith(stage + "|") and text in line and not line.rstrip().endswith(" files")
                if seen == nth:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
        finally:
            proc.kill()
            proc.wait()
        assert killed, f"the run ended without a {stage} update saying {text!r}"
    lines = _run_to_the_end(speech_data, workdir, tmp_path / "killed-voices")
    assert not any(line.startswith("ingest|checking ") and not line.endswith(" files") for line in lines), \
        "the last run analysed files again"
    assert _voices(tmp_path / "killed-voices") == reference
