"""Word error rate with a text normalisation that is the same on both sides.

Both reference and hypothesis are lower-cased, numbers are spelled out as words ("12" -> "twelve",
"3.5" -> "three point five", "21st" -> "twenty first", "40%" -> "forty percent"), hyphens split words,
apostrophes are dropped ("don't" -> "dont") and any other punctuation is removed. Nothing else is
forgiven: a substituted, missing or extra word counts as an error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Hashable, Sequence

from voicesmith.engine.text import cardinal
from voicesmith.engine.text import ordinal as ordinal_words

def number_to_words(n: int) -> str:
    """Cardinal English words for an integer, hyphens as spaces (101 -> one hundred one).

    The words come from the TTS text normaliser, so WER reads numbers exactly as synthesis speaks them.
    """
    return cardinal(n).replace("-", " ")


_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*)(?:\.(\d+))?(st|nd|rd|th)?(%)?")


def _spell_number(match: re.Match[str]) -> str:
    integer, fraction, ordinal, percent = match.groups()
    value = int(integer.replace(",", ""))
    if ordinal and not fraction:
        words = ordinal_words(value).replace("-", " ")
    else:
        words = number_to_words(value)
    if fraction:
        words += " point " + " ".join(cardinal(int(d)) for d in fraction)
    if percent:
        words += " percent"
    return f" {words} "


def normalize_words(text: str) -> list[str]:
    """The word sequence that WER compares."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'")
    text = _NUMBER.sub(_spell_number, text)
    text = text.replace("%", " percent ")
    text = re.sub(r"(\w)'(\w)", r"\1\2", text)  # don't -> dont, on both sides alike
    text = re.sub(r"[^\w\s]|_", " ", text)  # hyphens, punctuation, symbols
    return text.split()


def edit_distance(ref: Sequence[Hashable], hyp: Sequence[Hashable]) -> int:
    """Levenshtein distance between two sequences (words of a transcript, or characters of a string)."""
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, number of reference words) after normalisation."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    return edit_distance(ref, hyp), len(ref)


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one pair. An empty reference scores 0.0 for an empty hypothesis, else 1.0."""
    errors, n = word_errors(reference, hypothesis)
    if n == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / n


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """WER over many (reference, hypothesis) pairs: total errors / total reference words."""
    errors = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors += e
        words += n
    if words == 0:
        return 0.0 if errors == 0 else 1.0
    return errors / words
