"""Language codes Cartesia accepts (its SupportedLanguage, PY-v4) and the default locale of each."""

from __future__ import annotations

from voicesmith.service.errors import InvalidRequest

CARTESIA_LANGUAGES = (
    "en fr de es pt zh ja hi it ko nl pl ru sv tr "
    "tl bg ro ar cs el fi hr ms sk da ta uk hu no vi bn th he ka id te gu kn ml mr pa "
    "or ur"
).split()

# The country of each language's default locale (VoiceLocale "xx-YY" when a voice names no country).
_DEFAULT_COUNTRY = {
    "en": "US", "fr": "FR", "de": "DE", "es": "ES", "pt": "BR", "zh": "CN", "ja": "JP", "hi": "IN", "it": "IT",
    "ko": "KR", "nl": "NL", "pl": "PL", "ru": "RU", "sv": "SE", "tr": "TR", "tl": "PH", "bg": "BG", "ro": "RO",
    "ar": "SA", "cs": "CZ", "el": "GR", "fi": "FI", "hr": "HR", "ms": "MY", "sk": "SK", "da": "DK", "ta": "IN",
    "uk": "UA", "hu": "HU", "no": "NO", "vi": "VN", "bn": "IN", "th": "TH", "he": "IL", "ka": "GE", "id": "ID",
    "te": "IN", "gu": "IN", "kn": "IN", "ml": "IN", "mr": "IN", "pa": "IN", "or": "IN", "ur": "PK",
}


def default_country(language: str) -> str | None:
    return _DEFAULT_COUNTRY.get(language)


def locale_of(language: str, country: str | None) -> str:
    country = country or default_country(language)
    return f"{language}-{country}" if country else language


def parse_language_filter(value: str) -> tuple[str, str | None]:
    """'en' -> ('en', None); 'en-GB' or 'en_GB' -> ('en', 'GB')."""
    lang, _, country = value.replace("_", "-").partition("-")
    return lang.lower(), (country.upper() or None)


def validate_language(language: str | None, field: str = "language") -> str:
    if not language or language not in CARTESIA_LANGUAGES:
        raise InvalidRequest(
            f"Unsupported {field} {language!r}; use an ISO 639-1 code such as 'en', 'fr' or 'es'.",
            error_code="unsupported_language",
        )
    return language
