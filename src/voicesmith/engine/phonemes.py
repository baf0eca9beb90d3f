"""Text -> Kokoro v1.0 phoneme symbols, through espeak-ng (the library shipped by `espeakng-loader`).

espeak-ng gives IPA with stress marks; multi-letter phonemes are tied with '^' so diphthongs and
affricates can be mapped to Kokoro's single symbols (aɪ->I, aʊ->W, eɪ->A, oʊ->O, ɔɪ->Y, dʒ->ʤ,
tʃ->ʧ, ts->ʦ, dz->ʣ). English gets the extra rewrites Kokoro's English voices were trained with
(ɚ->əɹ, ɐ->ə, ʔ->t, syllabic consonants -> ᵊ + consonant, r->ɹ, length marks dropped); every
language is then filtered to the vocabulary.

Words stay separated by spaces, and `phonemize_words` tells which span of the phoneme string
belongs to which input word, so durations can be turned into word timestamps. espeak-ng sometimes
merges words ("of the" -> one phoneme word); those are split back by a small alignment against
the words phonemized one by one.
"""

from __future__ import annotations

import ctypes
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import espeakng_loader

from voicesmith.engine.kokoro import weights
from voicesmith.engine.wer import edit_distance

# Our language code -> espeak-ng voice.
ESPEAK_VOICES = {"en": "en-us", "es": "es", "fr": "fr", "it": "it", "pt": "pt-br", "hi": "hi"}

# Punctuation Kokoro has symbols for (it shapes prosody); text punctuation is mapped onto these.
_PUNCT_MAP = {
    ",": ",", ".": ".", "!": "!", "?": "?", ";": ";", ":": ":", "…": "…", "—": "—", "–": "—",
    "।": ".", "॥": ".", "。": ".", "、": ",", "¿": "", "¡": "", "\"": "", "“": "", "”": "",
    "(": ",", ")": ",", "[": ",", "]": ",", "«": "", "»": "",
}
_TIES = [
    ("a^ɪ", "I"), ("a^ʊ", "W"), ("e^ɪ", "A"), ("o^ʊ", "O"), ("ɔ^ɪ", "Y"), ("ə^ʊ", "O"),
    ("d^ʒ", "ʤ"), ("t^ʃ", "ʧ"), ("t^s", "ʦ"), ("d^z", "ʣ"), ("t^ɕ", "ʨ"), ("d^ʑ", "ʥ"),
]
_ENGLISH = [
    ("ʔˌn", "tᵊn"), ("ʔn", "tᵊn"), ("ʔ", "t"), ("ə^l", "ᵊl"), ("ɚ", "əɹ"), ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"),
    ("ɪə", "iə"), ("ɐ", "ə"), ("r", "ɹ"), ("x", "k"), ("ç", "k"), ("ɬ", "l"), ("ʲ", ""), ("e", "A"),
    ("ː", ""), ("\u0303", ""),
]
# A unit whose normalised text is wrapped in these marks carries Kokoro phonemes already (a pronunciation
# dictionary's IPA alias, engine/pronunciation.py): it is not sent to espeak-ng.
IPA_OPEN_MARK, IPA_CLOSE_MARK = "\u27e6", "\u27e7"
_SYLLABIC = re.compile("(.)\u0329")  # espeak's syllabic mark under a consonant
_LANG_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)?\)")  # "(en)" when espeak switches language


class PhonemizerError(RuntimeError):
    """espeak-ng could not be loaded or does not know the language."""


class _Espeak:
    """ctypes binding to the few libespeak-ng calls we need. espeak-ng is not thread-safe: one lock."""

    _IPA = 0x02
    _TIE = 0x80  # join the letters of multi-letter phonemes with the tie character below
    _TIE_CHAR = ord("^") << 8
    _UTF8 = 1

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        # AUDIO_OUTPUT_SYNCHRONOUS, no buffer, our data path, espeakINITIALIZE_DONT_EXIT.
        rate = self.lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0x8000)
        if rate <= 0:
            raise PhonemizerError("espeak-ng failed to initialise")
        self.voice: str | None = None

    def ipa(self, text: str, voice: str) -> str:
        """IPA of `text`, clauses joined by a space (espeak drops punctuation)."""
        data = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_void_p(ctypes.addressof(data))
        clauses = []
        with self.lock:
            if voice != self.voice:
                if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                    raise PhonemizerError(f"espeak-ng has no voice {voice!r}")
                self.voice = voice
            while pointer.value:
                out = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), self._UTF8, self._IPA | self._TIE | self._TIE_CHAR)
                if out:
                    clauses.append(out.decode("utf-8", "replace").strip())
        return " ".join(c for c in clauses if c)


_espeak_lock = threading.Lock()
_espeak_instance: _Espeak | None = None


