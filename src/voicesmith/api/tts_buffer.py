"""Transcript buffering for WebSocket contexts (`max_buffer_delay_ms`, Cartesia's API).

Inputs on a context are joined verbatim. With a buffer delay the server waits for whole sentences before it
generates (better prosody than word-by-word input), but never longer than the delay: when the timer fires it
generates what it has, up to the last word boundary. With no delay every input is generated as it arrives.
"""

from __future__ import annotations

import re

# A sentence ends at . ! ? (also CJK forms and ellipses), optionally followed by closing quotes or brackets.
_SENTENCE_END = r"[.!?\u3002\uff01\uff1f\u2026]+[\"'\u201d\u2019)\]]*"
_BOUNDARY_INSIDE = re.compile(_SENTENCE_END + r"\s+")
_BOUNDARY_AT_END = re.compile(_SENTENCE_END + r"$")
# A period after an abbreviation or an initial does not end a sentence ("Dr. Smith", "J. R. R. Tolkien").
_ABBREVIATION = re.compile(r"\b(?:[A-Z]|Mr|Mrs|Ms|Dr|St|Prof|Sr|Jr|vs|etc|e\.g|i\.e)\.$")
# At the very end of the buffer a period after a digit may be a decimal point still arriving ("3." + "50").
_DECIMAL = re.compile(r"\d\.$")
_CLOSERS = "\"'\u201d\u2019)]"


def _ends_sentence(prefix: str, at_end: bool) -> bool:
    core = prefix.rstrip().rstrip(_CLOSERS)
    if _ABBREVIATION.search(core):
        return False
    return not (at_end and _DECIMAL.search(core))


def complete_prefix(text: str) -> int:
    """Length of the longest prefix of `text` that ends on a sentence boundary (0 if none)."""
    if _BOUNDARY_AT_END.search(text) and _ends_sentence(text, at_end=True):
        return len(text)
    cut = 0
    for match in _BOUNDARY_INSIDE.finditer(text):
        if _ends_sentence(text[: match.end()], at_end=False):
            cut = match.end()
    return cut


def word_prefix(text: str) -> int:
    """Length of the longest prefix that ends at whitespace (the whole text if it has no partial last word)."""
    if not text or text[-1].isspace():
        return len(text)
    last_space = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
    return last_space + 1 if last_space >= 0 else 0


class TranscriptBuffer:
    """Text received on a context but not yet handed to the synthesizer."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.text = ""

    def add(self, transcript: str) -> str:
        """Append an input; returns the text that is ready to generate now ("" if it should wait)."""
        self.text += transcript
        if self.delay_s <= 0:
            return self.take(len(self.text))
        return self.take(complete_prefix(self.text))

    def on_timeout(self) -> str:
        """The delay has passed: release everything up to the last word boundary (all of it if no boundary)."""
        cut = word_prefix(self.text)
        return self.take(cut if cut > 0 else len(self.text))

    def drain(self) -> str:
        """Flush or end of context: everything."""
        return self.take(len(self.text))

    def take(self, n: int) -> str:
        ready, self.text = self.text[:n], self.text[n:]
        return ready
