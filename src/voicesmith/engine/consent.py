"""The audio and text checks behind a spoken consent: did the clip say the challenge's code words, and is
it the same voice as the training speech?

Pure functions of audio and text; who may ask, how often, and what a verdict allows is the service's
business (service/consent.py).

Both sides of the speaker comparison are limited to the 8 kHz telephone band (`speaker.narrowband`)
before embedding: a consent read into a laptop microphone and a dataset recorded in a studio (or on a
phone line) then compare on the same band. A change of bandwidth alone lowers the cosine of one speaker
with themself (speaker.py); comparing narrowband on both sides removes that, and the threshold below was
calibrated on narrowband comparisons (bench/bench_consent.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from voicesmith.engine import speaker as speaker_mod
from voicesmith.engine.audio import resample
from voicesmith.engine.wer import edit_distance, normalize_words, wer

CONSENT_RATE = 16000
MAX_CONSENT_S = 30.0  # longer clips are cut: a statement takes 5-15 s to read

# Minimum cosine between a consent clip's narrowband embedding and the dataset's narrowband reference
# (weighted mean of its utterance embeddings). Calibrated with bench/bench_consent.py on the real speakers
# (allison_en, carlo_it, june_fr, librivox_en; consent-like clips of 6-10 s; see docs/consent.md for
# the false-accept / false-reject table and how this value was chosen).
SPEAKER_THRESHOLD = 0.85


@dataclass(frozen=True)
class CodeMatch:
    """How much of the challenge code the transcript holds (words normalised as for WER)."""

    code: list[str]  # normalised code words, in order
    heard: list[str]  # normalised transcript words
    matched: int  # code words found in order

    @property
    def ok(self) -> bool:
        return bool(self.code) and self.matched == len(self.code)

    @property
    def score(self) -> float:
        return self.matched / len(self.code) if self.code else 0.0


_NUMBER_WORDS = frozenset(normalize_words(" ".join(str(n) for n in (*range(20), *range(20, 100, 10), 100, 1000))))


def _same_word(expected: str, heard: str) -> bool:
    """Exact, or one letter off for words of five letters or more (ASR spelling: harbor/harbour, cabin/cabins);
    number words must be exact (sixty is not sixth)."""
    if expected == heard:
        return True
    return expected not in _NUMBER_WORDS and len(expected) >= 5 and abs(len(expected) - len(heard)) <= 1 and edit_distance(expected, heard) <= 1


def match_code(code_words: Sequence[str] | str, transcript: str) -> CodeMatch:
    """Find the code words in the transcript, in order (other words may sit between them).

    Both sides go through the WER normalisation, so "47", "forty-seven" and "forty seven" are the same
    words, as are "Forty Seven." and "forty seven"."""
    code = normalize_words(code_words if isinstance(code_words, str) else " ".join(code_words))
    heard = normalize_words(transcript)
    matched, pos = 0, 0
    for word in code:
        for j in range(pos, len(heard)):
            if _same_word(word, heard[j]):
                matched, pos = matched + 1, j + 1
                break
        else:
            break  # in order: a missing word ends the match
    return CodeMatch(code=code, heard=heard, matched=matched)


def mentions_code(code_words: Sequence[str] | str, text: str) -> bool:
    """True when `text` holds any of the code's words other than number words (normalised as for WER).

    Used on what this server is asked to speak: a code can be spoken one word per request and spliced, so one
    word is enough; number words are too common to count."""
    code = normalize_words(code_words if isinstance(code_words, str) else " ".join(code_words))
    words = set(normalize_words(text))
    return any(w in words for w in code if w not in _NUMBER_WORDS)


def statement_wer(statement: str, transcript: str) -> float:
    """WER of the transcript against the whole statement (a score kept with the attempt, not a gate)."""
    return wer(statement, transcript)


def prepare(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 at CONSENT_RATE, cut to MAX_CONSENT_S."""
    wav = resample(np.asarray(audio, dtype=np.float32), sr, CONSENT_RATE)
    return wav[: int(MAX_CONSENT_S * CONSENT_RATE)]


def voice_embedding(audio: np.ndarray, sr: int) -> np.ndarray:
    """Narrowband speaker embedding of one clip. Raises ValueError when it holds too little voice."""
    wav = prepare(audio, sr)
    return speaker_mod.embed_utterance(speaker_mod.narrowband(wav, CONSENT_RATE), CONSENT_RATE)


def reference(embeddings: Sequence[np.ndarray], weights: Sequence[float] | None = None) -> np.ndarray:
    """The training speech's voice: unit-norm weighted mean of narrowband embeddings."""
    if not len(embeddings):
        raise ValueError("no training speech to compare with")
    return speaker_mod.centroid(np.stack([np.asarray(e, dtype=np.float32) for e in embeddings]),
                                None if weights is None else np.asarray(weights, dtype=np.float64))


def reference_from_clips(clips: Sequence[tuple[np.ndarray, int]]) -> tuple[np.ndarray, int]:
    """Reference embedding of (audio, rate) clips; returns it and how many clips could be embedded."""
    embeddings, weights = [], []
    for audio, sr in clips:
        try:
            embeddings.append(voice_embedding(audio, sr))
        except ValueError:
            continue
        weights.append(min(len(audio) / sr, MAX_CONSENT_S))
    return reference(embeddings, weights), len(embeddings)


def similarity(embedding: np.ndarray, reference_embedding: np.ndarray) -> float:
    return speaker_mod.cosine(embedding, reference_embedding)


@dataclass(frozen=True)
class ClipCheck:
    """Everything measured on one consent clip."""

    seconds: float
    transcript: str
    code: CodeMatch
    statement_wer: float
    similarity: float | None  # None: too little voice to embed
    threshold: float

    @property
    def text_ok(self) -> bool:
        return self.code.ok

    @property
    def speaker_ok(self) -> bool:
        return self.similarity is not None and self.similarity >= self.threshold

    @property
    def ok(self) -> bool:
        return self.text_ok and self.speaker_ok


def check_clip(audio: np.ndarray, sr: int, *, code_words: Sequence[str], statement: str,
               reference_embedding: np.ndarray, threshold: float = SPEAKER_THRESHOLD,
               transcriber=None) -> ClipCheck:  # noqa: ANN001 (transcribe.Transcriber or a stand-in)
    """Transcribe the clip (Whisper, English) and embed it; score both against the challenge and the voice."""
    from voicesmith.engine.transcribe import get_transcriber

    wav = prepare(audio, sr)
    transcript = (transcriber or get_transcriber()).transcribe(wav, CONSENT_RATE, word_timestamps=False).text
    try:
        sim: float | None = similarity(voice_embedding(wav, CONSENT_RATE), reference_embedding)
    except ValueError:
        sim = None
    return ClipCheck(seconds=len(wav) / CONSENT_RATE, transcript=transcript,
                     code=match_code(code_words, transcript), statement_wer=statement_wer(statement, transcript),
                     similarity=sim, threshold=threshold)