def _espeak() -> _Espeak:
    # Not lru_cache: two threads phonemizing at once could both run espeak_Initialize (it crashes the process).
    global _espeak_instance
    with _espeak_lock:
        if _espeak_instance is None:
            _espeak_instance = _Espeak()
        return _espeak_instance


def espeak_voice(language: str) -> str:
    try:
        return ESPEAK_VOICES[language]
    except KeyError:
        raise PhonemizerError(f"unsupported language {language!r}; supported: {sorted(ESPEAK_VOICES)}") from None


def to_kokoro(ipa: str, language: str) -> str:
    """Map one espeak IPA string onto Kokoro v1.0's symbols and drop what the vocab lacks."""
    text = _LANG_SWITCH.sub("", unicodedata.normalize("NFC", ipa))
    for src, dst in _TIES:
        text = text.replace(src, dst)
    if language == "en":
        text = _SYLLABIC.sub(r"ᵊ\1", text)
        for src, dst in _ENGLISH:
            text = text.replace(src, dst)
    text = text.replace("^", "")
    vocab = weights.vocab()
    return "".join(ch for ch in text if ch in vocab or ch == " ")


def ipa_to_kokoro(ipa: str, language: str = "en") -> str:
    """Kokoro phonemes of IPA written by a person: diphthongs and affricates without tie marks ("eɪ", "tʃ") are
    joined like espeak-ng's tied ones, then mapped as `to_kokoro` maps espeak's output."""
    text = unicodedata.normalize("NFC", ipa).replace("'", "ˈ").replace("͡", "")
    for tied, _symbol in _TIES:
        text = text.replace(tied.replace("^", ""), tied)
    return " ".join(w for w in to_kokoro(text, language).split() if w)


@lru_cache(maxsize=20000)
def _word_phonemes(text: str, language: str) -> str:
    """Kokoro phonemes of a text phonemized on its own (spaces removed): length estimates."""
    return to_kokoro(_espeak().ipa(text, espeak_voice(language)), language).replace(" ", "")


@dataclass(frozen=True)
class WordSpan:
    word: str  # as given (original text)
    start: int  # [start, end) in the phoneme string
    end: int


@dataclass(frozen=True)
class Phonemized:
    phonemes: str
    words: list[WordSpan]


def _is_word_char(ch: str) -> bool:
    # combining marks count: Devanagari vowel signs end many Hindi words
    return ch.isalnum() or unicodedata.category(ch).startswith("M")


def _split_punctuation(text: str) -> tuple[str, str, str]:
    """(leading punctuation, core, trailing punctuation) of one word."""
    start, end = 0, len(text)
    while start < end and not _is_word_char(text[start]):
        start += 1
    while end > start and not _is_word_char(text[end - 1]):
        end -= 1
    return text[:start], text[start:end], text[end:]


def _kokoro_punct(chars: str) -> str:
    out = []
    for ch in chars:
        mapped = _PUNCT_MAP.get(ch)
        if mapped and (not out or out[-1] != mapped):
            out.append(mapped)
    if "." in out and len(out) > 1 and "…" not in out:  # "?." or ".," -> the last strong mark
        out = [out[-1]]
    return "".join(out)


# (units, espeak words) steps: a unit may expand to many words ("$3.50"), espeak may merge up to 4.
_MOVES = [(1, k) for k in range(0, 13)] + [(k, 1) for k in range(2, 5)]


def _align(espeak_words: list[str], unit_lengths: list[int]) -> list[list[int]]:
    """Assign espeak words to units: result[u] = indices of espeak words for unit u.

    Monotonic many-to-one alignment minimising the difference between the length of an espeak
    word group and the summed lengths of the units phonemized alone. A merged espeak word shared
    by several units is given to all of them (`_unit_phonemes` then cuts it).
    """
    n, m = len(unit_lengths), len(espeak_words)
    lengths = [len(w) for w in espeak_words]
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if cost[i][j] == inf:
                continue
            moves = _MOVES
            for du, de in moves:
                ni, nj = i + du, j + de
                if ni > n or nj > m:
                    continue
                want = sum(unit_lengths[i:ni])
                got = sum(lengths[j:nj])
                c = abs(want - got) + (2.0 if de == 0 and want > 0 else 0.0) + 0.1 * (du + de - 1)
                if cost[i][j] + c < cost[ni][nj]:
                    cost[ni][nj] = cost[i][j] + c
                    back[ni][nj] = (i, j)
    groups: list[list[int]] = [[] for _ in range(n)]
    i, j = n, m
    while (i, j) != (0, 0):
        step = back[i][j]
        if step is None:  # unreachable with the moves above, kept as a guard
            raise AssertionError("alignment failed")
        pi, pj = step
        for u in range(pi, i):
            groups[u] = list(range(pj, j))
        i, j = pi, pj
    return groups


