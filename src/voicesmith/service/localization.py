"""Localized voices (POST /voices/localize) and the accents this engine speaks (GET /accents).

A localized voice keeps its source's timbre (the first half of each style row, its pitch scale and timbre filter)
and takes the prosody half from the stock voice listed under the target language that sounds nearest
(engine.stock.prosody_donor); when no stock voice is listed under that language the source's prosody stays. It is
stored with the target language, so every route that defaults to the voice's language (e.g. /v1/audio/speech)
sends its text through that language's phonemizer.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicesmith.engine import stock
from voicesmith.engine.synthesis import SUPPORTED_LANGUAGES
from voicesmith.service import voices
from voicesmith.service.errors import InvalidRequest
from voicesmith.service.ids import new_uuid
from voicesmith.service.languages import CARTESIA_LANGUAGES, locale_of
from voicesmith.store.db import session_scope
from voicesmith.store.models import Voice


@dataclass(frozen=True)
class Accent:
    id: str  # Cartesia's catalog id
    name: str
    language: str
    # The pre-2026-08-14 `dialect` values that name this accent (LocalizeDialect).
    dialects: tuple[str, ...] = ()

    @property
    def locale(self) -> str:
        return locale_of(self.language, None)


# One accent per language the engine phonemizes: the espeak-ng voice it uses (engine.phonemes.ESPEAK_VOICES) is
# this accent, so nothing else could honestly be offered.
_ACCENTS = (
    Accent("general-american", "General American English", "en", ("us",)),
    Accent("castilian", "Castilian Spanish", "es"),
    Accent("parisian", "Parisian French", "fr", ("eu",)),
    Accent("italian", "Italian", "it"),
    Accent("brazilian-portuguese", "Brazilian Portuguese", "pt", ("br",)),
    Accent("hindi", "Hindi", "hi"),
)


def accents() -> list[Accent]:
    """The accents this server can localize to and speak, sorted by id."""
    return sorted((a for a in _ACCENTS if a.language in SUPPORTED_LANGUAGES), key=lambda a: a.id)


@dataclass(frozen=True)
class LocalizeRequest:
    voice_id: str
    name: str
    description: str | None = None
    language: str | None = None
    accent: str | None = None
    dialect: str | None = None
    original_speaker_gender: str | None = None
    tagline: str | None = None
    api_key_id: str | None = None


def _unsupported_language(language: str) -> InvalidRequest:
    spoken = ", ".join(sorted({a.language for a in accents()}))
    known = language in CARTESIA_LANGUAGES
    return InvalidRequest(
        f"This server cannot localize into {language!r}: its engine speaks {spoken}"
        + (" (Cartesia offers that language; voicesmith's engine has no phonemizer for it)." if known else "."),
        error_code="unsupported_language", title="Unsupported language")


def target_accent(language: str | None, accent: str | None, dialect: str | None = None) -> Accent:
    """The accent a localize request asks for: by catalog id (2026-08-14), or by language (and dialect) before."""
    catalogue = accents()
    if accent:
        found = next((a for a in catalogue if a.id == accent), None)
        if found is None:
            raise InvalidRequest(f"Unknown or unsupported accent {accent!r}; GET /accents lists this server's: "
                                 f"{', '.join(a.id for a in catalogue)}.", error_code="unsupported_accent",
                                 title="Unsupported accent")
        if language and language != found.language:
            raise InvalidRequest(f"Accent {accent!r} is {found.language!r}, not {language!r}.",
                                 error_code="accent_language_mismatch")
        return found
    if not language:
        raise InvalidRequest("Send the target `accent` (a catalog id from GET /accents) or `language`.",
                             error_code="invalid_request")
    found = next((a for a in catalogue if a.language == language), None)
    if found is None:
        raise _unsupported_language(language)
    if dialect and dialect not in found.dialects:
        raise InvalidRequest(f"Dialect {dialect!r} of {language!r} is not available here; this server speaks "
                             f"{found.name}.", error_code="unsupported_dialect")
    return found


def localize_voice(org_id: str, request: LocalizeRequest) -> Voice:
    """A new voice of the organisation: the source's timbre speaking the target accent (see the module doc)."""
    target = target_accent(request.language, request.accent, request.dialect)
    if not request.name.strip():
        raise InvalidRequest("name must not be empty.", error_code="invalid_request")
    gender = voices.normalise_gender(request.original_speaker_gender)
    source = voices.resolve(org_id, request.voice_id)
    with session_scope() as session:
        row = voices.find_visible(session, org_id, request.voice_id)
        gender = gender or row.gender
        inherited = {"consent": row.consent, "consent_attempt_id": row.consent_attempt_id,
                     "source_dataset_id": row.source_dataset_id, "source_clip": row.source_clip}
    donor = stock.prosody_donor(source.artifact, target.language, gender)
    origin = {"voice_id": source.id, "name": source.name, "accent": target.id,
              "prosody_voice_id": donor.voice_id if donor else None}
    artifact = source.artifact.with_prosody_of(donor.artifact if donor else source.artifact,
                                               {**source.artifact.meta, "localized_from": origin})
    description = request.description or f"{source.name}, localized to {target.name}."
    return voices.add_voice(
        voice_id=new_uuid(), org_id=org_id, kind="localized", name=request.name,
        description=description, language=target.language, artifact=artifact, gender=gender, accent=target.id,
        consent=inherited["consent"], consent_attempt_id=inherited["consent_attempt_id"],
        source_dataset_id=inherited["source_dataset_id"], created_by_key_id=request.api_key_id,
        source_clip={**(inherited["source_clip"] or {}), "localized_from": origin}, tagline=request.tagline or "",
    )
