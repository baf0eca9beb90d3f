"""Kokoro runtimes side by side in one process: onnxruntime int8 (the fallback), OpenVINO float32, OpenVINO
with the generator half in bf16 (what OpenVINO serves) and OpenVINO all bf16 (measured, not served: it changes
the voice). Prints one JSON line.

Each input is one model call (one phoneme sequence): a 2-sentence request and a ~8 s paragraph. The runtimes
are interleaved call by call, so load from other processes falls on all of them alike; each gets one untimed
call per input first (the engine's warm-up does the same), then `--runs` timed rounds; the median counts.
Quality: the Resemblyzer similarity of each runtime's ~8 s audio to onnxruntime int8's.
`--bespoke` adds a bespoke voice on both served runtimes: the stock front and the voice's own generator half
(a random rank-4 adapter over the generator merged into the float32 weights, as `graph.build_bespoke_generator`
makes for a fine-tuned voice); its time against the stock voice's on the same runtime is the cost of being bespoke.

    .venv/bin/python bench/bench_runtime.py [--runs 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from voicesmith.engine import phonemes as g2p
from voicesmith.engine import text as textnorm
from voicesmith.engine.kokoro import graph, runtime, weights
from voicesmith.engine.kokoro.onnx import SAMPLE_RATE
from voicesmith.engine.speaker import cosine, embed_utterance
from voicesmith.engine.stock import stock_voices

INPUTS = {
    "two_sentences": "Thanks for calling, your order has shipped. It should arrive on Monday.",
    "eight_seconds": "The river runs through the green valley, past the old mill and the village school, "
                     "where children were playing in the park before the bus came to take them home.",
}


def _loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class _Bespoke:
    """A served backend speaking through a bespoke voice's generator half."""

    def __init__(self, backend: runtime.Backend, generator) -> None:
        self.backend, self.generator = backend, generator

    def run(self, inputs: runtime.Feeds):
        return self.backend.run(inputs, generator=self.generator)


def _random_adapter() -> dict:
    import numpy as np

    from voicesmith.engine import adapter
    from voicesmith.engine.kokoro.decoder import Decoder

    factors = adapter.adapter_state(adapter.attach(Decoder()))
    rng = np.random.default_rng(0)
    return {k: v if k.endswith(".A") else (rng.normal(size=v.shape) * 0.01).astype(np.float32)
            for k, v in factors.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bespoke", action="store_true", help="add a bespoke voice on the served runtimes")
    args = parser.parse_args()
    load_before = _loadavg()
    vocab = weights.vocab()
    style = stock_voices()[0].artifact
    feeds = {}
    for name, text in INPUTS.items():
        phonemes = g2p.phonemize_words(textnorm.normalize_words(text, "en"), "en").phonemes
        tokens = [vocab[s] for s in phonemes if s in vocab]
        feeds[name] = runtime.feeds(tokens, style.style_for(len(tokens)))
    backends = {}
    compile_s = {}
    for label, make in (("onnxruntime int8", lambda: runtime.OnnxRuntimeBackend(args.threads, "int8")),
                        ("openvino f32", lambda: runtime.OpenVinoBackend(args.threads, "f32", "f32")),
                        ("openvino f32, bf16 generator", lambda: runtime.OpenVinoBackend(args.threads, "f32", "bf16")),
                        ("openvino bf16", lambda: runtime.OpenVinoBackend(args.threads, "bf16", "bf16"))):
        start = time.perf_counter()
        backends[label] = make()
        compile_s[label] = round(time.perf_counter() - start, 2)
    if args.bespoke:
        generator = graph.build_bespoke_generator(_random_adapter())
        for label in ("onnxruntime int8", "openvino f32, bf16 generator"):
            backends[f"{label} + bespoke generator"] = _Bespoke(backends[label], generator)
    audio = {}
    for name, inputs in feeds.items():
        for label, backend in backends.items():
            audio[(name, label)] = backend.run(inputs)[0].reshape(-1)  # untimed first call
    times: dict[tuple[str, str], list[float]] = {key: [] for key in audio}
    for _ in range(args.runs):
        for name, inputs in feeds.items():
            for label, backend in backends.items():
                start = time.perf_counter()
                backend.run(inputs)
                times[(name, label)].append(time.perf_counter() - start)
    base = "onnxruntime int8"
    result: dict = {"threads": args.threads, "runs": args.runs, "loadavg_before": load_before,
                    "load_and_compile_s": compile_s, "inputs": {}}
    reference = embed_utterance(audio[("eight_seconds", base)], SAMPLE_RATE)
    for name in feeds:
        row = {"tokens": int(feeds[name]["tokens"].shape[1]),
               "audio_s": round(len(audio[(name, base)]) / SAMPLE_RATE, 2)}
        base_s = statistics.median(times[(name, base)])
        for label in backends:
            median = statistics.median(times[(name, label)])
            row[label] = {"median_s": round(median, 3), "ratio_to_ort_int8": round(median / base_s, 3)}
            if name == "eight_seconds":
                row[label]["similarity_to_ort_int8"] = round(
                    cosine(reference, embed_utterance(audio[(name, label)], SAMPLE_RATE)), 4)
        result["inputs"][name] = row
    result["loadavg_after"] = _loadavg()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