def _split_merged(merged: str, alone: list[str]) -> list[str]:
    """Cut one merged espeak word into len(alone) parts that best match the words said alone."""
    if len(alone) == 1:
        return [merged]
    best: tuple[int, list[str]] | None = None
    for cut in range(1, len(merged) - len(alone) + 2):
        rest = _split_merged(merged[cut:], alone[1:])
        score = edit_distance(merged[:cut], alone[0]) + sum(edit_distance(p, a) for p, a in zip(rest, alone[1:]))
        if best is None or score < best[0]:
            best = (score, [merged[:cut], *rest])
    return best[1] if best else [merged]


def _unit_phonemes(espeak_words: list[str], groups: list[list[int]], cores: list[str], language: str) -> list[str]:
    """The phoneme text of each unit. Units that share a merged espeak word ("of the" -> "ʌvðə")
    get their own part of it, so Kokoro sees separate words as in its training data."""
    out = [""] * len(groups)
    u = 0
    while u < len(groups):
        v = u + 1
        while v < len(groups) and groups[v] and groups[v] == groups[u]:
            v += 1
        text = " ".join(espeak_words[k] for k in groups[u])
        if v - u == 1:
            out[u] = text
        elif len(text) >= v - u:
            alone = [_word_phonemes(c, language) for c in cores[u:v]]
            out[u:v] = _split_merged(text.replace(" ", ""), alone)
        else:  # too short to share: the first unit says it
            out[u] = text
        u = v
    return out


def phonemize_words(words: list[tuple[str, str]], language: str) -> Phonemized:
    """Phonemize a sentence given as (original word, normalised text) pairs.

    Normalised texts may contain several words ("$3" -> "three dollars") and punctuation.
    Returns the Kokoro phoneme string and the span of each original word that produced phonemes.
    """
    voice = espeak_voice(language)
    # Segments between punctuation marks are phonemized in one espeak call, for context.
    segments: list[tuple[list[int], str]] = []  # (unit indices, punctuation after the segment)
    cores: list[str] = []
    current: list[int] = []
    given: set[int] = set()  # units whose core is Kokoro phonemes already (IPA marks)
    for index, (_, normalized) in enumerate(words):
        lead, core, trail = _split_punctuation(normalized.strip())
        lead_p = _kokoro_punct(lead)
        if IPA_OPEN_MARK in lead:  # its own segment: espeak-ng never sees it
            given.add(index)
            if current:
                segments.append((current, lead_p))
                current = []
        elif lead_p and current:  # an opening mark ("(", a dash) closes the previous segment
            segments.append((current, lead_p))
            current = []
        cores.append(core)
        current.append(index)
        if index in given:
            segments.append((current, _kokoro_punct(trail)))
            current = []
            continue
        trail_p = _kokoro_punct(trail)
        if trail_p == "." and "." in core and index + 1 < len(words):
            trail_p = ""  # the dot of an initialism ("U.S.A. costs"), not the end of a sentence
        if trail_p:
            segments.append((current, trail_p))
            current = []
    if current:
        segments.append((current, ""))

    pieces: list[str] = []
    spans: list[WordSpan] = []
    position = 0

    def emit(text: str) -> None:
        nonlocal position
        pieces.append(text)
        position += len(text)

    for units, punct in segments:
        units = [u for u in units if cores[u]]
        if units and units[0] in given:
            if pieces and not pieces[-1].endswith(" "):
                emit(" ")
            start = position
            emit(cores[units[0]])
            spans.append(WordSpan(words[units[0]][0], start, position))
        elif units:
            ipa = _espeak().ipa(" ".join(cores[u] for u in units), voice)
            espeak_words = [w for w in (to_kokoro(x, language) for x in ipa.split()) if w]
            lengths = [len(_word_phonemes(cores[u], language)) for u in units]
            groups = _align(espeak_words, lengths) if espeak_words else [[] for _ in units]
            for unit, text in zip(units, _unit_phonemes(espeak_words, groups, [cores[u] for u in units], language)):
                if not text:
                    continue
                if pieces and not pieces[-1].endswith(" "):
                    emit(" ")
                start = position
                emit(text)
                spans.append(WordSpan(words[unit][0], start, position))
        if punct:
            emit(punct)
    return Phonemized("".join(pieces).strip(), spans)


def phonemize(text: str, language: str = "en", *, normalize: bool = True) -> str:
    """Kokoro phoneme string of `text` (normalised first unless normalize=False)."""
    from voicesmith.engine import text as textnorm

    units = textnorm.normalize_words(text, language) if normalize else [(w, w) for w in text.split()]
    return phonemize_words(units, language).phonemes
