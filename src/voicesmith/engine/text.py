"""Text normalisation (what to say for "$3.50 on 12/05") and sentence chunking for streaming.

Normalisation works word by word (whitespace-separated tokens, looking at their neighbours), so
every spoken word can be traced back to the word of the transcript it came from: that is what word
timestamps report. English gets a full normaliser (numbers, ordinals, years, decimals, dates, times,
currency, percentages, abbreviations, units); es/fr/it/pt get numbers, percentages and currency
through `num2words`; Hindi numbers are left to espeak-ng, which reads digits in Hindi.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from num2words import num2words

# ---------------------------------------------------------------- English numbers

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def cardinal(n: int) -> str:
    """English cardinal words: 1234 -> "one thousand two hundred thirty-four"."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else "-" + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + cardinal(rest))
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return cardinal(head) + " " + name + ("" if rest == 0 else " " + cardinal(rest))
    raise AssertionError("unreachable")


def ordinal(n: int) -> str:
    """English ordinal words: 21 -> "twenty-first"."""
    words = cardinal(n)
    head, sep, last = max(words.rpartition(" "), words.rpartition("-"), key=lambda p: len(p[0]))
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(n: int) -> str:
    """How a year is read: 1990 -> nineteen ninety, 2005 -> two thousand five, 1905 -> nineteen oh five."""
    if 2000 <= n < 2010 or n % 1000 == 0 or n < 1000 or n > 9999:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    return cardinal(high) + " " + (("oh " + cardinal(low)) if low < 10 else cardinal(low))


def _digits(s: str) -> str:
    return " ".join(_ONES[int(d)] for d in s)


def _decimal(integer: str, fraction: str | None) -> str:
    words = cardinal(int(integer.replace(",", "") or "0"))
    if fraction:
        words += " point " + _digits(fraction)
    return words


# ---------------------------------------------------------------- English tables

_ABBREVIATIONS = {
    "Mr.": "mister", "Mrs.": "missus", "Ms.": "miz", "Dr.": "doctor", "Prof.": "professor", "Jr.": "junior",
    "Sr.": "senior", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is",
    "Inc.": "incorporated", "Ltd.": "limited", "Co.": "company", "Corp.": "corporation", "Ave.": "avenue",
    "Rd.": "road", "Blvd.": "boulevard", "Mt.": "mount", "Gen.": "general", "Gov.": "governor",
    "Sen.": "senator", "Rep.": "representative", "Capt.": "captain", "Lt.": "lieutenant", "Col.": "colonel",
    "Sgt.": "sergeant", "approx.": "approximately", "Jan.": "January", "Feb.": "February", "Mar.": "March",
    "Apr.": "April", "Aug.": "August", "Sep.": "September", "Sept.": "September", "Oct.": "October",
    "Nov.": "November", "Dec.": "December", "dept.": "department", "min.": "minutes", "hr.": "hour",
}
# Units read only after a number: (singular, plural).
_UNITS = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"), "mi": ("mile", "miles"), "ft": ("foot", "feet"), "km/h": ("kilometer per hour",
    "kilometers per hour"), "mph": ("mile per hour", "miles per hour"), "h": ("hour", "hours"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "s": ("second", "seconds"), "sec": ("second", "seconds"), "ms": ("millisecond", "milliseconds"),
    "l": ("liter", "liters"), "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "GB": ("gigabyte", "gigabytes"), "MB": ("megabyte", "megabytes"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "TB": ("terabyte", "terabytes"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"), "kW": ("kilowatt", "kilowatts"), "°C": ("degree Celsius",
    "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"), "°": ("degree", "degrees"),
    "%": ("percent", "percent"),
}
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", "", "")}
_SCALE_WORDS = {"thousand", "million", "billion", "trillion"}
_SYMBOLS = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "#": "number"}

