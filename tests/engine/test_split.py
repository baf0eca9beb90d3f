from dataclasses import dataclass

import pytest

from voicesmith.engine.split import heldout_count, split, split_key, split_utterances


@dataclass(frozen=True)
class Utt:
    source: str
    start: float
    text: str | None = "some words"
    end: float = 0.0

    @property
    def duration(self) -> float:
        return self.end - self.start


def _utts(n: int) -> list[Utt]:
    return [Utt(f"file{i // 4}.wav", (i % 4) * 5.0, end=(i % 4) * 5.0 + 4.0) for i in range(n)]


@pytest.mark.parametrize("n,expected", [(0, 0), (1, 0), (2, 1), (6, 3), (10, 5), (30, 5), (50, 5), (51, 6), (200, 20)])
def test_heldout_count(n, expected):
    assert heldout_count(n) == expected


def test_split_is_deterministic_and_order_independent():
    utts = _utts(40)
    train, held = split_utterances(utts)
    assert len(held) == 5 and len(train) == 35
    assert set(train).isdisjoint(held) and set(train) | set(held) == set(utts)
    train2, held2 = split_utterances(list(reversed(utts)))
    assert set(held2) == set(held)
    assert split_utterances(utts) == (train, held)
    assert train == [u for u in utts if u in set(train)]  # input order kept


def test_split_depends_on_file_and_offset():
    assert split_key("a.wav", 1.0) == split_key("a.wav", 1.0004)  # millisecond resolution
    assert split_key("a.wav", 1.0) != split_key("a.wav", 2.0) != split_key("b.wav", 1.0)


def test_heldout_prefers_transcribed_sentence_length_utterances():
    utts = [Utt("f.wav", float(i), text=None, end=i + 4.0) for i in range(30)]
    utts += [Utt("g.wav", float(i), text="words", end=i + 0.8) for i in range(10)]  # too short
    good = [Utt("h.wav", float(i), text="words", end=i + 3.0) for i in range(5)]
    _, held = split_utterances(utts + good)
    assert set(held) == set(good)


def test_generic_split_with_custom_key():
    train, held = split(list(range(100)), key=lambda i: f"{i:03d}", fraction=0.2)
    assert held == list(range(20)) and len(train) == 80
