"""The voice library: stock voices (public, no organisation) and each organisation's own voices."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from voicesmith.engine import stock
from voicesmith.engine.voice import VoiceArtifact
from voicesmith.service.errors import Forbidden, InvalidRequest, NotFound
from voicesmith.service.ids import is_uuid
from voicesmith.service.languages import default_country, parse_language_filter
from voicesmith.service.pagination import Page, PageRequest, paginate
from voicesmith.store.blobs import BlobNotFound, get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import ConsentAttempt, Voice, utcnow

log = logging.getLogger(__name__)

GENDERS = ("masculine", "feminine", "gender_neutral")
_GENDER_ALIASES = {"male": "masculine", "m": "masculine", "female": "feminine", "f": "feminine",
                   "neutral": "gender_neutral", "gender-neutral": "gender_neutral"}


def normalise_gender(value: str | None) -> str | None:
    if value is None:
        return None
    g = _GENDER_ALIASES.get(value.strip().lower(), value.strip().lower())
    if g not in GENDERS:
        raise InvalidRequest(f"Unknown gender {value!r}; use one of {', '.join(GENDERS)}.", error_code="invalid_gender")
    return g


def _visible(org_id: str):  # noqa: ANN202 (SQL expression)
    return or_(Voice.org_id == org_id, and_(Voice.org_id.is_(None), Voice.is_public.is_(True)))


def find_visible(session: Session, org_id: str, voice_id: str) -> Voice:
    voice = None
    if is_uuid(voice_id):
        voice = session.scalar(select(Voice).where(Voice.id == voice_id, _visible(org_id)))
    if voice is None:
        raise NotFound(f"No voice {voice_id!r} is available to your organisation.", error_code="voice_not_found")
    return voice


def _find_owned(session: Session, org_id: str, voice_id: str) -> Voice:
    voice = find_visible(session, org_id, voice_id)
    if voice.org_id != org_id:
        raise Forbidden(f"Voice {voice_id} is a stock voice; it cannot be changed or deleted.",
                        error_code="voice_read_only")
    return voice


@dataclass(frozen=True)
class VoiceFilter:
    is_owner: bool | None = None
    gender: str | None = None
    language: str | None = None
    q: str | None = None


def _filtered(org_id: str, f: VoiceFilter):  # noqa: ANN202
    stmt = select(Voice).where(_visible(org_id))
    if f.is_owner is True:
        stmt = stmt.where(Voice.org_id == org_id)
    elif f.is_owner is False:
        stmt = stmt.where(or_(Voice.org_id.is_(None), Voice.org_id != org_id))
    if f.gender:
        stmt = stmt.where(Voice.gender == normalise_gender(f.gender))
    if f.language:
        lang, country = parse_language_filter(f.language)
        stmt = stmt.where(Voice.language == lang)
        if country:
            by_default = Voice.country.is_(None) if default_country(lang) == country else false()
            stmt = stmt.where(or_(Voice.country == country, by_default))
    if f.q:
        # LIKE wildcards in the query are literal text to the user.
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(Voice.name.ilike(pattern, escape="\\"), Voice.description.ilike(pattern, escape="\\"),
                              Voice.id.ilike(pattern, escape="\\")))
    return stmt


def list_page(org_id: str, f: VoiceFilter, page: PageRequest) -> Page[Voice]:
    with session_scope() as session:
        return paginate(session, _filtered(org_id, f), Voice, page, newest_first=True)


def list_all(org_id: str, f: VoiceFilter = VoiceFilter()) -> list[Voice]:
    """Every visible voice, newest first (the 2024-06-10 API returns a bare array)."""
    with session_scope() as session:
        return list(session.scalars(_filtered(org_id, f).order_by(Voice.seq.desc())).all())


def get(org_id: str, voice_id: str) -> Voice:
    with session_scope() as session:
        return find_visible(session, org_id, voice_id)


def artifact_bytes(key: str) -> bytes:
    """A voice artifact's stored bytes (as written by store_voice)."""
    try:
        return get_blob_store().get_bytes(key)
    except BlobNotFound:
        raise NotFound(f"The voice's data ({key}) is missing from the blob store.",
                       error_code="voice_artifact_missing") from None