_LEAD = re.compile(r"^[(\[\"“‘'«¿¡]+")
_TRAIL = re.compile(r"[.,!?;:…)\]\"”’'»]+$")
_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
_RE_CURRENCY = re.compile(rf"^(-)?([$£€¥])({_NUM})(?:\.(\d+))?$")
_RE_PERCENT = re.compile(rf"^(-)?({_NUM})(?:\.(\d+))?%$")
_RE_ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$", re.I)
_RE_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:([ap])\.?m\.?)?$", re.I)
_RE_HOUR_AMPM = re.compile(r"^(\d{1,2})([ap])\.?m\.?$", re.I)
_RE_AMPM = re.compile(r"^([ap])\.?m\.?$", re.I)
_RE_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$")
_RE_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_RE_DECADE = re.compile(r"^(?:(\d{2})|')(\d)0s$")
_RE_NUMBER = re.compile(rf"^(-)?({_NUM})(?:\.(\d+))?$")
_RE_RANGE = re.compile(r"^(\d+)[-–](\d+)$")
_RE_NUM_UNIT = re.compile(rf"^({_NUM})(?:\.(\d+))?([A-Za-z°%/]+[CF]?)$")


@dataclass
class _Context:
    prev_number: float | None = None  # value of the previous token, when it was a bare number
    currency_after: str = ""  # "dollars" to say after a following scale word ("$5 million")


def _is_year(n: int, raw: str) -> bool:
    return "," not in raw and 1100 <= n <= 2099


def _number_words(sign: str | None, integer: str, fraction: str | None) -> str:
    if fraction is None and len(integer) > 1 and integer.startswith("0"):
        return _digits(integer)  # 007, zip codes
    value = int(integer.replace(",", ""))
    words = year(value) if fraction is None and not sign and _is_year(value, integer) else _decimal(integer, fraction)
    return ("minus " if sign else "") + words


def _currency(match: re.Match[str], next_core: str) -> tuple[str, str]:
    """(words, unit to say after a following scale word)."""
    sign, symbol, integer, fraction = match.groups()
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    prefix = "minus " if sign else ""
    if next_core.lower() in _SCALE_WORDS:  # "$5 million" -> "five million dollars"
        return prefix + _decimal(integer, fraction), many
    units = int(integer.replace(",", ""))
    cents = int((fraction or "0")[:2].ljust(2, "0")) if fraction else 0
    parts = []
    if units or not cents:
        parts.append(f"{cardinal(units)} {one if units == 1 else many}")
    if cents and sub_one:
        parts.append(f"{cardinal(cents)} {sub_one if cents == 1 else sub_many}")
    elif cents:
        parts = [f"{_decimal(integer, fraction)} {many}"]
    return prefix + " and ".join(parts), ""


def _time(hour: int, minute: int, ampm: str | None) -> str:
    if minute == 0:
        words = cardinal(hour) + ("" if ampm else " o'clock")
    elif minute < 10:
        words = f"{cardinal(hour)} oh {cardinal(minute)}"
    else:
        words = f"{cardinal(hour)} {cardinal(minute)}"
    if ampm:
        words += f" {ampm.lower()} m"
    return words


def _date(month: int, day: int, yr: str | None) -> str:
    words = f"{_MONTHS[month - 1]} {ordinal(day)}"
    if yr:
        y = int(yr) + (2000 if len(yr) == 2 else 0)
        words += ", " + year(y)
    return words


