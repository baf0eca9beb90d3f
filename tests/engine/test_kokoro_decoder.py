import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper

from voicesmith.engine import phonemes
from voicesmith.engine.kokoro import decoder, graph, runtime, weights


@pytest.fixture(scope="module")
def float_graph() -> onnx.ModelProto:
    return onnx.load(str(graph.build_variant("float32")))


@pytest.fixture(scope="module")
def torch_decoder(float_graph) -> decoder.Decoder:
    return decoder.load_decoder(float_graph)


@pytest.fixture(scope="module")
def onnx_run(float_graph) -> dict[str, np.ndarray]:
    """The float32 graph's audio and the tensors around its decoder, for one sentence in a stock voice."""
    names = ["audio", *graph.DECODER_INPUTS, graph.FEATURES_TENSOR, graph.HARMONICS_TENSOR]
    session = ort.InferenceSession(graph.tap(float_graph, names).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    vocab = weights.vocab()
    tokens = [vocab[c] for c in phonemes.phonemize("The quick brown fox rests by the river.") if c in vocab]
    style = weights.voice_packs()["jf_alpha"][len(tokens) - 1].reshape(1, 256)
    feeds = {k: v for k, v in runtime.feeds(tokens, style, 1.0, 1.0).items()
             if k in {i.name for i in session.get_inputs()}}
    return dict(zip(names, session.run(names, feeds)))


def _inputs(run: dict[str, np.ndarray]) -> list[torch.Tensor]:
    return [torch.from_numpy(run[name]) for name in graph.DECODER_INPUTS]


def test_feature_stack_matches_the_graph(torch_decoder, onnx_run):
    asr, f0, energy, timbre = _inputs(onnx_run)
    with torch.no_grad():
        features = torch_decoder.features(asr, f0, energy, timbre).numpy()
    expected = onnx_run[graph.FEATURES_TENSOR]
    assert features.shape == expected.shape
    # Measured: 1.6e-5 at most against values up to 42 (float32 rounding in another order of operations).
    assert np.abs(features - expected).max() <= 1e-5 * np.abs(expected).max()


def test_generator_speaks_the_graphs_audio_from_the_same_source(torch_decoder, onnx_run):
    timbre = torch.from_numpy(onnx_run[graph.DECODER_INPUTS[3]])
    with torch.no_grad():
        audio = torch_decoder.generator(torch.from_numpy(onnx_run[graph.FEATURES_TENSOR]), timbre,
                                        torch.from_numpy(onnx_run[graph.HARMONICS_TENSOR])).numpy().reshape(-1)
    expected = onnx_run["audio"].reshape(-1)
    assert len(audio) == len(expected)
    # Measured: 5e-6 at most on a peak of 0.56, loudness included (the export's iSTFT gain).
    assert np.abs(audio - expected).max() < 1e-4


def test_own_harmonic_source_gives_the_same_speech_up_to_its_random_phase(torch_decoder, onnx_run):
    with torch.no_grad():
        audio = torch_decoder(*_inputs(onnx_run), generator=torch.Generator().manual_seed(0)).numpy().reshape(-1)
    expected = onnx_run["audio"].reshape(-1)
    assert len(audio) == len(expected)
    assert np.corrcoef(audio, expected)[0, 1] > 0.99  # measured 0.997


def test_gradients_reach_the_timbre_and_the_weights(torch_decoder, onnx_run):
    asr, f0, energy, timbre = _inputs(onnx_run)
    frames = 40  # a second of audio keeps the backward pass short
    timbre = timbre.clone().requires_grad_(True)
    audio = torch_decoder(asr[..., :frames], f0[..., :2 * frames], energy[..., :2 * frames], timbre,
                          generator=torch.Generator().manual_seed(0))
    audio.pow(2).mean().backward()
    conv = torch_decoder.generator.resblocks[0].convs1[0].weight
    try:
        assert torch.isfinite(timbre.grad).all() and timbre.grad.abs().sum() > 0
        assert torch.isfinite(conv.grad).all() and conv.grad.abs().sum() > 0
    finally:
        torch_decoder.zero_grad(set_to_none=True)


def test_a_graph_without_the_decoders_weights_is_refused():
    empty = helper.make_model(helper.make_graph([], "empty", [], []))
    with pytest.raises(ValueError, match="decoder parameters not in the graph"):
        decoder.load_decoder(empty)