def stored_preview(key: str | None) -> bytes | None:
    """A voice's stored preview WAV (by its preview_key), None when it has none."""
    try:
        return get_blob_store().get_bytes(key) if key else None
    except BlobNotFound:
        return None


def preview_audio(org_id: str, voice_id: str) -> bytes:
    """The WAV sample a fine-tune stored for one of its voices (stock and cloned voices have none)."""
    with session_scope() as session:
        key = find_visible(session, org_id, voice_id).preview_key
    preview = stored_preview(key)
    if preview is not None:
        return preview
    raise NotFound(f"Voice {voice_id} has no stored preview; synthesize one with POST /tts/bytes.",
                   error_code="preview_not_found")


_UNSET = object()


def update_voice(org_id: str, voice_id: str, *, name: str | None = None, description: str | None = None,
                 gender: object = _UNSET, accent: object = _UNSET) -> Voice:
    """Change a voice's metadata; `gender=None` resets it, leaving it out keeps it."""
    with session_scope() as session:
        voice = _find_owned(session, org_id, voice_id)
        if name is not None:
            if not name.strip():
                raise InvalidRequest("name must not be empty.", error_code="invalid_request")
            voice.name = name
        if description is not None:
            voice.description = description
        if gender is not _UNSET:
            voice.gender = normalise_gender(gender)  # type: ignore[arg-type]
        if accent is not _UNSET:
            voice.accent = accent  # type: ignore[assignment]
        return voice


def delete(org_id: str, voice_id: str) -> None:
    with session_scope() as session:
        voice = _find_owned(session, org_id, voice_id)
        consent_key = None
        if voice.kind == "clone" and voice.consent_attempt_id:
            # An instant clone's consent recording belongs to it alone (a dataset's goes with the dataset).
            attempt = session.scalar(select(ConsentAttempt).where(ConsentAttempt.id == voice.consent_attempt_id))
            if attempt is not None and attempt.dataset_id is None:
                consent_key, attempt.blob_key = attempt.blob_key, None
        session.delete(voice)
    delete_blobs(voice)
    if consent_key:
        get_blob_store().delete(consent_key)
    _artifact_cache.forget(voice.artifact_key)


# Artifacts ------------------------------------------------------------------------------------

