import io
import struct
import warnings

import av
import numpy as np
import pytest
import soundfile as sf

from voicesmith.engine.encoding import (
    ENCODINGS,
    MP3_BIT_RATES,
    FormatError,
    OutputFormat,
    alaw_decode,
    alaw_encode,
    content_type,
    encode_whole,
    make_encoder,
    mulaw_decode,
    mulaw_encode,
)

SOURCE_RATE = 24000


def _tone(seconds=1.0, freq=440.0, amplitude=0.5):
    t = np.arange(int(seconds * SOURCE_RATE)) / SOURCE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _stream(fmt, audio, pieces=7):
    encoder = make_encoder(fmt, SOURCE_RATE)
    return encoder.begin() + b"".join(encoder.encode(p) for p in np.array_split(audio, pieces)) + encoder.end()


def _decode_raw(data, encoding):
    if encoding == "pcm_f32le":
        return np.frombuffer(data, "<f4")
    if encoding == "pcm_s16le":
        return np.frombuffer(data, "<i2") / 32768.0
    raw = np.frombuffer(data, np.uint8)
    return mulaw_decode(raw) if encoding == "pcm_mulaw" else alaw_decode(raw)


def _dominant_frequency(audio, rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.argmax(spectrum) * rate / len(audio)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
def test_raw_round_trip_keeps_rate_length_and_pitch(encoding, rate):
    audio = _tone()
    decoded = _decode_raw(_stream(OutputFormat("raw", encoding, rate), audio), encoding)
    assert abs(len(decoded) - rate) <= 2  # one second at the requested rate, no seams lost
    assert abs(_dominant_frequency(decoded, rate) - 440) < 3
    assert 0.45 < np.abs(decoded).max() < 0.55


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_streamed_wav_decodes_with_soundfile_and_pyav(encoding):
    audio = _tone()
    data = _stream(OutputFormat("wav", encoding, 16000), audio)
    assert data[:4] == b"RIFF" and struct.unpack("<I", data[4:8])[0] == 0xFFFFFFFF  # streaming sizes
    decoded, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == 16000 and abs(len(decoded) - 16000) <= 2
    assert abs(_dominant_frequency(decoded, rate) - 440) < 3
    with av.open(io.BytesIO(data)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert abs(samples - 16000) <= 2


def test_whole_wav_has_exact_sizes():
    data = encode_whole(_tone(0.5), OutputFormat("wav", "pcm_s16le", 24000), SOURCE_RATE)
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert struct.unpack("<I", data[40:44])[0] == 24000
    decoded, rate = sf.read(io.BytesIO(data))
    assert rate == 24000 and len(decoded) == 12000


@pytest.mark.parametrize("bit_rate", MP3_BIT_RATES)
def test_mp3_round_trip(bit_rate):
    audio = _tone(2.0)
    data = _stream(OutputFormat("mp3", sample_rate=44100, bit_rate=bit_rate), audio, pieces=13)
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert frames[0].sample_rate == 44100
    assert 2 * 44100 <= len(decoded) <= 2 * 44100 + 3 * 1152  # encoder delay and padding only
    assert abs(_dominant_frequency(decoded, 44100) - 440) < 3
    # the bit rate is what was asked (compressed size of 2 s at that rate, +-25% for framing)
    assert 0.75 * bit_rate / 8 * 2 < len(data) < 1.25 * bit_rate / 8 * 2 + 2000


def test_mulaw_and_alaw_error_is_within_g711_bounds():
    x = np.linspace(-1, 1, 20001, dtype=np.float32)
    for encode, decode in ((mulaw_encode, mulaw_decode), (alaw_encode, alaw_decode)):
        y = decode(encode(x))
        error = np.abs(y - x)
        # companding: the error grows with the magnitude, at most half a top-segment step plus the
        # clipping of full scale (G.711's largest code decodes to about 0.98)
        assert error.max() < 0.02
        small = np.abs(x) < 0.01
        assert error[small].max() < 0.0005  # fine steps near zero
        assert np.all(np.diff(y) >= 0)  # monotonic


def test_g711_matches_audioop_reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    pcm = (np.random.default_rng(0).uniform(-1, 1, 5000) * 32767).astype(np.int16)
    audio = pcm.astype(np.float32) / 32767
    assert mulaw_encode(audio).tobytes() == audioop.lin2ulaw(pcm.tobytes(), 2)
    assert alaw_encode(audio).tobytes() == audioop.lin2alaw(pcm.tobytes(), 2)
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal((mulaw_decode(codes) * 32768).astype(np.int16), np.frombuffer(audioop.ulaw2lin(codes.tobytes(), 2), "<i2"))
    assert np.array_equal((alaw_decode(codes) * 32768).astype(np.int16), np.frombuffer(audioop.alaw2lin(codes.tobytes(), 2), "<i2"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"container": "ogg", "encoding": "pcm_s16le"},
        {"container": "raw", "encoding": "pcm_s24le"},
        {"container": "wav", "encoding": None},
        {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 11025},
        {"container": "mp3", "bit_rate": 100000},
        {"container": "opus", "sample_rate": 44100},  # libopus takes 8, 12, 16, 24 or 48 kHz
    ],
)
def test_invalid_formats_are_refused(kwargs):
    with pytest.raises(FormatError):
        OutputFormat(**kwargs)


def test_content_types():
    assert content_type(OutputFormat("wav", "pcm_s16le")) == "audio/wav"
    assert content_type(OutputFormat("mp3")) == "audio/mpeg"
    assert content_type(OutputFormat("raw", "pcm_f32le")) == "application/octet-stream"
    assert content_type(OutputFormat("opus", sample_rate=48000)) == "audio/ogg"
    assert content_type(OutputFormat("aac")) == "audio/aac"
    assert content_type(OutputFormat("flac")) == "audio/flac"


@pytest.mark.parametrize(("container", "rate", "muxer", "codec"), [
    ("opus", 48000, "ogg", "opus"),
    ("aac", 24000, "aac", "aac"),
    ("flac", 22050, "flac", "flac"),
])
def test_compressed_containers_stream_and_decode(container, rate, muxer, codec):
    audio = _tone(2.0)
    encoder = make_encoder(OutputFormat(container, sample_rate=rate), SOURCE_RATE)
    pieces = [encoder.begin()] + [encoder.encode(p) for p in np.array_split(audio, 20)]
    assert sum(map(len, pieces[:12])) > 0  # bytes come out while the audio is still arriving, not only at end()
    data = b"".join(pieces) + encoder.end()
    with av.open(io.BytesIO(data)) as decoded_container:
        assert decoded_container.format.name.split(",")[0] == muxer
        stream = decoded_container.streams.audio[0]
        assert stream.codec_context.name == codec and stream.codec_context.channels == 1
        frames = list(decoded_container.decode(stream))
    decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert frames[0].sample_rate == rate
    assert 2 * rate - 10 <= len(decoded) <= 2 * rate + 3 * 1024  # codec delay and padding only
    assert abs(_dominant_frequency(decoded, rate) - 440) < 3
    if container == "flac":  # lossless: the samples themselves come back (16-bit)
        expected = make_encoder(OutputFormat("raw", "pcm_s16le", rate), SOURCE_RATE)
        pcm = np.frombuffer(expected.encode(audio) + expected.end(), "<i2")
        assert decoded.dtype == np.int16 and np.array_equal(decoded, pcm)

