"""API spine benchmark: metadata latency/throughput at 50 concurrent clients, and upload throughput.

Starts `voicesmith serve --no-worker` on a temp data dir (loopback), then measures
- GET /datasets/{id} and GET /datasets?limit=10 (and GET /voices): p50/p99 latency and requests/s with
  50 concurrent clients (httpx async, one connection each);
- a streamed multipart upload of SIZE MB: MB/s, against writing the same bytes to a file in the same
  filesystem directly (write + fsync), as a ratio.
Prints one JSON line. Client and server share the machine's cores.

Usage: python bench/bench_api.py [--requests 2000] [--clients 50] [--upload-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from bench_server import start_server

MB = 1024 * 1024
BOUNDARY = "bench-boundary-3f9a"


async def _load(base: str, key: str, paths: list[str], total: int, clients: int) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    headers = {"Authorization": f"Bearer {key}", "Cartesia-Version": "2025-04-16"}

    async def client_loop() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60,
                                     limits=httpx.Limits(max_connections=1)) as client:
            for i in counter:
                t0 = time.perf_counter()
                r = await client.get(paths[i % len(paths)])
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "p50_ms": round(q[49] * 1000, 2),
            "p99_ms": round(q[98] * 1000, 2), "rps": round(len(latencies) / elapsed, 1)}


def _wav_header(data_bytes: int, rate: int = 16000) -> bytes:
    """A mono 16-bit PCM WAV header: the server checks that an upload is audio, and random blocks read as
    16-bit samples are white noise."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_bytes))


def _upload(base: str, key: str, ds: str, size_mb: int, block: bytes) -> float:
    def body():
        yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine_tune\r\n"
               f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\n"
               "Content-Type: audio/wav\r\n\r\n").encode()
        yield _wav_header(size_mb * MB)
        for _ in range(size_mb):
            yield block
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    t0 = time.perf_counter()
    r = httpx.post(f"{base}/datasets/{ds}/files", content=body(), timeout=600,
                   headers={"Authorization": f"Bearer {key}",
                            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    elapsed = time.perf_counter() - t0
    r.raise_for_status()
    return size_mb / elapsed


def _disk_write(path: Path, size_mb: int, block: bytes) -> float:
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        for _ in range(size_mb):
            fh.write(block)
        fh.flush()
        os.fsync(fh.fileno())
    elapsed = time.perf_counter() - t0
    path.unlink()
    return size_mb / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--upload-mb", type=int, default=200)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="voicesmith-bench-") as tmp:
        data = Path(tmp)
        proc, base, key = start_server(data, "bench")
        try:
            h = {"Authorization": f"Bearer {key}"}
            ids = [httpx.post(f"{base}/datasets", json={"name": f"d{i}", "description": "bench"}, headers=h).json()["id"]
                   for i in range(20)]
            get = asyncio.run(_load(base, key, [f"/datasets/{i}" for i in ids], args.requests, args.clients))
            lst = asyncio.run(_load(base, key, ["/datasets?limit=10"], args.requests, args.clients))
            voices = asyncio.run(_load(base, key, ["/voices?limit=10"], args.requests, args.clients))

            block = os.urandom(MB)
            upload_ds = ids[0]
            up = [_upload(base, key, upload_ds, args.upload_mb, block) for _ in range(2)]
            disk = [_disk_write(data / "direct.bin", args.upload_mb, block) for _ in range(2)]
            upload_mbps, disk_mbps = max(up), max(disk)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(json.dumps({
        "bench": "api",
        "clients": args.clients,
        "get_dataset": get,
        "list_datasets": lst,
        "list_voices": voices,
        "upload_mb": args.upload_mb,
        "upload_mb_per_s": round(upload_mbps, 1),
        "disk_write_mb_per_s": round(disk_mbps, 1),
        "upload_vs_disk_ratio": round(upload_mbps / disk_mbps, 3),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