def _english_core(core: str, prev: str, next_core: str, ctx: _Context) -> str:  # noqa: C901 (a flat table)
    value: float | None = None
    out: str
    if ctx.currency_after and core.lower() in _SCALE_WORDS:
        out, ctx.currency_after = f"{core} {ctx.currency_after}", ""
    elif m := _RE_CURRENCY.match(core):
        out, ctx.currency_after = _currency(m, next_core)
    elif m := _RE_PERCENT.match(core):
        out = ("minus " if m.group(1) else "") + _decimal(m.group(2), m.group(3)) + " percent"
    elif m := _RE_ORDINAL.match(core):
        out = ordinal(int(m.group(1)))
    elif m := _RE_TIME.match(core):
        hour, minute = int(m.group(1)), int(m.group(2))
        out = _time(hour, minute, m.group(4)) if hour < 25 and minute < 60 else f"{cardinal(hour)} {cardinal(minute)}"
        value = float(hour)  # lets a following "pm" be read as "p m"
    elif m := _RE_HOUR_AMPM.match(core):
        out = _time(int(m.group(1)), 0, m.group(2))
    elif (m := _RE_AMPM.match(core)) and ctx.prev_number is not None:
        out = f"{m.group(1).lower()} m"
    elif m := _RE_ISO_DATE.match(core):
        y, mo, d = (int(x) for x in m.groups())
        out = _date(mo, d, str(y)) if 1 <= mo <= 12 and 1 <= d <= 31 else " ".join(cardinal(int(x)) for x in m.groups())
    elif m := _RE_DATE.match(core):
        a, b, yr = int(m.group(1)), int(m.group(2)), m.group(3)
        if a < b <= 10 and not yr:  # 1/2, 3/4: a fraction
            denominator = {2: "half", 4: "quarter"}.get(b, ordinal(b))
            out = f"{cardinal(a)} {denominator}" + ("s" if a > 1 else "")
        elif 1 <= a <= 12 and 1 <= b <= 31:  # US order: month/day
            out = _date(a, b, yr)
        elif 1 <= b <= 12 and 1 <= a <= 31:
            out = _date(b, a, yr)
        else:
            out = " slash ".join(cardinal(int(x)) for x in m.groups() if x)
    elif m := _RE_DECADE.match(core):
        century, decade = m.group(1), int(m.group(2))
        tens = "hundreds" if decade == 0 else _TENS[decade][:-1] + "ies"
        out = (cardinal(int(century)) + " " if century else "") + tens
    elif m := _RE_RANGE.match(core):
        a, b = m.groups()
        out = f"{_number_words(None, a, None)} to {_number_words(None, b, None)}"
    elif m := _RE_NUMBER.match(core):
        out = _number_words(m.group(1), m.group(2), m.group(3))
        value = float(m.group(2).replace(",", "") + ("." + m.group(3) if m.group(3) else ""))
    elif (m := _RE_NUM_UNIT.match(core)) and m.group(3) in _UNITS:
        number = float(m.group(1).replace(",", "") + ("." + m.group(2) if m.group(2) else ""))
        one, many = _UNITS[m.group(3)]
        out = f"{_decimal(m.group(1), m.group(2))} {one if number == 1 else many}"
    elif ctx.prev_number is not None and core in _UNITS:
        one, many = _UNITS[core]
        out = one if ctx.prev_number == 1 else many
    elif core in _SYMBOLS:
        out = _SYMBOLS[core]
    elif core.startswith("#") and core[1:].isdigit():
        out = "number " + cardinal(int(core[1:]))
    else:
        out = core
    ctx.prev_number = value
    return out


def _abbreviation(token: str, prev: str, next_token: str) -> str | None:
    bare = token.rstrip(",;:!?")
    if bare == "St.":  # "St. Louis" vs "Baker St."
        return "saint" if next_token[:1].isupper() else "street"
    if bare == "No." and next_token[:1].isdigit():
        return "number"
    word = _ABBREVIATIONS.get(bare)
    if word is None:
        return None
    return word + token[len(bare):]


def _normalize_english(tokens: list[str]) -> list[str]:
    ctx = _Context()
    out = []
    for i, token in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        abbreviation = _abbreviation(token, prev, nxt)
        if abbreviation is not None:
            ctx.prev_number = None
            out.append(abbreviation)
            continue
        lead = _LEAD.match(token)
        lead_s = lead.group(0) if lead else ""
        rest = token[len(lead_s):]
        trail = _TRAIL.search(rest)
        trail_s = trail.group(0) if trail else ""
        core = rest[: len(rest) - len(trail_s)]
        if not core:
            out.append(token)
            ctx.prev_number = None
            continue
        next_core = _TRAIL.sub("", _LEAD.sub("", nxt))
        out.append(lead_s + _english_core(core, prev, next_core, ctx) + trail_s)
    return out


