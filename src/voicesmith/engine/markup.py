"""Cartesia's SSML-like tags inside a transcript, parsed into a script of speech and pauses (pure text work).

Tags (Cartesia's API):
- `<break time="1s"/>`, `<break time="500ms"/>`: silence of that length (0 to 10 s) between the words around it;
- `<spell>A1B2</spell>`: the characters inside are said one by one (letters by their names, digits as digits);
- `<speed ratio="1.2"/>` (0.6-1.5) and `<volume ratio="0.8"/>` (0.5-2.0): the delivery of all the text after the
  tag, multiplying the request's own speed and volume;
- `<emotion value="excited"/>`: one of Cartesia's emotion names; accepted and validated, and it changes nothing in
  the audio (the Kokoro engine has no emotion control).

A tag that is malformed, unknown, has a missing or out-of-range attribute, or is left open is a `MarkupError`
with a machine-readable code (`invalid_tag`, `unknown_tag`), never text read aloud. A `<` that does not open a tag
(`3 < 4`, `a <-> b`) is plain text. The void tags may be written with or without the closing slash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voicesmith.engine import text as textnorm

MAX_BREAK_S = 10.0
SPEED_RANGE = (0.6, 1.5)
VOLUME_RANGE = (0.5, 2.0)
EMOTIONS = frozenset((
    "neutral happy excited enthusiastic elated euphoric triumphant amazed surprised flirtatious curious content "
    "peaceful serene calm grateful affectionate trust sympathetic anticipation mysterious angry mad outraged "
    "frustrated agitated threatened disgusted contempt envious sarcastic ironic sad dejected melancholic "
    "disappointed hurt guilty bored tired rejected nostalgic wistful apologetic hesitant insecure confused resigned "
    "anxious panicked alarmed scared proud confident distant skeptical contemplative determined"
).split())
TAGS = ("break", "spell", "speed", "volume", "emotion")

# English letter names, written so that espeak-ng says the name and not a word ("a" would be the article).
_LETTER_NAMES = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    "ay bee see dee ee eff jee aitch eye jay kay el em en oh pee cue ar ess tee you vee double-you ex why zee"
).split()))

_TAG_START = re.compile(r"<(?=[A-Za-z/])")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9_-]*)((?:\s+[^<>]*?)?)\s*(/?)>")
_ATTRIBUTE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')\s*")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)\s*$", re.IGNORECASE)


class MarkupError(ValueError):
    """A tag the parser refuses; `code` is the API's error_code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Delivery:
    speed: float = 1.0  # multiplies the request's speed
    volume: float = 1.0  # multiplies the request's volume
    emotion: str | None = None  # accepted; no effect on this engine


@dataclass(frozen=True)
class Speech:
    text: str
    delivery: Delivery = field(default_factory=Delivery)
    spell: bool = False


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Script:
    parts: tuple[Speech | Pause, ...]
    delivery_after: Delivery = field(default_factory=Delivery)  # in force at the end: the next input starts here
    billable_chars: int = 0  # the text's characters outside tags, plus one per break and spell tag (as Cartesia)

    @property
    def text(self) -> str:
        """What the script says, without its tags."""
        return " ".join(part.text for part in self.parts if isinstance(part, Speech))

    @classmethod
    def plain(cls, text: str) -> "Script":
        """Text taken as it is, tags and all (for callers that never accept markup)."""
        return cls((Speech(text),), Delivery(), len(text))


def _snippet(tag: str) -> str:
    return tag if len(tag) <= 60 else tag[:57] + "..."


