"""Checkpoint files (engine/checkpoints.py) under SIGKILL: a process killed while it rewrites a checkpoint over and
over leaves the last whole version, never a torn one (a killed write may leave its temp file beside it: the
workdir goes when the job ends)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

from voicesmith.engine.checkpoints import load_json

# Rewrites state.json with a growing list (up to 200 KB, so a write takes several system calls), printing each version
# once it is in place.
_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from voicesmith.engine.checkpoints import save_json
    path = Path(sys.argv[1])
    n = 0
    while True:
        n += 1
        save_json(path, {"n": n, "history": list(range(n * 1000))})
        print(n, flush=True)
""")


def test_a_checkpoint_killed_mid_rewrite_is_the_last_whole_version(tmp_path) -> None:
    path = tmp_path / "state.json"
    rng = random.Random()
    for _ in range(8):
        kill_after = rng.randint(2, 30)
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        last = 0
        try:
            for line in writer.stdout:
                last = int(line)
                if last == kill_after:
                    time.sleep(rng.uniform(0, 0.005))  # a random point of the next rewrite
                    writer.send_signal(signal.SIGKILL)
                    break
            printed = [int(line) for line in writer.stdout]  # what it put in place before it died
        finally:
            writer.kill()
            writer.wait()
        state = load_json(path)
        assert state is not None, "the checkpoint is torn"
        newest = max([last, *printed])
        assert state["n"] in (newest, newest + 1)  # the kill may fall between a rename and its print
        assert state["history"] == list(range(state["n"] * 1000))
