"""Pronunciation dictionaries applied to a sentence's words (pure text work; the phonemizer does the rest).

An entry maps `text` (a word or a phrase, as written) to an `alias`:
- a sound-alike spelling (`"Nguyen" -> "win"`), which is then phonemized like any text; or
- IPA between `<<` and `>>` (`"tomato" -> "<<təˈmɑːtoʊ>>"`), which becomes the engine's phonemes directly.

Matching is on whole words, punctuation around them ignored, the longest phrase first. Without `case_sensitive`
every capitalization matches; with it the text must match exactly, except that a lowercase entry also matches its
capitalized form at the start of a sentence (Cartesia's rule). Word timestamps keep naming the written words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voicesmith.engine.phonemes import IPA_CLOSE_MARK, IPA_OPEN_MARK, ipa_to_kokoro

IPA_OPEN, IPA_CLOSE = "<<", ">>"
MAX_TEXT_CHARS = 200
MAX_ALIAS_CHARS = 400
_EDGES = re.compile(r"^[^\w]+|[^\w]+$")
_LEAD = re.compile(r"^[^\w]+")
_TRAIL = re.compile(r"[^\w]+$")


class PronunciationError(ValueError):
    """An entry that cannot be used; `message` says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Entry:
    words: tuple[str, ...]  # the text's words, punctuation at their edges removed
    alias: str  # a sound-alike spelling, or Kokoro phonemes when `ipa`
    ipa: bool = False
    case_sensitive: bool = False

    def matches(self, written: list[str], sentence_start: bool) -> bool:
        if not self.case_sensitive:
            return [w.casefold() for w in written] == [w.casefold() for w in self.words]
        if written == list(self.words):
            return True
        first = self.words[0]
        return (sentence_start and first[:1].islower() and written[0] == first[:1].upper() + first[1:]
                and written[1:] == list(self.words[1:]))


def _bare(word: str) -> str:
    return _EDGES.sub("", word)


def make_entry(text: str, alias: str, case_sensitive: bool = False, *, where: str = "item") -> Entry:
    """Validate one {text, alias}; PronunciationError names `where` (e.g. "items[3]") and the problem."""
    words = tuple(b for b in (_bare(w) for w in text.split()) if b)
    if not words:
        raise PronunciationError(f"{where}: text must contain a word.")
    if len(text) > MAX_TEXT_CHARS or len(alias) > MAX_ALIAS_CHARS:
        raise PronunciationError(f"{where}: text may have at most {MAX_TEXT_CHARS} characters and alias at most "
                                 f"{MAX_ALIAS_CHARS}.")
    spoken = alias.strip()
    if spoken.startswith(IPA_OPEN) and spoken.endswith(IPA_CLOSE):
        phonemes = ipa_to_kokoro(spoken[len(IPA_OPEN): -len(IPA_CLOSE)])
        if not phonemes.strip():
            raise PronunciationError(f"{where}: the IPA alias {alias!r} has no phoneme the engine can say.")
        return Entry(words, phonemes, ipa=True, case_sensitive=case_sensitive)
    if IPA_OPEN in spoken or IPA_CLOSE in spoken:
        raise PronunciationError(f"{where}: write an IPA alias as a whole between << and >>, e.g. \"<<təˈmɑːtoʊ>>\".")
    if not any(ch.isalnum() for ch in spoken):
        raise PronunciationError(f"{where}: alias must be a sound-alike spelling or IPA between << and >>.")
    return Entry(words, spoken, case_sensitive=case_sensitive)


class Lexicon:
    """A dictionary's entries, ready to rewrite (written word, what to say) units."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = sorted(entries, key=lambda e: -len(e.words))  # the longest phrase wins

    def __len__(self) -> int:
        return len(self.entries)

    def apply(self, units: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Units (from text.normalize_words) with dictionary words replaced by their alias. An IPA alias is
        wrapped in the phonemizer's marks, so it bypasses espeak-ng."""
        if not self.entries:
            return units
        out: list[tuple[str, str]] = []
        i = 0
        while i < len(units):
            sentence_start = i == 0 or units[i - 1][0].rstrip("\"')]»”’").endswith((".", "!", "?"))
            for entry in self.entries:
                n = len(entry.words)
                written = [_bare(w) for w, _ in units[i: i + n]]
                if len(written) == n and entry.matches(written, sentence_start):
                    originals = [w for w, _ in units[i: i + n]]
                    lead = m.group(0) if (m := _LEAD.match(originals[0])) else ""
                    trail = m.group(0) if (m := _TRAIL.search(originals[-1])) else ""
                    said = f"{IPA_OPEN_MARK}{entry.alias}{IPA_CLOSE_MARK}" if entry.ipa else entry.alias
                    out.append((" ".join(originals), f"{lead}{said}{trail}"))
                    i += n
                    break
            else:
                out.append(units[i])
                i += 1
        return out
