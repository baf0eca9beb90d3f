"""TTS API benchmark: the server's real-time factor against the engine called directly, time to first audio over
SSE and WebSocket, and the server's peak memory.

Starts `voicesmith serve --no-worker` on a temp data dir (loopback) and, in the same run and on the same text and
voice, measures
- RTF of POST /tts/bytes (raw pcm_f32le at 24 kHz: no resampling, so the difference is the API's cost) with 1
  and with N concurrent streams (per-stream RTF = wall time / audio seconds), against the engine called in this
  process with the same concurrency (threads): the overhead ratio is server RTF / engine RTF;
- time to the first audio chunk for a 2-sentence request over /tts/sse and /tts/websocket (p50/p90 of R runs;
  the WebSocket is connected before the clock starts, as a client keeps it open);
- the server's peak RSS (VmHWM) with the model loaded, after everything above.
Engine and server never run at the same time. Client, server and engine share the machine's cores, and other
processes may too: the load average is reported with the figures.

Usage: python bench/bench_tts.py [--repeats 3] [--concurrency 4] [--ttfa-runs 10]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from bench_server import free_port

PARAGRAPH = (
    "The museum opens at nine in the morning and closes at six in the evening. "
    "Visitors can borrow an audio guide at the front desk for a small fee. "
    "Photography is allowed in most rooms, but please do not use a flash. "
    "The cafe on the top floor serves lunch until three o'clock."
)
TWO_SENTENCES = "Good morning, everyone. Thank you all for coming today."
RATE = 24000
RAW = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": RATE}


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# --- the engine, called directly ------------------------------------------------------------------------------------

def engine_rtf(repeats: int, concurrency: int) -> tuple[float, float]:
    """(mean per-stream RTF with 1 stream, with `concurrency` streams) of Synthesizer.stream in this process."""
    from voicesmith.engine.stock import stock_voices
    from voicesmith.engine.synthesis import get_synthesizer

    synthesizer = get_synthesizer()
    voice = stock_voices()[0].artifact
    synthesizer.synthesize("Warm up.", voice)

    def one() -> float:
        started = time.perf_counter()
        samples = sum(len(chunk.audio) for chunk in synthesizer.stream(PARAGRAPH, voice))
        return (time.perf_counter() - started) / (samples / synthesizer.sample_rate)

    single = statistics.median(one() for _ in range(repeats))
    return single, _concurrent(one, concurrency, repeats)


def _concurrent(job, concurrency: int, repeats: int) -> float:  # noqa: ANN001
    """Median over `repeats` rounds of the mean per-stream RTF of `concurrency` simultaneous jobs."""
    rounds = []
    for _ in range(repeats):
        results: list[float] = []
        threads = [threading.Thread(target=lambda: results.append(job())) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rounds.append(statistics.mean(results))
    return statistics.median(rounds)


# --- the server -----------------------------------------------------------------------------------------------------

class Server:
    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "VOICESMITH_DATA": str(data_dir), "PYTHONUNBUFFERED": "1"}
        cli = [sys.executable, "-m", "voicesmith"]
        self.key = subprocess.run([*cli, "keys", "create", "--org", "bench", "--data", str(data_dir)],
                                  env=env, capture_output=True, text=True, check=True).stdout.strip()
        self.port = free_port()
        self.log = open(data_dir / "serve.log", "wb")
        self.proc = subprocess.Popen([*cli, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--data", str(data_dir)], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Bearer {self.key}"}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(data_dir / 'serve.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.base + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.25)
        voices = httpx.get(self.base + "/voices", headers=self.headers, timeout=30).json()["data"]
        from voicesmith.engine.stock import stock_voices

        self.voice = stock_voices()[0].voice_id  # the voice the engine measurement uses
        assert self.voice in {v["id"] for v in voices}

    def body(self, text: str) -> dict:
        return {"model_id": "sonic-2", "transcript": text, "voice": {"mode": "id", "id": self.voice},
                "output_format": RAW, "language": "en"}

    def bytes_rtf(self) -> float:
        started = time.perf_counter()
        r = httpx.post(self.base + "/tts/bytes", json=self.body(PARAGRAPH), headers=self.headers, timeout=600)
        r.raise_for_status()
        return (time.perf_counter() - started) / (len(r.content) / 4 / RATE)

    def sse_ttfa(self) -> float:
        started = time.perf_counter()
        first = None
        with httpx.stream("POST", self.base + "/tts/sse", json=self.body(TWO_SENTENCES), headers=self.headers,
                          timeout=600) as r:
            for line in r.iter_lines():  # read to the end so runs do not overlap
                if first is None and line.startswith("data:") and json.loads(line[5:])["type"] == "chunk":
                    first = time.perf_counter() - started
        return first

    def ws_ttfa(self, ws, run: int) -> float:  # noqa: ANN001
        context = f"bench-{run}"
        started = time.perf_counter()
        ws.send(json.dumps({**self.body(TWO_SENTENCES), "context_id": context, "continue": False}))
        first = None
        while True:
            event = json.loads(ws.recv(timeout=600))
            if event["type"] == "chunk" and first is None:
                first = time.perf_counter() - started
                assert base64.b64decode(event["data"])
            if event["type"] in ("done", "error"):
                assert event["type"] == "done", event
                return first

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--ttfa-runs", type=int, default=10)
    args = parser.parse_args()
    from websockets.sync.client import connect

    load_before = os.getloadavg()[0]
    engine_1, engine_n = engine_rtf(args.repeats, args.concurrency)

    with tempfile.TemporaryDirectory(prefix="bench-tts-") as tmp:
        server = Server(Path(tmp))
        try:
            server.bytes_rtf()  # warm
            server_1 = statistics.median(server.bytes_rtf() for _ in range(args.repeats))
            server_n = _concurrent(server.bytes_rtf, args.concurrency, args.repeats)
            server.sse_ttfa()
            sse = [server.sse_ttfa() for _ in range(args.ttfa_runs)]
            url = f"ws://127.0.0.1:{server.port}/tts/websocket"
            with connect(url, additional_headers=server.headers, max_size=2**24) as ws:
                server.ws_ttfa(ws, -1)
                ws_times = [server.ws_ttfa(ws, i) for i in range(args.ttfa_runs)]
            peak = server.peak_rss_mb()
        finally:
            server.stop()

    print(json.dumps({
        "bench": "tts",
        "text_chars": len(PARAGRAPH),
        "engine_rtf_1": round(engine_1, 3),
        "server_rtf_1": round(server_1, 3),
        "overhead_ratio_1": round(server_1 / engine_1, 3),
        "concurrency": args.concurrency,
        f"engine_rtf_{args.concurrency}": round(engine_n, 3),
        f"server_rtf_{args.concurrency}": round(server_n, 3),
        f"overhead_ratio_{args.concurrency}": round(server_n / engine_n, 3),
        "ttfa_sse_ms_p50": round(1000 * _percentile(sse, 50)),
        "ttfa_sse_ms_p90": round(1000 * _percentile(sse, 90)),
        "ttfa_ws_ms_p50": round(1000 * _percentile(ws_times, 50)),
        "ttfa_ws_ms_p90": round(1000 * _percentile(ws_times, 90)),
        "ttfa_runs": args.ttfa_runs,
        "server_peak_rss_mb": round(peak),
        "tts_workers": os.environ.get("VOICESMITH_TTS_WORKERS", "default"),
        "cpus": os.cpu_count(),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
