"""Load and soak: a real `voicesmith serve` on loopback under mixed traffic for a while, watching for errors,
latency, memory growth and file-descriptor leaks.

Traffic, all at once for --minutes (default 10):
- --streams (default 4) TTS clients, each looping POST /tts/bytes (raw PCM, one sentence), reading the stream;
- one metadata client looping GET /voices, /datasets, /datasets/{id}, /datasets/{id}/files, /usage/balance;
- one upload client looping: upload a 2 s WAV to a dataset, list it, delete it.
The server's RSS and open file descriptors are sampled every 5 s; growth is measured from the end of a warm-up
(the first 10% of the run, at least 30 s: models load, caches fill) to the end.

Prints one JSON line: per traffic kind, requests, errors, p50/p99 latency (TTS: time to first byte and total);
rss_mb at warm-up end and at the end, growth %; fds at warm-up end, at the end and the most seen. The per-key
rate limit is turned off for the run (the metadata client alone makes thousands of requests a minute).

Usage: python bench/bench_soak.py [--minutes 10] [--streams 4]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
from bench_server import start_server
import numpy as np
import psutil

SENTENCE = "The quick brown fox jumps over the lazy dog, and then it rests in the warm afternoon sun."
FMT = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}


def _wav(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    data = (0.3 * np.sin(2 * np.pi * 180 * t) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data"
            + struct.pack("<I", len(data)) + data)


def _listener(proc: subprocess.Popen, port: int) -> psutil.Process:
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in p.net_connections("tcp")):
                return p
        except psutil.Error:
            continue
    return root


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency.setdefault(kind, []).append(seconds)

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors.setdefault(kind, []).append(what)

    def summary(self) -> dict:
        out = {}
        for kind in sorted(set(self.latency) | set(self.errors)):
            values = self.latency.get(kind, [])
            row = {"requests": len(values), "errors": len(self.errors.get(kind, []))}
            if len(values) >= 2:
                q = statistics.quantiles(values, n=100)
                row.update(p50_ms=round(q[49] * 1000, 1), p99_ms=round(q[98] * 1000, 1))
            if self.errors.get(kind):
                row["first_errors"] = self.errors[kind][:3]
            out[kind] = row
        return out


def _tts_loop(base: str, headers: dict, voice: str, stop: threading.Event, stats: Stats) -> None:
    body = {"model_id": "sonic-2", "transcript": SENTENCE, "voice": {"mode": "id", "id": voice},
            "output_format": FMT, "language": "en"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                with client.stream("POST", "/tts/bytes", json=body) as r:
                    if r.status_code != 200:
                        stats.error("tts", f"{r.status_code} {r.read()[:200]!r}")
                        time.sleep(1)
                        continue
                    first = None
                    size = 0
                    for chunk in r.iter_bytes():
                        if first is None and chunk:
                            first = time.perf_counter() - t0
                        size += len(chunk)
                stats.add("tts_first_byte", first or 0.0)
                stats.add("tts_total", time.perf_counter() - t0)
                if size == 0:
                    stats.error("tts", "empty audio")
            except httpx.HTTPError as exc:
                stats.error("tts", type(exc).__name__)


def _metadata_loop(base: str, headers: dict, ds: str, stop: threading.Event, stats: Stats) -> None:
    paths = ["/voices?limit=20", "/datasets?limit=10", f"/datasets/{ds}", f"/datasets/{ds}/files", "/usage/balance"]
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        i = 0
        while not stop.is_set():
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = client.get(path)
                stats.add("metadata", time.perf_counter() - t0)
                if r.status_code != 200:
                    stats.error("metadata", f"{path} {r.status_code}")
            except httpx.HTTPError as exc:
                stats.error("metadata", type(exc).__name__)
            time.sleep(0.01)


def _upload_loop(base: str, headers: dict, ds: str, stop: threading.Event, stats: Stats) -> None:
    clip = _wav(2.0)
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        n = 0
        while not stop.is_set():
            n += 1
            t0 = time.perf_counter()
            try:
                r = client.post(f"/datasets/{ds}/files", files={"file": (f"soak{n}.wav", clip, "audio/wav")})
                stats.add("upload", time.perf_counter() - t0)
                if r.status_code != 204:
                    stats.error("upload", f"{r.status_code} {r.text[:200]}")
                    continue
                files = client.get(f"/datasets/{ds}/files", params={"limit": 100}).json()["data"]
                for f in files:
                    if client.delete(f"/datasets/{ds}/files/{f['id']}").status_code != 204:
                        stats.error("upload", "delete failed")
            except httpx.HTTPError as exc:
                stats.error("upload", type(exc).__name__)
            time.sleep(1.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--streams", type=int, default=4)
    args = ap.parse_args()
    duration = args.minutes * 60
    warmup = max(30.0, duration / 10)

    with tempfile.TemporaryDirectory(prefix="voicesmith-soak-") as tmp:
        data = Path(tmp)
        proc, base, key = start_server(data, "soak")
        try:
            headers = {"Authorization": f"Bearer {key}", "Cartesia-Version": "2026-08-14"}
            server = _listener(proc, int(base.rsplit(":", 1)[1]))
            voices = httpx.get(f"{base}/voices", params={"limit": 100}, headers=headers, timeout=60).json()["data"]
            voice = sorted(v["id"] for v in voices)[0]
            ds = httpx.post(f"{base}/datasets", json={"name": "soak", "description": ""}, headers=headers,
                            timeout=60).json()["id"]
            stats, stop = Stats(), threading.Event()
            threads = [threading.Thread(target=_tts_loop, args=(base, headers, voice, stop, stats), daemon=True)
                       for _ in range(args.streams)]
            threads += [threading.Thread(target=_metadata_loop, args=(base, headers, ds, stop, stats), daemon=True),
                        threading.Thread(target=_upload_loop, args=(base, headers, ds, stop, stats), daemon=True)]
            started = time.monotonic()
            for t in threads:
                t.start()
            samples: list[tuple[float, float, int]] = []  # (seconds since start, rss MB, fds)
            while (elapsed := time.monotonic() - started) < duration:
                samples.append((elapsed, server.memory_info().rss / 2**20, server.num_fds()))
                time.sleep(5)
            stop.set()
            for t in threads:
                t.join(timeout=300)
            samples.append((time.monotonic() - started, server.memory_info().rss / 2**20, server.num_fds()))
            healthy = httpx.get(f"{base}/", timeout=30).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    after_warmup = [s for s in samples if s[0] >= warmup] or samples[-1:]
    rss0, rss1 = after_warmup[0][1], samples[-1][1]
    fds0, fds1 = after_warmup[0][2], samples[-1][2]
    print(json.dumps({
        "bench": "soak",
        "minutes": args.minutes,
        "streams": args.streams,
        "traffic": stats.summary(),
        "errors_total": sum(len(v) for v in stats.errors.values()),
        "rss_mb_after_warmup": round(rss0, 1),
        "rss_mb_end": round(rss1, 1),
        "rss_growth_pct": round(100 * (rss1 - rss0) / rss0, 1),
        "fds_after_warmup": fds0,
        "fds_end": fds1,
        "fds_max": max(s[2] for s in samples),
        "healthy_after": healthy,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
