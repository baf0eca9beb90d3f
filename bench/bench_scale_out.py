"""Scale-out benchmark (issue 16): TTS throughput with 1 vs 2 API processes, fine-tunes per hour with 1 vs 2 workers.

Both sides of each ratio run on this machine in the same invocation, in the deployment of docs/deploy.md: a
shared database (SQLite file; PostgreSQL would change nothing measured here), Redis as the broker and for the
shared TTS limits (a redis-server started here), and blobs in the filesystem store shared by the processes.

- tts: N `voicesmith serve --no-worker` processes (1, then 2). A client keeps `--streams` POST /tts/bytes
  requests in flight, spread round-robin over the processes, for `--requests` requests of one paragraph; the
  figure is seconds of audio produced per wall-clock second (higher is better), and the ratio 2 / 1.
- fine-tune (with --fine-tunes K > 0): K fine-tunes of the same dataset (`--minutes` of allison_en, the tiny
  budget) run by 1, then by 2 `voicesmith worker` processes (one job at a time each); the figure is fine-tunes
  per hour from the first dispatch to the last completion. Minutes of CPU per fine-tune: off by default.

Two processes on one machine share its cores: where the work is CPU-bound, expect a ratio near 1 on a small
machine, and near 2 only where each process gets cores of its own (separate machines, or many cores).

Prints one JSON line. Usage: python bench/bench_scale_out.py [--requests 16] [--streams 4] [--fine-tunes 0]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from bench_server import free_port

ROOT = Path(__file__).resolve().parents[1]
VOICESMITH = Path(sys.executable).with_name("voicesmith")
PARAGRAPH = (
    "The museum opens at nine in the morning and closes at six in the evening. "
    "Visitors can borrow an audio guide at the front desk for a small fee."
)
RATE = 24000
RAW = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": RATE}


class Deployment:
    """Redis + a shared database and blob directory; API and worker processes with data dirs of their own."""

    def __init__(self, root: Path, **settings: str) -> None:
        self.root = root
        self.redis_port = free_port()
        self.redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
                                       "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("VOICESMITH_")}
        self.env.update({
            "VOICESMITH_DATABASE_URL": f"sqlite:///{root / 'shared.db'}",
            "VOICESMITH_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "VOICESMITH_BLOB_DIR": str(root / "blobs"),
            "VOICESMITH_TOKEN_SECRET": "b" * 64,
            "PYTHONUNBUFFERED": "1",
            **settings,
        })
        self.procs: list[subprocess.Popen] = []
        time.sleep(0.5)
        self.key = self.cli("keys", "create", "--org", "bench")

    def cli(self, *args: str) -> str:
        data = self.root / "admin"
        return subprocess.run([str(VOICESMITH), *args, "--data", str(data)], env={**self.env, "VOICESMITH_DATA": str(data)},
                              capture_output=True, text=True, check=True, timeout=600).stdout.strip()

    def start(self, name: str, *args: str) -> subprocess.Popen:
        data = self.root / name
        data.mkdir(exist_ok=True)
        proc = subprocess.Popen([str(VOICESMITH), *args, "--data", str(data)], env={**self.env, "VOICESMITH_DATA": str(data)},
                                stdout=open(self.root / f"{name}.log", "ab"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def api(self, name: str) -> str:
        port = free_port()
        proc = self.start(name, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None:
                raise RuntimeError((self.root / f"{name}.log").read_text()[-3000:])
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.5)

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def close(self) -> None:
        for p in self.procs:
            self.stop(p)
        self.redis.terminate()
        self.redis.wait()


def tts_throughput(dep: Deployment, bases: list[str], requests: int, streams: int) -> dict:
    headers = {"Authorization": f"Bearer {dep.key}", "Cartesia-Version": "2026-03-01"}
    voice = httpx.get(bases[0] + "/voices", headers=headers, timeout=60).json()["data"][0]["id"]
    body = {"model_id": "sonic-2", "transcript": PARAGRAPH, "voice": {"mode": "id", "id": voice},
            "output_format": RAW, "language": "en"}
    for base in bases:  # warm: each process has its voice cached and its first request behind it
        httpx.post(base + "/tts/bytes", json=body, headers=headers, timeout=600).raise_for_status()
    targets = itertools.cycle(bases)
    lock = threading.Lock()

    def one(_: int) -> float:
        with lock:
            base = next(targets)
        r = httpx.post(base + "/tts/bytes", json=body, headers=headers, timeout=1200)
        r.raise_for_status()
        return len(r.content) / 4 / RATE

    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        audio_s = sum(pool.map(one, range(requests)))
    wall = time.perf_counter() - started
    return {"processes": len(bases), "requests": requests, "streams": streams, "audio_s": round(audio_s, 1),
            "wall_s": round(wall, 1), "audio_s_per_s": round(audio_s / wall, 3)}


def fine_tunes_per_hour(dep: Deployment, base: str, workers: int, jobs: int, minutes: float) -> dict:
    speech = Path(os.environ.get("VOICESMITH_SPEECH_DATA") or ROOT / ".cache" / "speech")
    with open(speech / "manifest.tsv", newline="") as f:
        rows = sorted((r for r in csv.DictReader(f, delimiter="\t") if r["speaker"] == "allison_en"),
                      key=lambda r: r["path"])
    picked, total = [], 0.0
    for r in rows:
        if total >= minutes * 60:
            break
        picked.append(r)
        total += float(r["seconds"])
    headers = {"Authorization": f"Bearer {dep.key}", "Cartesia-Version": "2026-03-01"}
    api = httpx.Client(base_url=base, headers=headers, timeout=600)
    ds = api.post("/datasets", json={"name": f"bench-{workers}", "description": ""}).json()["id"]
    for r in picked:
        with open(speech / r["path"], "rb") as fh:
            api.post(f"/datasets/{ds}/files", files={"file": (Path(r["path"]).name, fh, "audio/wav")},
                     data={"purpose": "fine_tune"}).raise_for_status()
    procs = [dep.start(f"worker{workers}-{i}", "worker", "--concurrency", "1") for i in range(workers)]
    while api.get(f"/datasets/{ds}/report").json()["status"] == "pending":
        time.sleep(2)
    started = time.perf_counter()
    ids = [api.post("/fine-tunes", json={"name": f"b{i}", "description": "", "language": "en", "model_id": "sonic-2",
                                         "dataset": ds, "budget": "tiny"}).json()["id"] for i in range(jobs)]
    while True:
        states = [api.get(f"/fine-tunes/{i}").json()["status"] for i in ids]
        if all(s in ("completed", "failed") for s in states):
            break
        time.sleep(5)
    wall = time.perf_counter() - started
    for p in procs:
        dep.stop(p)
    return {"workers": workers, "fine_tunes": jobs, "completed": states.count("completed"), "audio_min": round(total / 60, 2),
            "wall_s": round(wall, 1), "per_hour": round(jobs * 3600 / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--fine-tunes", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=1.2)
    args = ap.parse_args()
    out: dict = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3], "cpus": os.cpu_count()}
    root = Path(tempfile.mkdtemp(prefix="bench-scale-out-"))
    dep = Deployment(root, VOICESMITH_TTS_CONCURRENCY=str(args.streams), VOICESMITH_MIN_USABLE_SPEECH_S="30")
    try:
        first = dep.api("api0")
        one = tts_throughput(dep, [first], args.requests, args.streams)
        second = dep.api("api1")
        two = tts_throughput(dep, [first, second], args.requests, args.streams)
        out["tts"] = {"one": one, "two": two, "ratio": round(two["audio_s_per_s"] / one["audio_s_per_s"], 3)}
        if args.fine_tunes:
            dep.stop(dep.procs[-1])  # one API process is enough to drive the workers
            ft1 = fine_tunes_per_hour(dep, first, 1, args.fine_tunes, args.minutes)
            ft2 = fine_tunes_per_hour(dep, first, 2, args.fine_tunes, args.minutes)
            out["fine_tunes"] = {"one": ft1, "two": ft2, "ratio": round(ft2["per_hour"] / ft1["per_hour"], 3)}
    finally:
        dep.close()
        shutil.rmtree(root, ignore_errors=True)
    out["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
