"""Instant clone through the official `cartesia` v4 SDK: ~10 s of a real speaker become an owned voice that
speaks (Whisper hears the text), at the clip's pitch, and sounds more like that speaker than a stock voice picked
at random does (speaker embeddings against other recordings of theirs, compared at the narrower speaker's 8 kHz);
what is not speech is refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from tests.engine.adapt_data import corpus_rows
from tests.tts_support import assert_speech, decode_wav
from voicesmith.engine.audio import f0_stats, load_audio
from voicesmith.engine.wer import wer

cartesia = pytest.importorskip("cartesia", minversion="4")

TEXT = "Please call me back when you get this message."


@pytest.fixture(scope="module")
def client(live_server):
    return cartesia.Cartesia(api_key=live_server.make_key("sdk-clone"), base_url=live_server.base_url,
                             max_retries=0, timeout=300)


def _clip(speech_data, speaker: str, seconds: float = 10.0) -> tuple[bytes, list[np.ndarray], int]:
    """The first `seconds` of a speaker's recordings as one 16-bit WAV at their native rate, and ten
    other recordings of theirs (not in the clip) at that rate."""
    rows = corpus_rows(speech_data, speaker)
    parts, rate, used = [], 16000, 0
    for used, row in enumerate(rows, 1):
        audio, rate = load_audio(speech_data / row["path"])
        parts.append(audio)
        if sum(map(len, parts)) >= seconds * rate:
            break
    others = [load_audio(speech_data / row["path"])[0] for row in rows[used + 20 : used + 30]]
    buf = io.BytesIO()
    sf.write(buf, np.concatenate(parts), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue(), others, rate


def _speak(client, voice_id: str) -> tuple[np.ndarray, int]:
    response = client.tts.generate(model_id="sonic-3", transcript=TEXT, voice={"mode": "id", "id": voice_id},
                                   language="en",
                                   output_format={"container": "wav", "encoding": "pcm_s16le", "sample_rate": 24000})
    audio, rate, _ = decode_wav(response.read())
    return audio, rate


def test_clone_from_a_clip_speaks_like_that_speaker(client, speech_data):
    from voicesmith.engine import speaker as spk
    from voicesmith.engine.audio import resample
    from voicesmith.engine.transcribe import Transcriber

    band = 8000  # carlo_it is telephone audio: compare everything at his bandwidth
    transcriber = Transcriber(threads=2)
    real, cloned = {}, {}
    for name in ("allison_en", "carlo_it"):
        clip, others, rate = _clip(speech_data, name)
        meta = client.voices.clone(clip=(f"{name}.wav", clip, "audio/wav"), name=f"Instant {name}",
                                   language="en", description="from ten seconds")
        assert meta.name == f"Instant {name}" and meta.language == "en"
        voice = client.voices.get(meta.id)
        assert voice.is_owner and voice.description == "from ten seconds"

        audio, out_rate = _speak(client, meta.id)
        assert_speech(audio, out_rate, min_s=1.0, max_s=10)
        assert wer(TEXT, transcriber.transcribe(audio, out_rate).text) <= 0.2
        clip_f0 = f0_stats(*sf.read(io.BytesIO(clip), dtype="float32"))[0]
        voice_f0 = f0_stats(audio, out_rate)[0]
        assert abs(np.log(voice_f0 / clip_f0)) < np.log(1.2), (name, clip_f0, voice_f0)  # within 20%
        real[name] = spk.centroid(spk.embed_many([resample(o, rate, band) for o in others], band))
        cloned[name] = spk.embed_utterance(resample(audio, out_rate, band), band)

    stock = [v.id for v in client.voices.list() if not v.is_owner]
    assert len(stock) >= 5
    stock_embeddings = [spk.embed_utterance(resample(a, r, band), band) for a, r in (_speak(client, v) for v in stock)]
    for name in real:
        by_chance = np.mean([spk.cosine(e, real[name]) for e in stock_embeddings])
        assert spk.cosine(cloned[name], real[name]) > by_chance, (name, by_chance)


def test_clone_refuses_a_clip_without_speech(client):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    sf.write(buf, (0.05 * rng.standard_normal(8 * 16000)).astype(np.float32), 16000, format="WAV")
    with pytest.raises(cartesia.BadRequestError) as err:
        client.voices.clone(clip=("noise.wav", buf.getvalue(), "audio/wav"), name="Noise", language="en")
    assert "speech" in str(err.value)