# ---------------------------------------------------------------- other languages

_NUM2WORDS_LANG = {"es": "es", "fr": "fr", "it": "it", "pt": "pt_BR"}
_PERCENT_WORD = {"es": "por ciento", "fr": "pour cent", "it": "per cento", "pt": "por cento"}
_CURRENCY_WORD = {
    "es": {"€": "euros", "$": "dólares", "£": "libras"},
    "fr": {"€": "euros", "$": "dollars", "£": "livres"},
    "it": {"€": "euro", "$": "dollari", "£": "sterline"},
    "pt": {"€": "euros", "$": "dólares", "£": "libras"},
}
_DECIMAL_WORD = {"es": "coma", "fr": "virgule", "it": "virgola", "pt": "vírgula"}
_MINUS_WORD = {"es": "menos", "fr": "moins", "it": "meno", "pt": "menos"}
_RE_ROMANCE_NUMBER = re.compile(r"^([$€£])?(-)?(\d{1,3}(?:[.\s]\d{3})+|\d+)(?:,(\d+))?([$€£%])?$")


def _normalize_romance(tokens: list[str], language: str) -> list[str]:
    lang = _NUM2WORDS_LANG[language]
    out = []
    after_number = False
    for token in tokens:
        lead = _LEAD.match(token)
        lead_s = lead.group(0) if lead else ""
        rest = token[len(lead_s):]
        trail = _TRAIL.search(rest)
        trail_s = trail.group(0) if trail else ""
        core = rest[: len(rest) - len(trail_s)]
        if after_number and core in ("%", "€", "$", "£"):  # "3,50 €", "25 %"
            word = _PERCENT_WORD[language] if core == "%" else _CURRENCY_WORD[language][core]
            out.append(lead_s + word + trail_s)
            after_number = False
            continue
        m = _RE_ROMANCE_NUMBER.match(core)
        after_number = bool(m)
        if not m or (m.group(1) and m.group(5)):
            out.append(token)
            continue
        before, sign, integer, fraction, after = m.groups()
        words = num2words(int(re.sub(r"[.\s]", "", integer)), lang=lang)
        if fraction:  # "3,50" -> "tres coma cincuenta", as it is read aloud
            words += f" {_DECIMAL_WORD[language]} " + num2words(int(fraction), lang=lang)
        if sign:
            words = _MINUS_WORD[language] + " " + words
        symbol = before or after
        if symbol == "%":
            words += " " + _PERCENT_WORD[language]
        elif symbol:
            words += " " + _CURRENCY_WORD[language][symbol]
        out.append(lead_s + words + trail_s)
    return out


# ---------------------------------------------------------------- public API

def normalize_words(text: str, language: str = "en") -> list[tuple[str, str]]:
    """[(original word, what to say for it)] for every whitespace-separated word of `text`."""
    tokens = text.split()
    if language == "en":
        spoken = _normalize_english(tokens)
    elif language in _NUM2WORDS_LANG:
        spoken = _normalize_romance(tokens, language)
    else:
        spoken = tokens
    return list(zip(tokens, spoken))


def normalize(text: str, language: str = "en") -> str:
    """The text as it should be spoken: "$3.50 on 12/05" -> "three dollars and fifty cents on December fifth"."""
    return " ".join(spoken for _, spoken in normalize_words(text, language))


# ---------------------------------------------------------------- sentences and chunks

_NO_SPLIT_AFTER = {a.lower() for a in _ABBREVIATIONS} | {"st.", "no."}
_SENTENCE_END = re.compile(r"[.!?…।]+[\"”’')\]]*$")
_CLAUSE_END = re.compile(r"[,;:—–]+[\"”’')\]]*$")
_CONJUNCTIONS = {"and", "but", "or", "so", "because", "which", "that", "while", "when", "where", "y", "et", "e", "o",
                 "mais", "pero", "ma", "mas", "और"}
