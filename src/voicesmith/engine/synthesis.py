"""Text -> speech, streamed chunk by chunk, with word and phoneme timestamps.

The pipeline per chunk: `text.chunk_text` (sentences; the first one cut early so the first audio
comes back fast) -> `text.normalize_words` -> `phonemes.phonemize_words` -> the acoustic model
(`kokoro.onnx.KokoroOnnx` today) -> audio plus per-token durations, from which the timestamps
are computed. Chunk edges get a few-millisecond fade so chunks join without clicks.

The acoustic model is behind the small `SpeechModel` protocol, so another engine (a larger model on
a GPU, say) can be added without touching callers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from voicesmith.engine import markup
from voicesmith.engine import phonemes as g2p
from voicesmith.engine.pronunciation import Lexicon
from voicesmith.engine import text as textnorm
from voicesmith.engine.kokoro.onnx import FRAME_SAMPLES, MAX_PHONEMES, SAMPLE_RATE, KokoroOnnx, KokoroOutput
from voicesmith.engine.voice import VoiceArtifact

SUPPORTED_LANGUAGES: tuple[str, ...] = tuple(g2p.ESPEAK_VOICES)
# Fade at both edges of every chunk: long enough to kill a click, too short to hear.
EDGE_FADE_S = 0.004
_STRESS = "ˈˌ"
_LENGTH = "ː"
_PUNCTUATION = set(",.!?;:—…\"()“” ")
_WORD_EDGES = re.compile(r"^[(\[\"“‘'«¿¡]+|[.,!?;:…)\]\"”’'»।]+$")


class UnsupportedLanguageError(ValueError):
    """The language is not one the engine can speak."""


@dataclass(frozen=True)
class WordTiming:
    word: str
    start: float  # seconds from the start of the whole stream
    end: float


@dataclass(frozen=True)
class PhonemeTiming:
    phoneme: str
    start: float
    end: float


@dataclass
class SpeechChunk:
    audio: np.ndarray  # float32 mono at Synthesizer.sample_rate
    words: list[WordTiming] = field(default_factory=list)
    phonemes: list[PhonemeTiming] = field(default_factory=list)
    text: str = ""  # the transcript words this chunk speaks

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


class SpeechModel(Protocol):
    """What the synthesizer needs from an acoustic model."""

    sample_rate: int

    def tokenize(self, phonemes: str) -> list[int]: ...

    def run(self, tokens: list[int], style: np.ndarray, speed: float = 1.0, pitch_scale: float = 1.0,
            adapter: dict[str, np.ndarray] | None = None) -> KokoroOutput: ...


def _bare(word: str) -> str:
    """A transcript word without the sentence punctuation around it ("world," -> "world")."""
    return _WORD_EDGES.sub("", word) or word


def _fade_edges(audio: np.ndarray, samples: int) -> np.ndarray:
    n = min(samples, len(audio) // 2)
    if n <= 0:
        return audio
    audio = audio.copy()
    ramp = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
    audio[:n] *= ramp
    audio[-n:] *= ramp[::-1]
    return audio


def _check_language(language: str) -> None:
    if language not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguageError(
            f"language {language!r} is not supported; supported: {', '.join(SUPPORTED_LANGUAGES)}"
        )


class Synthesizer:
    """Speaks text in a voice. Thread-safe: one instance serves every request of a process."""

    def __init__(self, model: SpeechModel | None = None) -> None:
        self.model: SpeechModel = model or KokoroOnnx()
        self.sample_rate: int = self.model.sample_rate
        self._fade = int(EDGE_FADE_S * self.sample_rate)

    # ------------------------------------------------------------------ low level

    def synthesize_phonemes(
        self, phonemes: str, style_row: np.ndarray, speed: float = 1.0, pitch_scale: float = 1.0,
        adapter: dict[str, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(audio float32, durations in frames per token incl. both pads) for a Kokoro phoneme string."""
        tokens = self.model.tokenize(phonemes)
        out = self.model.run(tokens, style_row, speed=speed, pitch_scale=pitch_scale, adapter=adapter)
        return out.audio, out.durations

    # ------------------------------------------------------------------ text

    def stream(
        self, text: str, voice: VoiceArtifact, *, language: str = "en", speed: float = 1.0
    ) -> Iterator[SpeechChunk]:
        """Yield speech chunk by chunk (sentence or clause) as each is synthesized; tags are not interpreted."""
        return self.stream_script(markup.Script.plain(text), voice, language=language, speed=speed)

    def stream_script(
        self, script: markup.Script, voice: VoiceArtifact, *, language: str = "en", speed: float = 1.0,
        lexicon: Lexicon | None = None,
    ) -> Iterator[SpeechChunk]:
        """Speak a parsed script (`markup.parse`): its pauses are silence, each speech part is spoken at its own
        speed and volume, and spelled parts letter by letter. Timings count the pauses. `lexicon`: a pronunciation
        dictionary for the words that are not spelled."""
        _check_language(language)
        if not speed > 0:
            raise ValueError("speed must be positive")
        return self._stream_script(script, voice, language, speed, lexicon)

    def _stream_script(
        self, script: markup.Script, voice: VoiceArtifact, language: str, speed: float, lexicon: Lexicon | None
    ) -> Iterator[SpeechChunk]:
        offset = 0  # samples already yielded
        early = True  # only the very first sentence is cut early for a fast first chunk
        for part in script.parts:
            if isinstance(part, markup.Pause):
                samples = int(round(part.seconds * self.sample_rate))
                if samples:
                    offset += samples
                    yield SpeechChunk(audio=np.zeros(samples, dtype=np.float32))
                continue
            for chunk_text in textnorm.chunk_text(part.text, early_first=early):
                early = False
                if part.spell:
                    units = markup.spelled_words(chunk_text, language)
                else:
                    units = textnorm.normalize_words(chunk_text, language)
                    if lexicon is not None:
                        units = lexicon.apply(units)
                if not units:
                    continue
                for piece in self._fit(g2p.phonemize_words(units, language), units, language):
                    chunk = self._speak(piece, voice, speed * part.delivery.speed, offset)
                    if chunk is not None:
                        if part.delivery.volume != 1.0:
                            chunk.audio = np.clip(chunk.audio * np.float32(part.delivery.volume), -1.0, 1.0)
                        offset += len(chunk.audio)
                        yield chunk

    def synthesize(self, text: str, voice: VoiceArtifact, *, language: str = "en", speed: float = 1.0) -> SpeechChunk:
        """The whole text as one chunk."""
        chunks = list(self.stream(text, voice, language=language, speed=speed))
        if not chunks:
            return SpeechChunk(audio=np.zeros(0, dtype=np.float32), text=text)
        return SpeechChunk(
            audio=np.concatenate([c.audio for c in chunks]),
            words=[w for c in chunks for w in c.words],
            phonemes=[p for c in chunks for p in c.phonemes],
            text=" ".join(c.text for c in chunks),
        )

    def _fit(
        self, phonemized: g2p.Phonemized, units: list[tuple[str, str]], language: str
    ) -> list[g2p.Phonemized]:
        """Split a phonemized chunk that exceeds the model's context, halving at word boundaries."""
        if len(self.model.tokenize(phonemized.phonemes)) <= MAX_PHONEMES or len(units) < 2:
            return [phonemized]
        half = len(units) // 2
        pieces = []
        for part in (units[:half], units[half:]):
            pieces.extend(self._fit(g2p.phonemize_words(part, language), part, language))
        return pieces

    def _speak(self, piece: g2p.Phonemized, voice: VoiceArtifact, speed: float, offset: int) -> SpeechChunk | None:
        vocab_positions = [i for i, ch in enumerate(piece.phonemes) if self.model.tokenize(ch)]
        tokens = self.model.tokenize(piece.phonemes)
        if not tokens:
            return None
        tokens = tokens[:MAX_PHONEMES]  # a single word longer than the context: say what fits
        vocab_positions = vocab_positions[:MAX_PHONEMES]
        out = self.model.run(tokens, voice.style_for(len(tokens)), speed=speed * voice.speed,
                             pitch_scale=voice.pitch_scale, adapter=voice.adapter)
        audio = _fade_edges(voice.filter(out.audio, self.sample_rate), self._fade)
        # edges[k] = sample where duration slot k starts; slot 0 is the leading pad, token t is slot t+1.
        edges = np.concatenate([[0], np.cumsum(out.durations)]) * FRAME_SAMPLES
        edges = np.minimum(edges, len(audio))
        to_s = lambda samples: float(offset + samples) / self.sample_rate  # noqa: E731

        token_at = {pos: t for t, pos in enumerate(vocab_positions)}
        words = []
        for span in piece.words:
            inside = [token_at[p] for p in range(span.start, span.end) if p in token_at]
            if inside:
                words.append(WordTiming(_bare(span.word), to_s(edges[inside[0] + 1]), to_s(edges[inside[-1] + 2])))

        phones: list[PhonemeTiming] = []
        pending_stress, stress_start = "", 0.0
        for t, pos in enumerate(vocab_positions):
            symbol = piece.phonemes[pos]
            start, end = to_s(edges[t + 1]), to_s(edges[t + 2])
            if symbol in _PUNCTUATION:
                continue
            if symbol in _STRESS:  # a stress mark belongs to the phoneme after it
                if not pending_stress:
                    stress_start = start
                pending_stress += symbol
                continue
            if symbol == _LENGTH and phones:
                last = phones[-1]
                phones[-1] = PhonemeTiming(last.phoneme + symbol, last.start, end)
                continue
            if pending_stress:
                phones.append(PhonemeTiming(pending_stress + symbol, stress_start, end))
                pending_stress = ""
            else:
                phones.append(PhonemeTiming(symbol, start, end))
        return SpeechChunk(audio=audio, words=words, phonemes=phones, text=" ".join(s.word for s in piece.words))


_lock = threading.Lock()
_synthesizer: Synthesizer | None = None


def get_synthesizer() -> Synthesizer:
    """The process-wide synthesizer, loaded on first use."""
    global _synthesizer
    if _synthesizer is None:
        with _lock:
            if _synthesizer is None:
                _synthesizer = Synthesizer()
    return _synthesizer
