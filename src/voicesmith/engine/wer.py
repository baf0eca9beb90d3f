"""Word error rate with a text normalisation that is the same on both sides.

Both reference and hypothesis are lower-cased, numbers are spelled out as words ("12" -> "twelve",
"3.5" -> "three point five", "21st" -> "twenty first", "40%" -> "forty percent"), hyphens split words,
apostrophes are dropped ("don't" -> "dont") and any other punctuation is removed. Nothing else is
forgiven: a substituted, missing or extra word counts as an error.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def number_to_words(n: int) -> str:
    """Cardinal English words for a non-negative integer, without "and" (101 -> one hundred one)."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return number_to_words(head) + " " + name + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError("unreachable")


def _ordinal(words: str) -> str:
    *head, last = words.split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*)(?:\.(\d+))?(st|nd|rd|th)?(%)?")


def _spell_number(match: re.Match[str]) -> str:
    integer, fraction, ordinal, percent = match.groups()
    words = number_to_words(int(integer.replace(",", "")))
    if ordinal and not fraction:
        words = _ordinal(words)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
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


def _edit_distance(ref: list[str], hyp: list[str]) -> int:
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
    return _edit_distance(ref, hyp), len(ref)


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
