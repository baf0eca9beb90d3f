"""The official `cartesia` v3 SDK (cartesia>=3,<4, sends Cartesia-Version 2025-11-04) in its own virtualenv.

The venv lives under .cache/ and is reused; it is created with pip from the package index on first use.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".cache" / "sdk-v3-venv"
FLOW = Path(__file__).with_name("sdk_v3_flow.py")
_OFFLINE_HINTS = ("No matching distribution", "Could not find a version", "NewConnectionError",
                  "Temporary failure in name resolution", "Network is unreachable", "ConnectionError")


def _venv_python() -> Path:
    py = VENV / "bin" / "python"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".sdk-v3-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other test runs may be creating it right now
        probe = [str(py), "-c", "import cartesia, sys; sys.exit(0 if cartesia.__version__.startswith('3.') else 1)"]
        if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
            return py
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
        pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "cartesia>=3,<4"], capture_output=True,
                             text=True, timeout=900)
        if pip.returncode != 0:
            if any(h in pip.stderr for h in _OFFLINE_HINTS):
                pytest.skip(f"pip could not reach the package index to install cartesia v3: {pip.stderr[-400:]}")
            raise RuntimeError(f"pip install cartesia>=3,<4 failed:\n{pip.stderr[-2000:]}")
    return py


def test_pvc_workflow_with_sdk_v3(live_server, speech_data):
    py = _venv_python()
    rows = [line.split("\t") for line in (speech_data / "manifest.tsv").read_text().splitlines()[1:]]
    wavs = [str(speech_data / r[2]) for r in rows if r[0] == "allison_en" and 2.0 < float(r[3]) < 8.0][3:6]
    poor_key = live_server.make_key("sdk-poor")
    with sqlite3.connect(live_server.data_dir / "voicesmith.db") as db:
        db.execute("UPDATE organizations SET credits_balance = 5 WHERE name = 'sdk-poor'")
    proc = subprocess.run(
        [str(py), str(FLOW), live_server.base_url, live_server.make_key("sdk-v3"), live_server.make_key("sdk-other"),
         poor_key, *wavs],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["sdk_version"].startswith("3.")
    assert seen["fine_tune_status"] in ("created", "training", "failed", "completed")
