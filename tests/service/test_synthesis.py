"""service.synthesis and service.speech_pool without the model: request rules, the pool's early stop, and how
stream_speech shapes what the engine yields (volume, `duration` truncation, timings)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from voicesmith.engine.synthesis import SpeechChunk, WordTiming
from voicesmith.service import speech_pool, synthesis
from voicesmith.service.errors import InvalidRequest


def test_language_rules():
    assert synthesis.resolve_language(None, None) == "en"
    assert synthesis.resolve_language("fr", None) == "fr"
    assert synthesis.resolve_language(None, "en-GB") == "en"
    with pytest.raises(InvalidRequest) as info:
        synthesis.resolve_language("ko", None)  # a Cartesia language this engine cannot speak
    assert info.value.error_code == "unsupported_language"
    with pytest.raises(InvalidRequest):
        synthesis.resolve_language("en", "en-US")


def test_transcript_rules(monkeypatch):
    from voicesmith import config

    synthesis.check_transcript("Fine.")
    for text, code in (("", "empty_transcript"), (" \n\t", "empty_transcript"), ("x" * 5001, "transcript_too_long")):
        with pytest.raises(InvalidRequest) as info:
            synthesis.check_transcript(text)
        assert info.value.error_code == code
    monkeypatch.setenv("VOICESMITH_MAX_TRANSCRIPT_CHARS", "10")
    config.get_settings.cache_clear()
    try:
        with pytest.raises(InvalidRequest):
            synthesis.check_transcript("eleven char")
    finally:
        monkeypatch.delenv("VOICESMITH_MAX_TRANSCRIPT_CHARS")
        config.get_settings.cache_clear()


def test_pool_size(monkeypatch):
    from voicesmith import config

    monkeypatch.setattr(speech_pool, "usable_cores", lambda: 4)
    monkeypatch.setattr(speech_pool, "_threads_per_task", 2)
    monkeypatch.delenv("VOICESMITH_TTS_WORKERS", raising=False)
    config.get_settings.cache_clear()
    assert speech_pool.pool_size() == 2
    monkeypatch.setattr(speech_pool, "_threads_per_task", 8)
    assert speech_pool.pool_size() == 1
    monkeypatch.setenv("VOICESMITH_TTS_WORKERS", "3")
    config.get_settings.cache_clear()
    try:
        assert speech_pool.pool_size() == 3
    finally:
        monkeypatch.delenv("VOICESMITH_TTS_WORKERS")
        config.get_settings.cache_clear()


def test_pool_stops_and_closes_an_abandoned_iterator():
    pulled, closed = [], threading.Event()

    def numbers():
        try:
            for i in range(1000):
                time.sleep(0.005)
                pulled.append(i)
                yield i
        finally:
            closed.set()

    async def take_three() -> list[int]:
        got = []
        async for n in speech_pool.iterate_in_pool(numbers):
            got.append(n)
            if len(got) == 3:
                break
        return got

    assert asyncio.run(take_three()) == [0, 1, 2]
    assert closed.wait(5), "the generator was not closed after the consumer left"
    assert len(pulled) == 3  # no step ran after the consumer stopped


def test_pool_propagates_engine_errors():
    def broken():
        yield 1
        raise RuntimeError("engine failure")

    async def drain() -> list[int]:
        return [n async for n in speech_pool.iterate_in_pool(broken)]

    with pytest.raises(RuntimeError, match="engine failure"):
        asyncio.run(drain())


class _Tones:
    sample_rate = 24000

    def stream(self, text, voice, *, language="en", speed=1.0):  # noqa: ANN001
        for i in range(4):  # four 0.5 s chunks, one word each, times from the start of the stream
            yield SpeechChunk(audio=np.full(12000, 0.25, dtype=np.float32),
                              words=[WordTiming(f"w{i}", i * 0.5 + 0.1, i * 0.5 + 0.4)])


def _plan(volume: float = 1.0) -> synthesis.SpeechPlan:
    from voicesmith.service.voices import ResolvedVoice

    voice = ResolvedVoice(id="v", kind="stock", name="V", language="en", engine_model="m", org_id=None,
                          artifact=None)  # type: ignore[arg-type]  (the stand-in engine ignores it)
    return synthesis.SpeechPlan(org_id="o", api_key_id=None, voice=voice, engine_model="m", language="en",
                                volume=volume)


def _pieces(plan: synthesis.SpeechPlan, **kw) -> list[synthesis.SpeechPiece]:  # noqa: ANN003
    async def collect():
        return [p async for p in synthesis.stream_speech(plan, "text", lambda a: a.astype("<f4").tobytes(), **kw)]

    return asyncio.run(collect())


def test_stream_speech_volume_and_duration(monkeypatch):
    monkeypatch.setattr(synthesis, "get_synthesizer", lambda: _Tones())
    whole = _pieces(_plan(volume=2.0))
    assert len(whole) == 4 and sum(p.duration_s for p in whole) == pytest.approx(2.0)
    assert np.frombuffer(whole[0].data, dtype="<f4").max() == pytest.approx(0.5)
    assert all(p.compute_ms >= 0 for p in whole)

    cut = _pieces(_plan(), max_duration_s=1.2)
    assert sum(p.duration_s for p in cut) == pytest.approx(1.2)
    assert [w.word for p in cut for w in p.words] == ["w0", "w1", "w2"]  # w3 starts after the cut
