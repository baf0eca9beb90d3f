import hashlib

import numpy as np
import onnx
import pytest

from voicesmith.engine.kokoro import graph, weights


def test_assemble_concatenates_parts_in_order_and_checks_sha(tmp_path):
    parts = []
    for i, content in enumerate([b"first-", b"second-", b"third"]):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(content)
        parts.append(path)
    expected = hashlib.sha256(b"first-second-third").hexdigest()
    out = weights.assemble(parts, tmp_path / "model.onnx", expected)
    assert out.read_bytes() == b"first-second-third"

    with pytest.raises(weights.WeightsError, match="sha256"):
        weights.assemble(list(reversed(parts)), tmp_path / "other.onnx", expected)
    assert not (tmp_path / "other.onnx").exists()
    assert not list(tmp_path.glob("*.tmp"))  # no temp file left behind


def test_real_model_is_assembled_and_verified():
    path = weights.model_path()
    assert path.stat().st_size == sum(p.stat().st_size for p in weights.part_paths())
    assert weights.sha256_file(path) == weights.expected_sha256()


def test_corrupted_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICESMITH_MODEL_DIR", str(tmp_path))
    weights.model_path.cache_clear()
    try:
        (tmp_path / weights.MODEL_FILENAME).write_bytes(b"garbage")
        path = weights.model_path()
        assert path.parent == tmp_path
        assert weights.sha256_file(path) == weights.expected_sha256()
    finally:
        weights.model_path.cache_clear()


def test_vocab_and_packs():
    vocab = weights.vocab()
    assert vocab["ə"] > 0 and "ʤ" in vocab and "I" in vocab
    packs = weights.voice_packs()
    assert sorted(packs) == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    assert all(p.shape == (510, 256) and p.dtype == np.float32 for p in packs.values())


@pytest.mark.parametrize("variant", graph.VARIANTS)
def test_instrumented_graphs_have_pitch_input_and_duration_output(variant):
    model = onnx.load(str(graph.build_variant(variant)), load_external_data=False)
    assert [i.name for i in model.graph.input] == ["tokens", "style", "speed", "pitch_scale"]
    assert [o.name for o in model.graph.output] == ["audio", "durations", "f0"]
    ops = {n.op_type for n in model.graph.node}
    # The harmonic source's DC and Nyquist bins get a fixed imaginary part (graph.pin_edge_phases), fed to all
    # of the STFT's consumers.
    stft = next(n.output[0] for n in model.graph.node if n.op_type == "STFT")
    assert [n.name for n in model.graph.node if stft in n.input] == ["voicesmith/zero_edge_imag"]
    if variant == "float32":
        assert not ops & {"MatMulInteger", "ConvInteger", "DynamicQuantizeLSTM", "DynamicQuantizeLinear"}
    else:
        assert "MatMulInteger" in ops


def test_the_halves_compute_what_the_whole_graph_does():
    import onnxruntime as ort

    from voicesmith.engine.kokoro import runtime

    def session(half=None):
        return ort.InferenceSession(str(graph.build_variant("int8", half)))

    feeds = runtime.warm_up_feeds()[-1]
    audio, durations, f0 = session().run(None, feeds)
    front, generator = session("front"), session("generator")
    assert [i.name for i in front.get_inputs()] == ["tokens", "style", "speed", "pitch_scale"]
    assert [i.name for i in generator.get_inputs()] == [graph.FEATURES_TENSOR, graph.HARMONICS_TENSOR, "style"]
    front_durations, front_f0, features, harmonics = front.run(None, feeds)
    (split_audio,) = generator.run(None, {graph.FEATURES_TENSOR: features, graph.HARMONICS_TENSOR: harmonics,
                                          "style": feeds["style"]})
    # The same nodes on the same inputs: the same numbers, bit for bit.
    assert np.array_equal(front_durations, durations) and np.array_equal(front_f0, f0)
    assert np.array_equal(split_audio, audio) and np.abs(audio).max() > 0.05


def test_a_cut_that_leaves_an_input_unfed_is_refused():
    model = onnx.load(str(graph.build_variant("int8")))
    with pytest.raises(graph.GraphError, match="unfed"):
        # The generator without the harmonic source's spectrum: it would need the front's tensors.
        graph._subgraph(model, [onnx.helper.make_tensor_value_info(graph.FEATURES_TENSOR, 1, None)], ["audio"])