class _ArtifactCache:
    """Parsed voice artifacts by blob key (they are immutable once written), bounded LRU."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, int], VoiceArtifact] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> VoiceArtifact:
        store = get_blob_store()
        try:
            # With an object store, fetch() keeps the artifact on this node after the first use.
            path = store.fetch(key)
            stamp = path.stat().st_mtime_ns
        except (BlobNotFound, FileNotFoundError):
            raise NotFound(f"The voice's data ({key}) is missing from the blob store.",
                           error_code="voice_artifact_missing") from None
        with self._lock:
            hit = self._items.get((key, stamp))
            if hit is not None:
                self._items.move_to_end((key, stamp))
                return hit
        artifact = VoiceArtifact.from_bytes(path.read_bytes())
        with self._lock:
            self._items[(key, stamp)] = artifact
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return artifact

    def forget(self, key: str) -> None:
        with self._lock:
            for k in [k for k in self._items if k[0] == key]:
                del self._items[k]


_artifact_cache = _ArtifactCache()


@dataclass(frozen=True)
class ResolvedVoice:
    id: str
    kind: str
    name: str
    language: str
    engine_model: str
    org_id: str | None
    artifact: VoiceArtifact


def resolve(org_id: str, voice_id: str) -> ResolvedVoice:
    """A voice the organisation may speak with, and its (cached) artifact; NotFound otherwise."""
    with session_scope() as session:
        v = find_visible(session, org_id, voice_id)
        row = (v.id, v.kind, v.name, v.language, v.engine_model, v.org_id, v.artifact_key)
    return ResolvedVoice(*row[:6], artifact=_artifact_cache.get(row[6]))


def find_by_name(org_id: str, name: str) -> str | None:
    """The id of the voice called `name` (case-insensitive): the organisation's own voice first, then a stock
    voice; None if there is none. Several own voices with that name are ambiguous: InvalidRequest."""
    wanted = name.strip().lower()
    if not wanted:
        return None
    with session_scope() as session:
        rows = session.execute(select(Voice.id, Voice.org_id).where(_visible(org_id), func.lower(Voice.name) == wanted)
                               .order_by(Voice.seq.desc())).all()
    own = [voice_id for voice_id, owner in rows if owner == org_id]
    if len(own) > 1:
        raise InvalidRequest(f"{len(own)} of your voices are named {name!r}; name the voice by its id instead.",
                             error_code="ambiguous_voice", title="Ambiguous voice name")
    if own:
        return own[0]
    return rows[0][0] if rows else None


def store_voice(session: Session, *, voice_id: str, org_id: str | None, kind: str, name: str, description: str,
                language: str, artifact: VoiceArtifact, fine_tune_id: str | None = None, gender: str | None = None,
                accent: str | None = None, is_public: bool = False, preview_wav: bytes | None = None,
                created_at: datetime | None = None, consent: str | None = None,
                consent_attempt_id: str | None = None, source_dataset_id: str | None = None,
                source_clip: dict | None = None, created_by_key_id: str | None = None, tagline: str = "") -> Voice:
    """Write an artifact (and its preview) to the blob store and add its voice row.

    The caller commits; if that commit fails it calls delete_blobs(voice), so no blob outlives its row
    (`add_voice` does both for a voice stored on its own).
    `consent` and the rest are the voice's provenance (service/consent.py); `consent` defaults to
    "stock" for stock voices and "unverified" otherwise.
    """
    store = get_blob_store()
    key = f"voices/{voice_id}"
    store.put_bytes(key, artifact.to_bytes())
    preview_key = None
    if preview_wav:
        preview_key = f"voice_previews/{voice_id}.wav"
        try:
            store.put_bytes(preview_key, preview_wav)
        except BaseException:
            store.delete(key)
            raise
    voice = Voice(id=voice_id, org_id=org_id, fine_tune_id=fine_tune_id, kind=kind, name=name,
                  description=description, language=language, gender=normalise_gender(gender), accent=accent,
                  is_public=is_public, engine_model=artifact.engine_model, artifact_key=key,
                  preview_key=preview_key, created_at=created_at or utcnow(),
                  consent=consent or ("stock" if kind == "stock" else "unverified"),
                  consent_attempt_id=consent_attempt_id, source_dataset_id=source_dataset_id,
                  source_clip=source_clip, created_by_key_id=created_by_key_id, tagline=tagline)
    session.add(voice)
    return voice


def add_voice(**fields: Any) -> Voice:
    """Store one voice (`store_voice`'s fields) in a transaction of its own; if its row does not commit, its
    blobs are removed again."""
    voice = None
    try:
        with session_scope() as session:
            voice = store_voice(session, **fields)
            session.flush()  # fills created_at before the session closes
        return voice
    except BaseException:
        if voice is not None:
            delete_blobs(voice)
        raise


def delete_blobs(voice: Voice) -> None:
    """Remove a voice's artifact and preview from the blob store."""
    store = get_blob_store()
    for key in (voice.artifact_key, voice.preview_key):
        if key:
            store.delete(key)


# Stock voices ---------------------------------------------------------------------------------

def seed_stock_voices() -> int:
    """Add or refresh the engine's stock voices; returns how many there are."""
    voices = stock.stock_voices()
    try:
        _write_stock_voices(voices)
    except IntegrityError:
        # Another API node seeded the same rows at the same moment (several nodes starting at once on PostgreSQL):
        # once more, now updating the rows it inserted.
        _write_stock_voices(voices)
    return len(voices)


def _write_stock_voices(voices: list) -> None:
    store = get_blob_store()
    with session_scope() as session:
        for sv in voices:
            key = f"voices/stock/{sv.voice_id}"
            data = sv.artifact.to_bytes()
            if not store.exists(key) or store.get_bytes(key) != data:
                store.put_bytes(key, data)
                _artifact_cache.forget(key)
            row = session.scalar(select(Voice).where(Voice.id == sv.voice_id))
            if row is None:
                row = Voice(id=sv.voice_id, kind="stock", org_id=None, artifact_key=key, name=sv.name)
                session.add(row)
            row.kind, row.org_id, row.is_public, row.artifact_key = "stock", None, True, key
            row.consent = "stock"
            row.name, row.description, row.language = sv.name, sv.description, sv.language
            row.gender = normalise_gender(sv.gender)
            row.engine_model = sv.artifact.engine_model
