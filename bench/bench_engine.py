"""Engine benchmark: Kokoro int8 vs float32 side by side, in one run. Prints one JSON line.

Per variant: real-time factor (synthesis seconds / audio seconds, warm) with 1 and 2 onnxruntime
threads over fixed sentences (variants interleaved call by call, so a busy machine hits both alike), time to the first chunk of a 2-sentence text through
`Synthesizer.stream`, peak RSS after load and after a long paragraph (each variant in a fresh child
process, so one does not inflate the other), and quality: Whisper tiny.en WER over the 20 test
sentences and the Resemblyzer similarity of each variant's audio to the int8 audio of the same
sentences (same voice, so 1.0 would be identical speakers).

    .venv/bin/python bench/bench_engine.py [--voices jf_alpha,jm_kumo] [--rtf-sentences 6]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "engine"))

from tts_sentences import SENTENCES  # noqa: E402

from voicesmith.engine import stock  # noqa: E402
from voicesmith.engine.kokoro.graph import VARIANTS  # noqa: E402
from voicesmith.engine.kokoro.onnx import KokoroOnnx  # noqa: E402
from voicesmith.engine.synthesis import Synthesizer  # noqa: E402

TWO_SENTENCES = "Thanks for calling, your order has shipped. It should arrive on Monday."
PARAGRAPH = " ".join(SENTENCES[:12])  # ~40 s of speech, chunked by sentence


def _rss_mb() -> float:
    """Peak RSS of this process image. /proc's VmHWM, not getrusage: ru_maxrss survives exec, so a
    child would report its parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_child(variant: str) -> dict:
    """Run in a fresh process: peak RSS after load, after one sentence, and after a long paragraph."""
    synth = Synthesizer(KokoroOnnx(variant))
    after_load = _rss_mb()
    voice = stock.stock_voices()[0].artifact
    synth.synthesize(SENTENCES[0], voice)
    after_sentence = _rss_mb()
    synth.synthesize(PARAGRAPH, voice)
    return {"rss_after_load_mb": round(after_load, 1), "rss_after_sentence_mb": round(after_sentence, 1),
            "rss_peak_paragraph_mb": round(_rss_mb(), 1)}


def _memory(variant: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", variant], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rtf_side_by_side(synths: dict[str, Synthesizer], voice, sentences: list[str], rounds: int) -> dict[str, float]:
    """RTF of each synthesizer, calls interleaved sentence by sentence so that load from other
    processes on the machine hits every variant alike."""
    for synth in synths.values():
        synth.synthesize(sentences[0], voice)  # warm
    spent = dict.fromkeys(synths, 0.0)
    audio = dict.fromkeys(synths, 0.0)
    for _ in range(rounds):
        for s in sentences:
            for name, synth in synths.items():
                start = time.perf_counter()
                chunk = synth.synthesize(s, voice)
                spent[name] += time.perf_counter() - start
                audio[name] += chunk.duration
    return {name: spent[name] / audio[name] for name in synths}


def _first_chunk_s(synth: Synthesizer, voice, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        next(iter(synth.stream(TWO_SENTENCES, voice)))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _quality(synth: Synthesizer, voices: list, reference: dict | None) -> tuple[dict, dict]:
    from voicesmith.engine.speaker import cosine, embed_utterance
    from voicesmith.engine.text import normalize
    from voicesmith.engine.transcribe import get_transcriber
    from voicesmith.engine.wer import corpus_wer

    wer, similarity, clips_by_voice = {}, {}, {}
    for v in voices:
        clips = [synth.synthesize(s, v.artifact).audio for s in SENTENCES]
        clips_by_voice[v.key] = clips
        hyps = get_transcriber().transcribe_many(clips, synth.sample_rate)
        wer[v.key] = round(corpus_wer([(normalize(s), h.text) for s, h in zip(SENTENCES, hyps)]), 4)
        if reference is not None:
            sims = [cosine(embed_utterance(a, 24000), embed_utterance(b, 24000))
                    for a, b in zip(clips, reference[v.key])]
            similarity[v.key] = round(float(np.mean(sims)), 4)
    return {"wer": wer, "similarity_to_int8": similarity}, clips_by_voice


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voices", default="jf_alpha,jm_kumo")
    parser.add_argument("--rtf-sentences", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory-child")
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(_memory_child(args.memory_child)))
        return

    wanted = args.voices.split(",")
    voices = [v for v in stock.stock_voices() if v.key in wanted]
    voice = voices[0].artifact
    result: dict = {"bench": "engine", "cpu_count": os.cpu_count(), "load_avg_start": os.getloadavg()[0]}
    variants = ("int8", *[v for v in VARIANTS if v != "int8"])
    entries: dict[str, dict] = {v: {} for v in variants}
    for variant in variants:
        start = time.perf_counter()
        KokoroOnnx(variant, threads=1)  # builds and caches the graph if needed
        entries[variant]["first_load_s"] = round(time.perf_counter() - start, 2)
    for threads in (1, 2):
        synths = {}
        for variant in variants:
            start = time.perf_counter()
            synths[variant] = Synthesizer(KokoroOnnx(variant, threads=threads))
            entries[variant][f"load_s_{threads}t"] = round(time.perf_counter() - start, 2)
        rtf = _rtf_side_by_side(synths, voice, SENTENCES[: args.rtf_sentences], args.rounds)
        for variant, synth in synths.items():
            entries[variant][f"rtf_{threads}t"] = round(rtf[variant], 3)
            entries[variant][f"first_chunk_s_{threads}t"] = round(_first_chunk_s(synth, voice), 3)
    reference = None
    for variant in variants:
        quality, clips = _quality(synths[variant], voices, reference)
        entries[variant].update(quality)
        reference = reference or clips
        entries[variant].update(_memory(variant))
        result[variant] = entries[variant]
    result["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
