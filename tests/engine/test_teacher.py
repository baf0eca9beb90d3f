import numpy as np
import onnx
import onnxruntime as ort
import pytest

from voicesmith.engine import phonemes, teacher
from voicesmith.engine.audio import load_audio
from voicesmith.engine.kokoro import graph, runtime, weights


@pytest.fixture(scope="module")
def int8_graph() -> onnx.ModelProto:
    return onnx.load(str(graph.build_variant("int8")))


@pytest.fixture(scope="module")
def transcriber():
    from voicesmith.engine.transcribe import Transcriber

    return Transcriber()


@pytest.fixture(scope="module")
def kokoro_speech(int8_graph):
    """Kokoro speaking a sentence, with the F0 and energy curves it gave its own decoder."""
    names = ["audio", "durations", graph.DECODER_INPUTS[1], graph.DECODER_INPUTS[2]]
    session = ort.InferenceSession(graph.tap(int8_graph, names).SerializeToString(), providers=["CPUExecutionProvider"])
    vocab = weights.vocab()
    tokens = [vocab[c] for c in phonemes.phonemize("Please enter your number, followed by the pound key.") if c in vocab]
    style = weights.voice_packs()["jf_alpha"][len(tokens) - 1].reshape(1, 256)
    wanted = {i.name for i in session.get_inputs()}
    feeds = {k: v for k, v in runtime.feeds(tokens, style, 1.0, 1.0).items() if k in wanted}
    audio, durations, f0, energy = (x.reshape(-1) for x in session.run(names, feeds))
    return tokens, style, audio, durations, f0, energy


def test_curves_follow_kokoros_own_conventions(kokoro_speech):
    _, _, audio, _, f0, energy = kokoro_speech
    values = len(f0)
    assert len(audio) == values * teacher.CURVE_HOP
    mine = teacher.energy_curve(audio, values)
    # Measured 0.990: the same quantity, from a spectrogram of the waveform rather than the model's prediction.
    assert np.corrcoef(mine, energy)[0, 1] > 0.97
    assert abs(float(np.mean(mine - energy))) < 1.0  # same scale (natural log of a power mel norm)
    pitch = teacher.f0_curve(audio, values)
    both = (pitch > 0) & (f0 > 10)
    assert both.mean() > 0.4
    semitones = np.abs(12 * np.log2(pitch[both] / f0[both]))
    assert np.median(semitones) < 0.35  # measured 0.2 with the lead; 0.43 without it


def test_alignment_assigns_each_frame_to_its_token():
    a = teacher.alignment(np.array([2, 0, 3]))
    assert a.shape == (3, 5)
    assert a.sum(axis=0).tolist() == [1] * 5
    assert a[0].tolist() == [1, 1, 0, 0, 0] and a[1].sum() == 0 and a[2].tolist() == [0, 0, 1, 1, 1]


def test_warp_finds_the_same_durations_in_the_same_speech(kokoro_speech, transcriber):
    _, _, audio, durations, _, _ = kokoro_speech
    warped = teacher.warp(durations, audio, audio, teacher.whisper_frames(transcriber))
    assert warped.sum() == len(audio) // teacher.FRAME
    boundaries = np.cumsum(durations)
    assert np.abs(np.cumsum(warped) - boundaries).max() <= 1


def test_warp_follows_a_slower_recording_of_the_same_speech(kokoro_speech, int8_graph, transcriber):
    """Kokoro at 0.75x speed in another voice stands in for a recording: the token boundaries must land on its own."""
    tokens, style, audio, durations, _, _ = kokoro_speech
    front = teacher.TextFront(int8_graph, transcriber=transcriber)
    other = weights.voice_packs()["jm_kumo"][len(tokens) - 1].reshape(1, 256)
    slow_audio, slow_durations, _ = front.run(tokens, other, 0.75)
    warped = teacher.warp(durations, audio, slow_audio, front.frames_of)
    assert warped.sum() == len(slow_audio) // teacher.FRAME
    error = np.abs(np.cumsum(warped) - np.cumsum(slow_durations))
    # Stretching the durations to the recording's length, the alignment without DTW:
    stretched = np.cumsum(durations) * slow_durations.sum() / durations.sum()
    assert np.median(error) <= 1 and np.median(error) < np.median(np.abs(stretched - np.cumsum(slow_durations)))


def test_example_of_a_real_recording(int8_graph, speech_clips, transcriber):
    clip = speech_clips.pick("allison_en", 1, min_s=2.5, max_s=5.0)[0]
    audio, sr = load_audio(clip.path)
    vocab = weights.vocab()
    tokens = [vocab[c] for c in phonemes.phonemize(clip.text) if c in vocab]
    style = weights.voice_packs()["jf_alpha"][len(tokens) - 1].reshape(1, 256)
    front = teacher.TextFront(int8_graph, transcriber=transcriber)
    example = front.example(tokens, style, audio, sr)
    frames = example.frames
    assert frames == int(len(audio) * teacher.SAMPLE_RATE / sr) // teacher.FRAME
    assert example.asr.shape == (512, frames)
    assert example.f0.shape == example.energy.shape == (2 * frames,)
    assert len(example.audio) == frames * teacher.FRAME
    assert (example.f0 > 10).all()  # bridged through the unvoiced frames, as Kokoro's own curves are
    raw = front.example(tokens, style, audio, sr, bridge_unvoiced=False).f0
    voiced = raw[raw > 0]
    assert 0.3 < len(voiced) / len(raw) < 0.95
    assert 150 < np.median(voiced) < 260  # a female voice (speaker profile: ~195 Hz)
    np.testing.assert_allclose(example.f0[raw > 0], voiced, rtol=1e-5)  # voiced values kept


def test_bridging_unvoiced_frames():
    f0 = np.array([0, 0, 100, 0, 0, 0, 400, 0], np.float32)
    out = teacher.fill_unvoiced(f0)
    np.testing.assert_allclose(out, [100, 100, 100, 141.42, 200, 282.84, 400, 400], rtol=1e-4)
    assert (teacher.fill_unvoiced(np.zeros(4, np.float32)) == 0).all()
