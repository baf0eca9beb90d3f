"""Server-side administration through the `voicesmith` command: topping up an organisation's credits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import voicesmith_cli


def _add(data_dir: Path, org: str, amount: int) -> subprocess.CompletedProcess:
    # `--` so that a negative amount is not read as an option
    return subprocess.run([sys.executable, "-m", "voicesmith", "credits", "add", "--data", str(data_dir), "--", org,
                           str(amount)], capture_output=True, text=True,
                          env={**os.environ, "VOICESMITH_DATA": str(data_dir)}, timeout=120)


def test_credits_add_tops_up_and_takes_back_within_the_balance(tmp_path: Path) -> None:
    voicesmith_cli("keys", "create", "--org", "acme", data_dir=tmp_path)
    added = _add(tmp_path, "acme", 500)
    assert added.returncode == 0 and added.stdout.strip() == "acme: 1,000,000,500 credits (0 reserved by running fine-tunes)"
    taken = _add(tmp_path, "acme", -1_000_000_000)
    assert taken.returncode == 0 and taken.stdout.startswith("acme: 500 credits"), taken.stderr

    too_much = _add(tmp_path, "acme", -501)
    assert too_much.returncode == 1 and "less than the reservation" in too_much.stderr, too_much.stderr
    unknown = _add(tmp_path, "nobody", 5)
    assert unknown.returncode == 1 and "no organisation named 'nobody'" in unknown.stderr, unknown.stderr
    assert "Traceback" not in too_much.stderr + unknown.stderr
    assert _add(tmp_path, "acme", 0).stdout.startswith("acme: 500 credits")  # nothing was lost on refusal