def _attributes(raw: str, tag: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    position = 0
    while position < len(raw):
        match = _ATTRIBUTE.match(raw, position)
        if match is None or match.end() == position:
            raise MarkupError("invalid_tag", f"Malformed attributes in {_snippet(tag)}: write them as "
                                             "name=\"value\".")
        value = match.group(2) if match.group(2) is not None else match.group(3)
        attributes[match.group(1).lower()] = value
        position = match.end()
    return attributes


def _only(attributes: dict[str, str], name: str, tag: str) -> str:
    extra = sorted(set(attributes) - {name})
    if extra:
        raise MarkupError("invalid_tag", f"{_snippet(tag)} has an unknown attribute {extra[0]!r}; it takes {name}.")
    if name not in attributes:
        raise MarkupError("invalid_tag", f"{_snippet(tag)} needs a {name} attribute.")
    return attributes[name]


def _break_seconds(value: str, tag: str) -> float:
    match = _DURATION.match(value)
    if match is None:
        raise MarkupError("invalid_tag", f"{_snippet(tag)}: time must be a duration such as \"1s\", \"1.5s\" or "
                                         "\"500ms\".")
    seconds = float(match.group(1)) / (1000.0 if match.group(2).lower() == "ms" else 1.0)
    if seconds > MAX_BREAK_S:
        raise MarkupError("invalid_tag", f"{_snippet(tag)}: a break may last at most {MAX_BREAK_S:g} s.")
    return seconds


def _ratio(value: str, bounds: tuple[float, float], tag: str) -> float:
    try:
        ratio = float(value)
    except ValueError:
        ratio = float("nan")
    if not bounds[0] <= ratio <= bounds[1]:
        raise MarkupError("invalid_tag", f"{_snippet(tag)}: ratio must be a number from {bounds[0]:g} to "
                                         f"{bounds[1]:g}.")
    return ratio


def parse(text: str, delivery: Delivery = Delivery()) -> Script:
    """The script of `text`, starting with `delivery` in force (a WebSocket context carries it across inputs)."""
    parts: list[Speech | Pause] = []
    billable = 0
    spelling: str | None = None  # the text inside an open <spell>
    buffer: list[str] = []  # plain text since the last tag

    def flush_text() -> None:
        nonlocal billable
        chunk = "".join(buffer)
        buffer.clear()
        if spelling is not None:
            return
        billable += len(chunk)
        if not chunk.strip():
            return
        last = parts[-1] if parts else None
        if (isinstance(last, Speech) and not last.spell and last.delivery.speed == delivery.speed
                and last.delivery.volume == delivery.volume):  # an emotion tag alone does not cut a phrase
            parts[-1] = Speech(last.text + chunk, last.delivery)
        else:
            parts.append(Speech(chunk, delivery))

    position = 0
    while True:
        start = _TAG_START.search(text, position)
        if start is None:
            buffer.append(text[position:])
            break
        buffer.append(text[position:start.start()])
        match = _TAG.match(text, start.start())
        if match is None:
            end = text.find(">", start.start())
            shown = text[start.start(): end + 1] if end >= 0 else text[start.start(): start.start() + 30]
            raise MarkupError("invalid_tag", f"Malformed tag {_snippet(shown)!r}: tags look like "
                                             "<break time=\"1s\"/> or <spell>...</spell>.")
        tag = match.group(0)
        closing, name, raw_attributes, _self_closing = match.groups()
        name = name.lower()
        if name not in TAGS:
            raise MarkupError("unknown_tag", f"Unknown tag {_snippet(tag)!r}; the tags are "
                                             f"{', '.join('<' + t + '>' for t in TAGS)}.")
        position = match.end()
        if name == "spell":
            if raw_attributes.strip() or _self_closing:
                raise MarkupError("invalid_tag", f"{_snippet(tag)}: write <spell>text</spell>, without attributes.")
            if not closing:
                if spelling is not None:
                    raise MarkupError("invalid_tag", "<spell> elements cannot be nested.")
                flush_text()
                spelling = ""
                continue
            if spelling is None:
                raise MarkupError("invalid_tag", "</spell> without an opening <spell>.")
            spelled = "".join(buffer)
            buffer.clear()
            if spelled.strip():
                parts.append(Speech(spelled.strip(), delivery, spell=True))
                billable += len(spelled) + 1
            spelling = None
            continue
        if closing:
            raise MarkupError("invalid_tag", f"{_snippet(tag)}: <{name}/> is a self-closing tag; there is nothing "
                                             "to close.")
        if spelling is not None:
            raise MarkupError("invalid_tag", f"{_snippet(tag)} inside <spell>: only text can be spelled.")
        flush_text()
        if name == "break":
            seconds = _break_seconds(_only(_attributes(raw_attributes, tag), "time", tag), tag)
            parts.append(Pause(seconds))
            billable += 1
        elif name == "speed":
            ratio = _ratio(_only(_attributes(raw_attributes, tag), "ratio", tag), SPEED_RANGE, tag)
            delivery = Delivery(ratio, delivery.volume, delivery.emotion)
        elif name == "volume":
            ratio = _ratio(_only(_attributes(raw_attributes, tag), "ratio", tag), VOLUME_RANGE, tag)
            delivery = Delivery(delivery.speed, ratio, delivery.emotion)
        else:  # emotion
            value = _only(_attributes(raw_attributes, tag), "value", tag).strip().lower()
            if value not in EMOTIONS:
                raise MarkupError("invalid_tag", f"{_snippet(tag)}: unknown emotion {value!r}; use one of Cartesia's "
                                                 "emotion names, such as neutral, calm, angry, content, sad, scared.")
            delivery = Delivery(delivery.speed, delivery.volume, value)
    if spelling is not None:
        raise MarkupError("invalid_tag", "<spell> is never closed: end it with </spell>.")
    flush_text()
    return Script(tuple(parts), delivery, billable)


def open_tail(text: str) -> int:
    """Where a tag or a <spell> element that `text` leaves unfinished begins (len(text) when nothing is open).

    Streaming input (WebSocket contexts) holds text from there on until more arrives, so that a tag split across
    inputs is parsed whole."""
    spell_open: int | None = None
    position = 0
    while (start := _TAG_START.search(text, position)) is not None:
        end = text.find(">", start.start())
        if end < 0:
            return start.start() if spell_open is None else spell_open
        tag = text[start.start(): end + 1].lower().replace(" ", "")
        if tag == "<spell>":
            spell_open = start.start()
        elif tag == "</spell>":
            spell_open = None
        position = end + 1
    return len(text) if spell_open is None else spell_open


def spelled_words(text: str, language: str) -> list[tuple[str, str]]:
    """(written word, what to say) for text inside <spell>: each character by itself; timestamps keep the word."""
    units = []
    for word in text.split():
        said = []
        for ch in word:
            if not ch.isalnum():
                continue
            said.append(_LETTER_NAMES.get(ch.lower(), ch) if language == "en" else ch)
        if said:
            units.append((word, textnorm.normalize(" ".join(said), language)))
    return units
