"""The user's workflow script (../shared/seed_workflow.py), imported unchanged with API_BASE pointed here."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [REPO_ROOT.parent / "shared" / "seed_workflow.py", Path("/work/shared/seed_workflow.py")]
TERMINAL = ("completed", "failed")
INITIAL_CREDITS = 1_000_000_000  # config default


@pytest.fixture(scope="module")
def seed(live_server):
    path = next((p for p in CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip(f"seed_workflow.py not found (looked in {', '.join(map(str, CANDIDATES))})")
    key = live_server.make_key("seed-user")
    old = os.environ.get("CARTESIA_API_KEY")
    os.environ["CARTESIA_API_KEY"] = key  # read at import time, as the script does
    try:
        spec = importlib.util.spec_from_file_location("seed_workflow", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if old is None:
            os.environ.pop("CARTESIA_API_KEY", None)
        else:
            os.environ["CARTESIA_API_KEY"] = old
    module.API_BASE = live_server.base_url
    return module


def test_seed_workflow_runs_unchanged(seed, live_server, speech_data, capsys):
    rows = [line.split("\t") for line in (speech_data / "manifest.tsv").read_text().splitlines()[1:]]
    samples = [speech_data / r[2] for r in rows if r[0] == "allison_en"][:5]

    dataset_id = seed.create_dataset("PVC demo", "Samples for a Pro Voice Clone")
    for wav in samples:
        seed.upload_file_to_dataset(dataset_id, wav)
    headers = seed.API_HEADERS
    listed = requests.get(f"{live_server.base_url}/datasets/{dataset_id}/files", headers=headers, timeout=30).json()
    assert sorted(f["filename"] for f in listed["data"]) == sorted(p.name for p in samples)

    ft_id = seed.create_fine_tune(dataset_id, name="PVC demo", language="en", model_id="sonic-2")
    seen = []
    start = time.monotonic()
    outcome = None
    # The script's own poller, with a short interval; it returns on completed and raises on failed.
    while outcome is None and time.monotonic() - start < 240:
        status = requests.get(f"{live_server.base_url}/fine-tunes/{ft_id}", headers=headers, timeout=30).json()
        seen.append(status["status"])
        if status["status"] in TERMINAL:
            try:
                seed.wait_for_fine_tune(ft_id, every=0.2)
                outcome = "completed"
            except RuntimeError as exc:
                assert "failed" in str(exc)
                outcome = "failed"
        else:
            time.sleep(0.5)
    assert outcome is not None, f"fine-tune never finished; statuses seen: {seen[-5:]}\n{live_server.log_tail()}"
    assert f"fine-tune {ft_id} -> " in capsys.readouterr().out  # the script's own progress line
    final = requests.get(f"{live_server.base_url}/fine-tunes/{ft_id}", headers=headers, timeout=30).json()
    assert set(seen) <= {"created", "training", "completed", "failed"}
    print(f"fine-tune ended {outcome}: {final.get('error_code')}: {final.get('error')}")
    with sqlite3.connect(live_server.data_dir / "voicesmith.db") as db:
        balance, reserved = db.execute("SELECT credits_balance, credits_reserved FROM organizations "
                                       "WHERE name = 'seed-user'").fetchone()
    assert reserved == 0  # the reservation is settled either way
    if outcome == "failed":
        # Honest failure: a reason a user can act on, and no credits charged.
        assert final["error"] and final["error_code"], final
        assert balance == INITIAL_CREDITS
    else:
        voices = seed.list_voices(ft_id)
        assert len(voices) == 4 and all(v["id"] for v in voices)
