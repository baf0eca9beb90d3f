"""Where the Kokoro graph runs: onnxruntime or OpenVINO, decided once per process.

Both runtimes load graphs `kokoro.graph.build_variant` made, so they run the same instrumented graph
(pitch_scale in; audio, durations and f0 out). onnxruntime runs the whole int8 graph on a CPU (its fastest
there) and the float32 one on a GPU (no CUDA kernels for the int8 ops). OpenVINO runs the float32 graph
(it has no kernel for onnxruntime's DynamicQuantizeLSTM, so it never gets the int8 graph) split in its two
halves: the front in float32 and the generator in bf16 (GENERATOR_PRECISION). bf16 over the whole graph was
faster still but changed the voice (speaker similarity 0.75-0.93 to onnxruntime's output, docs/benchmarks.md),
most likely in the front's harmonic source (a sine whose phase reaches tens of thousands of radians, and its
STFT); marking those nodes to keep their precision (rt_info "precise_0") changed nothing. bf16 on the
generator alone keeps the voice (similarity 0.992 to onnxruntime int8's on the bench paragraph) at about 0.6x
float32's time on a CPU with BF16 instructions; the generator is ~90% of a call.

VOICESMITH_TTS_RUNTIME (engine/settings.py) picks: `onnxruntime` or `openvino` forces one; `auto`
(default) takes onnxruntime on a GPU and when VOICESMITH_KOKORO_VARIANT names an onnxruntime graph, and
otherwise loads both and keeps the one that was faster on the warm-up sentence (best of a few interleaved
runs; OpenVINO only when at least OPENVINO_MARGIN faster). onnxruntime is also what `auto` falls back to when OpenVINO is not installed or fails to load. The
first model of the process decides; every later one loads the same runtime, except the fine-tune's and the
instant clone's render pool, which `auto` keeps on onnxruntime (`open_render_backend`: OpenVINO made the fine-tune
no faster for 2.7x the memory). The contest's result is remembered in the model directory for this
machine (its CPU, cores, thread count, both runtimes' versions and OpenVINO's precisions), so it costs its ~20 s once, not at
every start of every process.

A bespoke voice (engine/adapter.py) brings its own generator half (`graph.build_bespoke_generator`): both runtimes
run the stock front and then that generator, compiled on first use and kept for the BESPOKE_LOADED voices used
last; on onnxruntime the front is the int8 front half and the generator float32 (1.04x a stock voice's time,
docs/benchmarks.md).

The graph's shapes are dynamic (tokens in, frames out, both vary per call): each runtime compiles it once
and there are no shape buckets. What the first calls still pay for (memory planning, OpenVINO's and
oneDNN's kernels for new sizes) is paid by `warm_up` on WARM_UP_PHONEMES, which every new `KokoroOnnx` runs
before it is used (so before the API serves: its start-up awaits the engine's warm-up).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from voicesmith.engine import device
from voicesmith.engine.checkpoints import atomic_write
from voicesmith.engine.kokoro import graph, weights
from voicesmith.engine.settings import RUNTIME_ENV, kokoro_variant, model_dir, tts_runtime, usable_cores

if TYPE_CHECKING:  # imported where a backend is made: a process that never loads OpenVINO never imports it
    import openvino as ov

log = logging.getLogger(__name__)

OUTPUTS = ("audio", "durations", "f0")
FRONT_OUTPUTS = ("durations", "f0", graph.FEATURES_TENSOR, graph.HARMONICS_TENSOR)
# The precision OpenVINO runs the generator half in (the front always float32): on the development CPU (BF16
# instructions) 0.61x float32's time, and the served whole 0.82-0.84x onnxruntime int8's (docs/benchmarks.md).
GENERATOR_PRECISION = "bf16"
# The model variant onnxruntime serves on the CPU: the faster one at equal quality (bench/bench_engine.py).
# On a GPU the float32 graph: the int8 graph's ConvInteger/MatMulInteger have no CUDA kernels.
DEFAULT_VARIANT = "int8"
GPU_VARIANT = "float32"
# Run by every new model before use, shortest first: a one-word chunk (the early-cut first chunk of a
# reply is often this short) and a sentence of ~3 s ("The weather is lovely today, so we will walk."),
# which `auto` also times (long enough that the generator dominates, as it does in real requests).
WARM_UP_PHONEMES = ("həlˈO.", "ðə wˈɛðəɹ ɪz lˈʌvli tədˈA, sˌO wi wɪl wˈɔk.")
# Rounds of the interleaved timing `auto` runs (each runtime once a round; the best round counts, so the
# first round's one-off costs do not).
TIMING_ROUNDS = 3
# How much faster OpenVINO must be for `auto` to take it: a contest on a busy machine is noisy, its verdict is
# remembered, and OpenVINO's float32 model holds about twice onnxruntime int8's memory.
OPENVINO_MARGIN = 0.1

Feeds = dict[str, np.ndarray]


class Backend(Protocol):
    """One loaded runtime running the Kokoro graph; `run` is safe to call from several threads at once."""

    name: str  # "onnxruntime" or "openvino"
    precision: str  # the numbers it computes in: "int8", "float32" or "float32, bf16 generator"

    def run(self, feeds: Feeds, generator: Path | None = None) -> list[np.ndarray]:
        """The graph's OUTPUTS for `feeds` (tokens, style, speed, pitch_scale); with `generator`, the generator
        half at that path (a bespoke voice's, `graph.build_bespoke_generator`) instead of the stock one."""
        ...


# Bespoke voices' generator halves a backend keeps compiled at once (each ~80 MB in float32); the least
# recently used is dropped past it.
BESPOKE_LOADED = 4


class _Loaded:
    """A small least-recently-used map of compiled bespoke generators, shared by a backend's threads."""

    def __init__(self, load: Callable[[Path], object]) -> None:
        self._load = load
        self._items: dict[Path, object] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> object:
        with self._lock:
            item = self._items.pop(path, None)
            if item is None:
                item = self._load(path)
            self._items[path] = item  # most recent last
            while len(self._items) > BESPOKE_LOADED:
                self._items.pop(next(iter(self._items)))
            return item


class OnnxRuntimeBackend:
    """An onnxruntime session; `InferenceSession.run` is thread-safe, so one session serves every thread."""

    name = "onnxruntime"

    def __init__(self, threads: int, variant: str | None = None) -> None:
        import onnxruntime as ort

        providers = device.onnx_providers()
        on_gpu = providers[0] != "CPUExecutionProvider"
        self.precision = variant or kokoro_variant() or (GPU_VARIANT if on_gpu else DEFAULT_VARIANT)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # the export triggers harmless shape-merge warnings
        self.session = ort.InferenceSession(str(graph.build_variant(self.precision)), sess_options=options,
                                            providers=providers)
        # Bespoke voices run the graph's halves: the front of this variant, the voice's float32 generator.
        session = lambda path: ort.InferenceSession(str(path), sess_options=options, providers=providers)  # noqa: E731
        self._front: object | None = None
        self._front_lock = threading.Lock()
        self._open_front = lambda: session(graph.build_variant(self.precision, "front"))  # noqa: E731
        self._generators = _Loaded(session)

    def run(self, feeds: Feeds, generator: Path | None = None) -> list[np.ndarray]:
        if generator is None:
            return self.session.run(list(OUTPUTS), feeds)
        with self._front_lock:
            if self._front is None:
                self._front = self._open_front()
        durations, f0, features, harmonics = self._front.run(list(FRONT_OUTPUTS), feeds)
        (audio,) = self._generators.get(generator).run(["audio"], {
            graph.FEATURES_TENSOR: features, graph.HARMONICS_TENSOR: harmonics, "style": feeds["style"]})
        return [audio, durations, f0]


class OpenVinoBackend:
    """OpenVINO on the CPU: the graph's two halves (`graph.split`), each compiled once for dynamic shapes.

    The front runs in float32 and the generator in GENERATOR_PRECISION: bf16 over the whole graph changed the
    voice, bf16 on the generator alone keeps it (module doc). On a CPU without BF16 instructions (not measured
    here) the hint may run slower or in float32; `auto`'s timing contest decides whether OpenVINO serves there.
    An infer request is not thread-safe, so each calling thread gets its own pair. `threads` is what one call
    may use; each compiled half gets one stream per `threads` of the usable cores, so callers that run
    single-threaded calls side by side (the fine-tune's render pool) run them in parallel. Compiled models
    are cached on disk (OpenVINO's CACHE_DIR, next to the built graphs): compiling takes ~2-10 s, loading
    from the cache ~1 s.
    """

    name = "openvino"

    def __init__(self, threads: int, precision: str = "f32", generator_precision: str | None = None) -> None:
        """`precision`: OpenVINO's inference precision for the front; `generator_precision` for the generator
        (default GENERATOR_PRECISION). bench/bench_runtime.py measures the other combinations."""
        import openvino

        generator_precision = generator_precision or GENERATOR_PRECISION
        self.precision = _precision_label(precision, generator_precision)
        core = openvino.Core()
        streams = max(1, usable_cores() // threads)

        def compile_model(path: Path, hint: str) -> ov.CompiledModel:
            config = {
                "INFERENCE_PRECISION_HINT": hint,
                "NUM_STREAMS": streams,
                "INFERENCE_NUM_THREADS": streams * threads,
                "CACHE_DIR": str(model_dir() / "openvino"),
            }
            return core.compile_model(str(path), "CPU", config)

        self.models = {"front": compile_model(graph.build_variant("float32", "front"), precision),
                       "generator": compile_model(graph.build_variant("float32", "generator"), generator_precision)}
        self._front_ports = [self.models["front"].output(name) for name in FRONT_OUTPUTS]
        self._local = threading.local()
        self._generators = _Loaded(lambda path: compile_model(path, generator_precision))

    def _request(self, model: ov.CompiledModel) -> ov.InferRequest:
        """This thread's infer request of `model`. Each thread keeps the requests of the stock halves and of its
        most recently used bespoke generators (a request holds its compiled model: a bound keeps memory bounded)."""
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        request = requests.pop(id(model), None)
        if request is None or request[0] is not model:
            request = (model, model.create_infer_request())
        requests[id(model)] = request  # most recent last
        while len(requests) > BESPOKE_LOADED + 2:
            requests.pop(next(k for k, (m, _) in requests.items() if m not in self.models.values()))
        return request[1]

    def run(self, feeds: Feeds, generator: Path | None = None) -> list[np.ndarray]:
        front = self._request(self.models["front"])
        front_out = front.infer(feeds)
        durations, f0, features, harmonics = (front_out[port] for port in self._front_ports)
        model = self.models["generator"] if generator is None else self._generators.get(generator)
        audio = self._request(model).infer({graph.FEATURES_TENSOR: features, graph.HARMONICS_TENSOR: harmonics,
                                            "style": feeds["style"]})[model.output("audio")]
        # Each request reuses its output buffers on its next call: copy.
        return [np.array(audio), np.array(durations), np.array(f0)]


def _precision_label(front: str, generator: str) -> str:
    """"float32", or e.g. "float32, bf16 generator" where the halves differ."""
    names = {"f32": "float32"}
    front, generator = names.get(front, front), names.get(generator, generator)
    return front if front == generator else f"{front}, {generator} generator"


Loader = Callable[..., Backend]
LOADERS: dict[str, Loader] = {"onnxruntime": OnnxRuntimeBackend, "openvino": OpenVinoBackend}


def feeds(tokens: Sequence[int], style: np.ndarray, speed: float = 1.0, pitch_scale: float = 1.0) -> Feeds:
    """The graph's inputs: the tokens between the two pads, a style row, speed and pitch scale."""
    return {
        "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
        "style": np.asarray(style, dtype=np.float32).reshape(1, 256),
        "speed": np.array([speed], dtype=np.float32),
        "pitch_scale": np.array([pitch_scale], dtype=np.float32),
    }


def warm_up_feeds() -> list[Feeds]:
    """WARM_UP_PHONEMES as inputs, each with the first stock voice pack's row for its length."""
    vocab = weights.vocab()
    pack = next(iter(weights.voice_packs().values()))
    out = []
    for phonemes in WARM_UP_PHONEMES:
        tokens = [vocab[symbol] for symbol in phonemes if symbol in vocab]
        out.append(feeds(tokens, pack[len(tokens) - 1]))
    return out


def warm_up(backend: Backend) -> list[int]:
    """Run every warm-up input once; returns their token counts (pads included), in the order run."""
    shapes = []
    for inputs in warm_up_feeds():
        backend.run(inputs)
        shapes.append(int(inputs["tokens"].shape[1]))
    return shapes


def time_backends(backends: Sequence[Backend], inputs: Feeds, rounds: int = TIMING_ROUNDS) -> list[float]:
    """Best wall time of each backend on `inputs`, the backends interleaved so that load from other
    processes falls on all of them alike."""
    best = [math.inf] * len(backends)
    for _ in range(rounds):
        for k, backend in enumerate(backends):
            start = time.perf_counter()
            backend.run(inputs)
            best[k] = min(best[k], time.perf_counter() - start)
    return best


@dataclass(frozen=True)
class Choice:
    runtime: str
    reason: str


def machine_key(threads: int) -> str:
    """What decides which runtime is faster: the CPU (model and instruction sets), the cores, the threads per
    call, both runtimes' versions and the graph recipe."""
    cpu = platform.processor()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = "|".join(next((ln for ln in lines if ln.startswith(field)), "") for field in ("model name", "flags"))
    except OSError:
        pass
    versions = []
    for package in ("onnxruntime", "openvino"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package} none")
    # The OpenVINO contestant's make-up is part of the key: a choice measured against another one is stale.
    text = f"{cpu}|{usable_cores()} cores|{threads} threads|{', '.join(versions)}|recipe {graph.RECIPE_VERSION}" \
           f"|openvino halves, generator {GENERATOR_PRECISION}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def remembered_choice_path() -> Path:
    return model_dir() / "runtime-choice.json"


class RuntimePicker:
    """Decides the runtime once (the first `open`), then opens that runtime for every later caller."""

    def __init__(self, loaders: dict[str, Loader] | None = None,
                 memory: Callable[[], Path] | None = remembered_choice_path) -> None:
        """`memory`: where `auto`'s measured choice is kept between processes (None: nowhere)."""
        self.loaders = loaders or LOADERS
        self.memory = memory
        self.choice: Choice | None = None
        self._lock = threading.Lock()

    def open(self, threads: int) -> Backend:
        """A backend of the chosen runtime using `threads` threads per call (not warmed up: see `warm_up`)."""
        with self._lock:
            if self.choice is not None:
                return self.loaders[self.choice.runtime](threads)
            backend, self.choice = self._decide(threads)
        log.info("TTS runtime: %s (%s): %s", backend.name, backend.precision, self.choice.reason)
        return backend

    def _decide(self, threads: int) -> tuple[Backend, Choice]:
        setting = tts_runtime()
        if setting != "auto":
            return self.loaders[setting](threads), Choice(setting, f"set by {RUNTIME_ENV}")
        if device.onnx_providers()[0] != "CPUExecutionProvider":
            return self.loaders["onnxruntime"](threads), Choice("onnxruntime", "auto: onnxruntime has a GPU here")
        if kokoro_variant():
            return self.loaders["onnxruntime"](threads), Choice(
                "onnxruntime", "auto: VOICESMITH_KOKORO_VARIANT names an onnxruntime graph")
        remembered = self._recall(threads)
        if remembered is not None:
            try:
                return self.loaders[remembered.runtime](threads), remembered
            except Exception as exc:  # noqa: BLE001 (uninstalled since: measure again)
                log.warning("the remembered TTS runtime %s could not be loaded, measuring again: %s",
                            remembered.runtime, exc)
        return self._contest(threads)

    def _contest(self, threads: int) -> tuple[Backend, Choice]:
        ort_backend = self.loaders["onnxruntime"](threads)
        try:
            ov_backend = self.loaders["openvino"](threads)
        except Exception as exc:  # noqa: BLE001 (not installed, or a broken install: serve with onnxruntime)
            log.warning("OpenVINO could not be loaded, using onnxruntime: %s", exc)
            return ort_backend, Choice("onnxruntime", f"auto: OpenVINO could not be loaded ({exc})")
        # The first round pays each runtime's first-call costs; the best round is what counts.
        ort_s, ov_s = time_backends([ort_backend, ov_backend], warm_up_feeds()[-1])
        timing = f"warm-up sentence in {ov_s:.3f} s with OpenVINO {ov_backend.precision}, {ort_s:.3f} s with " \
                 f"onnxruntime {ort_backend.precision}"
        # Only a measured verdict is remembered: an OpenVINO that failed to load above is tried again next time.
        if ov_s < (1 - OPENVINO_MARGIN) * ort_s:
            backend, choice = ov_backend, Choice("openvino", f"auto: faster here ({timing})")
        else:
            backend, choice = ort_backend, Choice("onnxruntime", f"auto: faster here ({timing})")
        self._remember(threads, choice)
        return backend, choice

    def _recall(self, threads: int) -> Choice | None:
        if self.memory is None:
            return None
        try:
            saved = json.loads(self.memory().read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("machine") != machine_key(threads) \
                or saved.get("runtime") not in self.loaders:
            return None
        return Choice(saved["runtime"], f"auto: measured on this machine on {saved.get('measured_on', '?')}, "
                                        f"remembered ({saved.get('reason', '')})")

    def _remember(self, threads: int, choice: Choice) -> None:
        if self.memory is None:
            return
        record = {"machine": machine_key(threads), "measured_on": date.today().isoformat(), **asdict(choice)}
        try:
            path = self.memory()
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record)))
        except OSError as exc:  # a read-only model directory: measure again next start
            log.warning("could not remember the TTS runtime choice: %s", exc)


# The process's picker (tests give it a fresh one to decide again).
picker = RuntimePicker()


def open_backend(threads: int) -> Backend:
    """A backend of this process's runtime (decided on the first call; see the module doc)."""
    return picker.open(threads)


def open_render_backend(threads: int) -> Backend:
    """A backend for the fine-tune's and the instant clone's renders: the runtime VOICESMITH_TTS_RUNTIME forces,
    and under `auto` onnxruntime, whatever serves the API. Measured in one run on a tiny fine-tune
    (docs/benchmarks.md): with OpenVINO it took 1.05x onnxruntime's time and 2.7x its memory (4.6 vs 1.7 GB;
    8.4 GB on the default budget), although a render alone is faster on it (0.83x); why the whole fine-tune does
    not follow was not found."""
    setting = tts_runtime()
    return picker.loaders[setting if setting != "auto" else "onnxruntime"](threads)
