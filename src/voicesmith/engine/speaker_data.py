"""From prepared utterances to what adaptation and evaluation consume.

- `training_pool`: short training utterances with text (cheap to synthesise), each a `Sentence`
  carrying its phonemes and what its real recording measured;
- `speaker_profile`: the target statistics (centroid over all training embeddings; pitch, rate and
  spectrum over a sample of the pool);
- `prosody_features`: per-utterance pitch/rate, for splitting the speaker's speaking styles;
- `held_out_set`: the held-out utterances measured once for the report.

Utterance embeddings come from ingest (computed at 16 kHz from the decoded source, i.e. already at
the source bandwidth); synthetic clips are brought to the same bandwidth before embedding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from voicesmith.engine import speaker
from voicesmith.engine.adapt import Sentence
from voicesmith.engine.audio import f0_stats, resample
from voicesmith.engine.evaluate import HeldOutSet
from voicesmith.engine.phonemes import phonemize
from voicesmith.engine.voice_profile import SpeakerProfile, active_duration_s, measure, phone_count, to_band

POOL_MIN_S, POOL_MAX_S = 1.0, 4.5  # short sentences: cheap to synthesise, still long enough to embed
GUARD_MIN_WORDS = 4
PROFILE_SAMPLE = 120  # utterances measured for the pitch/rate/spectrum targets


class UtteranceLike(Protocol):
    id: str
    text: str | None
    embedding: np.ndarray | None
    sample_rate: int

    @property
    def duration(self) -> float: ...

    def load(self) -> np.ndarray: ...


def evenly(items: Sequence, n: int) -> list:
    if len(items) <= n:
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]


def training_pool(
    train: Sequence[UtteranceLike], language: str, source_rate: int, max_sentences: int
) -> tuple[list[Sentence], list[int]]:
    """(sentences, index into `train` of each) for short training utterances with text."""
    chosen = [i for i, u in enumerate(train) if u.text and POOL_MIN_S <= u.duration <= POOL_MAX_S]
    if len(chosen) < 8:  # a dataset of long utterances: take the shortest ones with text
        chosen = sorted((i for i, u in enumerate(train) if u.text), key=lambda i: train[i].duration)[: max(8, max_sentences // 4)]
    chosen = evenly(chosen, max_sentences)
    sentences, kept = [], []
    for i in chosen:
        u = train[i]
        phonemes = phonemize(u.text, language)
        if phone_count(phonemes) < 3:
            continue
        sentences.append(Sentence.from_recording(u.text, phonemes, u.load(), u.sample_rate, source_rate))
        kept.append(i)
    return sentences, kept


def guard_sentences(pool: Sequence[Sentence], count: int) -> list[Sentence]:
    """A few fixed pool sentences of several words, for the intelligibility checks."""
    candidates = [s for s in pool if len(s.text.split()) >= GUARD_MIN_WORDS] or list(pool)
    return evenly(sorted(candidates, key=lambda s: s.text), count)


def train_centroid(train: Sequence[UtteranceLike]) -> np.ndarray:
    emb = np.stack([u.embedding for u in train if u.embedding is not None])
    return speaker.centroid(emb)


def speaker_profile(
    train: Sequence[UtteranceLike], pool: Sequence[Sentence], pool_index: Sequence[int], source_rate: int
) -> SpeakerProfile:
    sample = evenly(list(range(len(pool))), PROFILE_SAMPLE)
    clips = [train[pool_index[k]].load() for k in sample]
    sr = train[pool_index[0]].sample_rate
    embeddings = np.full((len(sample), 256), np.nan, dtype=np.float32)  # not needed: centroid comes from all
    stats = measure(clips, sr, [pool[k].phonemes for k in sample], source_rate, embeddings=embeddings)
    return SpeakerProfile.from_stats(stats, source_rate, centroid=train_centroid(train))


def prosody_features(
    train: Sequence[UtteranceLike], pool: Sequence[Sentence], pool_index: Sequence[int], source_rate: int
) -> np.ndarray:
    """(n_pool, 3): per pool utterance median F0 (semitones re 100 Hz), F0 spread (st), phones/s."""
    feats = np.full((len(pool), 3), np.nan)
    for k, (s, i) in enumerate(zip(pool, pool_index)):
        u = train[i]
        band = to_band(u.load(), u.sample_rate, source_rate)
        rate = min(source_rate, 24000)
        median, spread = f0_stats(band, rate)
        if math.isfinite(median) and median > 0:
            feats[k, 0] = 12 * math.log2(median / 100.0)
            feats[k, 1] = spread
        seconds = active_duration_s(band, rate)
        if seconds > 0:
            feats[k, 2] = phone_count(s.phonemes) / seconds
    return feats


def held_out_set(
    held: Sequence[UtteranceLike], centroid: np.ndarray, language: str, source_rate: int, max_utterances: int,
    train: Sequence[UtteranceLike] = (),
) -> HeldOutSet:
    """`train`: the training utterances; as many of them as held-out ones, spread evenly, are the
    real speaker's side of the likeness measures' ceiling."""
    usable = [u for u in held if u.text and u.embedding is not None]
    usable = evenly(usable, max_utterances)
    if not usable:
        raise ValueError("no held-out utterance has a transcript")
    clips = [u.load() for u in usable]
    rate = usable[0].sample_rate
    train_clips = [resample(u.load(), u.sample_rate, rate) for u in evenly(list(train), len(usable))]
    return HeldOutSet.from_recordings(
        clips,
        usable[0].sample_rate,
        [u.text for u in usable],
        [phonemize(u.text, language) for u in usable],
        centroid,
        source_rate,
        language,
        embeddings=np.stack([u.embedding for u in usable]),
        train_clips=train_clips,
    )