_PREPOSITIONS = {"in", "on", "at", "with", "for", "from", "to", "into", "after", "before", "about", "over", "under",
                 "through", "during", "without", "en", "con", "para", "por", "dans", "avec", "pour", "sur", "di",
                 "per", "com", "में", "से"}
_FUNCTION_WORDS = _PREPOSITIONS | _CONJUNCTIONS | {"the", "a", "an", "of", "my", "your", "his", "her", "our", "their",
                                                  "its", "this", "these", "those", "is", "are", "was", "were", "be",
                                                  "el", "la", "los", "las", "le", "les", "il", "lo", "o", "a", "de"}
FIRST_CHUNK_MIN_WORDS = 3
FIRST_CHUNK_MAX_WORDS = 8
MAX_CHUNK_WORDS = 40


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, split after . ! ? … । (not after abbreviations or initials) and at newlines."""
    sentences: list[str] = []
    for paragraph in re.split(r"\n+", text):
        words: list[str] = []
        for token in paragraph.split():
            words.append(token)
            if _SENTENCE_END.search(token):
                bare = token.lower().rstrip("\"”’')]")
                initial = len(bare) == 2 and bare[0].isalpha() and bare[1] == "."
                if bare not in _NO_SPLIT_AFTER and not initial:
                    sentences.append(" ".join(words))
                    words = []
        if words:
            sentences.append(" ".join(words))
    return sentences


def _split_long(words: list[str], limit: int) -> list[list[str]]:
    """Split a word list longer than `limit` at clause marks (else at the limit)."""
    parts: list[list[str]] = []
    while len(words) > limit:
        cut = 0
        for i in range(limit, FIRST_CHUNK_MIN_WORDS - 1, -1):
            if _CLAUSE_END.search(words[i - 1]):
                cut = i
                break
        cut = cut or limit
        parts.append(words[:cut])
        words = words[cut:]
    if words:
        parts.append(words)
    return parts


def _split_first(words: list[str]) -> list[list[str]]:
    """Cut the first sentence early so the first audio comes back fast, at a phrase boundary.

    Sentences of up to FIRST_CHUNK_MAX_WORDS words stay whole. Longer ones are cut at the first
    clause mark after FIRST_CHUNK_MIN_WORDS words, else before a conjunction or preposition, else
    (only when long) after a content word; never leaving a tail of fewer than 3 words. Cutting
    mid-phrase ("top of the | page") costs more intelligibility than the latency it saves.
    """
    if len(words) <= FIRST_CHUNK_MAX_WORDS:
        return [words]
    last = len(words) - FIRST_CHUNK_MIN_WORDS
    for i in range(FIRST_CHUNK_MIN_WORDS, min(last, 2 * FIRST_CHUNK_MAX_WORDS) + 1):
        if _CLAUSE_END.search(words[i - 1]):
            return [words[:i], words[i:]]
    for i in range(FIRST_CHUNK_MIN_WORDS, min(last, FIRST_CHUNK_MAX_WORDS + 4) + 1):
        if words[i].lower() in _CONJUNCTIONS or words[i].lower() in _PREPOSITIONS:
            return [words[:i], words[i:]]
    if len(words) > 2 * FIRST_CHUNK_MAX_WORDS:
        for i in range(FIRST_CHUNK_MAX_WORDS, FIRST_CHUNK_MIN_WORDS, -1):
            if words[i - 1].lower() not in _FUNCTION_WORDS:
                return [words[:i], words[i:]]
    return [words]


def chunk_text(text: str, *, early_first: bool = True) -> list[str]:
    """Synthesis chunks: sentences, the first one split early, long ones split at clauses."""
    chunks: list[str] = []
    for sentence in split_sentences(text):
        words = sentence.split()
        parts = _split_first(words) if early_first and not chunks else [words]
        for part in parts:
            chunks.extend(" ".join(p) for p in _split_long(part, MAX_CHUNK_WORDS))
    return chunks
