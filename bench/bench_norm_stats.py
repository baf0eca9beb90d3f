"""Can a window of the generator reuse normalisation statistics measured elsewhere? Prints one JSON line.

The generator's AdaIN layers normalise every channel over the whole chunk (its ReduceMean nodes: a mean and a
variance per layer), so a streamed window of frames computes other statistics than the one-shot pass. This bench
replaces every ReduceMean output of the generator half (`kokoro.graph.split`) by an input and feeds it
statistics from: the same sentence (must reproduce the one-shot audio: checks the surgery), another sentence of
the same voice, the mean of all sentences, and the mean of the other sentences (a per-voice prior that never saw
this sentence). Each is compared with the sentence's one-shot audio: log-spectral distance (dB), level (dB) and
Resemblyzer similarity. onnxruntime, float32 graph, the first stock voices.

    .venv/bin/python bench/bench_norm_stats.py [--voices 3]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from voicesmith.engine import phonemes as g2p
from voicesmith.engine import text as textnorm
from voicesmith.engine.kokoro import graph, runtime, weights
from voicesmith.engine.kokoro.onnx import SAMPLE_RATE
from voicesmith.engine.speaker import cosine, embed_utterance
from voicesmith.engine.stock import stock_voices

SENTENCES = (
    "Thanks for calling, your order has shipped. It should arrive on Monday.",
    "The river runs through the green valley, past the old mill and the village school.",
    "Good morning, everyone.",
    "Please close the door behind you when you leave the meeting room.",
)


def _sessions() -> tuple[ort.InferenceSession, ort.InferenceSession, ort.InferenceSession, list[str]]:
    """(front, generator that also outputs its statistics, generator that takes them as inputs, their names)."""
    generator = onnx.load(str(graph.build_variant("float32", "generator")))
    names = [node.output[0] for node in generator.graph.node if node.op_type == "ReduceMean"]
    measuring = onnx.ModelProto()
    measuring.CopyFrom(generator)
    measuring.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, None, 1]) for n in names)
    frozen = onnx.ModelProto()
    frozen.CopyFrom(generator)
    kept = [node for node in frozen.graph.node if node.op_type != "ReduceMean"]
    del frozen.graph.node[:]
    frozen.graph.node.extend(kept)
    frozen.graph.input.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, None, 1]) for n in names)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    front = ort.InferenceSession(str(graph.build_variant("float32", "front")), options)
    return (front, ort.InferenceSession(measuring.SerializeToString(), options),
            ort.InferenceSession(frozen.SerializeToString(), options), names)


def _power(audio: np.ndarray, n: int = 1024) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[:: n // 2] * np.hanning(n)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, default=3)
    args = parser.parse_args()
    front, measuring, frozen, names = _sessions()
    vocab = weights.vocab()
    result: dict = {"adain_statistics": len(names), "voices": {}}
    for voice in stock_voices()[: args.voices]:
        runs = []
        for sentence in SENTENCES:
            phonemes = g2p.phonemize_words(textnorm.normalize_words(sentence, "en"), "en").phonemes
            tokens = [vocab[s] for s in phonemes if s in vocab]
            feeds = runtime.feeds(tokens, voice.artifact.style_for(len(tokens)))
            _, _, features, harmonics = front.run(None, feeds)
            inputs = {graph.FEATURES_TENSOR: features, graph.HARMONICS_TENSOR: harmonics, "style": feeds["style"]}
            audio, *stats = measuring.run(None, inputs)
            runs.append((inputs, audio.reshape(-1), dict(zip(names, stats))))

        def mean_of(indices: list[int]) -> dict[str, np.ndarray]:
            return {n: np.mean([runs[i][2][n] for i in indices], axis=0) for n in names}

        rows = []
        for k, (inputs, audio, own) in enumerate(runs):
            sources = {"own": own, "another_sentence": runs[(k + 1) % len(runs)][2],
                       "mean_of_all": mean_of(list(range(len(runs)))),
                       "mean_of_others": mean_of([i for i in range(len(runs)) if i != k])}
            reference = embed_utterance(audio, SAMPLE_RATE)
            row = {"audio_s": round(len(audio) / SAMPLE_RATE, 2)}
            for label, stats in sources.items():
                out = frozen.run(None, {**inputs, **stats})[0].reshape(-1)
                row[label] = {
                    "lsd_db": round(float(np.sqrt(np.mean((10 * np.log10(_power(out) / _power(audio))) ** 2))), 2),
                    "level_db": round(float(10 * np.log10(np.mean(out ** 2) / np.mean(audio ** 2))), 2),
                    "similarity": round(cosine(reference, embed_utterance(out, SAMPLE_RATE)), 3)}
            rows.append(row)
        result["voices"][voice.name] = rows
    print(json.dumps(result))


if __name__ == "__main__":
    main()
