"""Request bodies and response shapes of the non-TTS API, version by version (Cartesia's API)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from voicesmith.api.versions import V2024_11_13, V2025_04_16, V2025_11_04, V2026_08_14, ApiVersion
from voicesmith.service.languages import locale_of


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z (the SDKs parse it as an aware datetime)."""
    if dt is None:
        return None
    dt = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Body(BaseModel):
    # Clients of newer API versions may send fields we do not know; ignore them.
    model_config = ConfigDict(extra="ignore")


# Requests -------------------------------------------------------------------------------------

class DatasetCreate(_Body):
    name: str = Field(min_length=1, max_length=500)
    description: str = Field(max_length=10_000)


class DatasetUpdate(_Body):
    name: str = Field(min_length=1, max_length=500)
    description: str = Field(max_length=10_000)


class FineTuneCreate(_Body):
    name: str = Field(min_length=1, max_length=500)
    description: str = Field(max_length=10_000)
    language: str
    model_id: str
    dataset: str
    accent: Optional[str] = None
    # voicesmith extension (the Cartesia SDKs never send it): how long to train. Unset = "default".
    budget: Optional[Literal["tiny", "default", "max"]] = None


class VoiceUpdate(_Body):
    name: Optional[str] = Field(None, max_length=500)
    description: Optional[str] = Field(None, max_length=10_000)
    gender: Optional[str] = None
    accent: Optional[str] = None


class TokenGrants(_Body):
    tts: bool = False
    stt: bool = False
    agent: bool = False


class AccessTokenCreate(_Body):
    grants: Optional[TokenGrants] = None
    expires_in: Optional[int] = Field(None, ge=1, le=3600)


class VoiceLocalize(_Body):
    voice_id: str
    name: str = Field(..., max_length=500)
    description: Optional[str] = Field(None, max_length=10_000)
    language: Optional[str] = None
    original_speaker_gender: Optional[str] = None
    dialect: Optional[str] = None
    # 2026-08-14: required there (a catalog id from GET /accents); earlier versions name the language instead.
    accent: Optional[str] = None
    tagline: Optional[str] = Field(None, max_length=32)


# Responses ------------------------------------------------------------------------------------

def dataset_json(ds: Any) -> dict:
    return {"id": ds.id, "name": ds.name, "description": ds.description, "created_at": iso(ds.created_at)}


def estimate_json(dataset_id: str, e: Any) -> dict:
    if e.pace.runs:
        basis = f"measured on this server's last {e.pace.runs} completed fine-tune" + ("s" if e.pace.runs > 1 else "")
    else:
        basis = "reference figures for 2 quiet cores: no fine-tune has completed on this server yet"
    return {
        "dataset_id": dataset_id,
        "audio_seconds": e.audio_seconds,
        "budgets": {name: {"expected_seconds": seconds} for name, seconds in e.budgets.items()},
        "basis": "measured" if e.pace.runs else "reference",
        "measured_runs": e.pace.runs,
        "active_fine_tunes": e.active,
        "message": (basis if e.audio_seconds is not None else "the recordings are still being analysed; " + basis)
                   + (f"; {e.active} fine-tune{'s' if e.active != 1 else ''} on this server now, which a new one may"
                      " wait for" if e.active else ""),
    }


def dataset_file_json(f: Any) -> dict:
    return {"id": f.id, "filename": f.filename, "created_at": iso(f.created_at), "size": f.size}


def fine_tune_json(ft: Any) -> dict:
    return {
        # The official FineTune shape...
        "id": ft.id,
        "name": ft.name,
        "description": ft.description,
        "language": ft.language,
        "model_id": ft.model_id,
        "dataset": ft.dataset_id,
        "status": ft.status,
        "accent": ft.accent,
        # ...and what a voicesmith user also needs (extra fields; the SDKs keep and ignore them).
        "stage": ft.stage,
        "progress": round(float(ft.progress or 0.0), 4),
        "eta_seconds": ft.eta_seconds,
        "error": ft.error,
        "error_code": ft.error_code,
        "created_at": iso(ft.created_at),
        "updated_at": iso(ft.updated_at),
    }


def _locales(v: Any) -> list[dict]:
    return [{"locale": locale_of(v.language, v.country), "is_native": True}]


def voice_json(v: Any, org_id: str, version: ApiVersion, expand: frozenset[str] = frozenset()) -> dict:
    """The Voice object as the request's API version defines it."""
    is_owner = v.org_id is not None and v.org_id == org_id
    created = iso(v.created_at)
    if version < V2024_11_13:
        # voicesmith voices are not Cartesia embeddings: the required field is present but empty.
        return {"id": v.id, "user_id": v.org_id, "is_public": v.is_public, "name": v.name,
                "description": v.description, "created_at": created, "embedding": [], "language": v.language}
    if version < V2025_04_16:
        out = {"id": v.id, "is_owner": is_owner, "name": v.name, "description": v.description,
               "created_at": created, "language": v.language}
        if "embedding" in expand:
            out["embedding"] = []
        if "is_starred" in expand:
            out["is_starred"] = False
        return out
    if version < V2025_11_04:
        out = {"id": v.id, "is_owner": is_owner, "is_public": v.is_public, "name": v.name,
               "description": v.description, "gender": v.gender, "created_at": created, "language": v.language}
        if "is_starred" in expand:
            out["is_starred"] = False
        return out
    out = {"id": v.id, "is_owner": is_owner}
    if version < V2026_08_14:
        out["is_public"] = v.is_public
        out["name"] = v.name
    else:
        out["access"] = "public" if v.is_public else "private"
        out["visibility"] = "all" if v.is_public else "owner"
        out["name"] = v.name
        out["tagline"] = v.tagline or ""
    out.update({"description": v.description, "gender": v.gender, "created_at": created, "language": v.language,
                "locales": _locales(v), "country": v.country, "accent": v.accent})
    if "preview_file_url" in expand:
        # Fine-tuned voices keep a preview clip (an authenticated GET, relative to this server); others have none.
        out["preview_file_url"] = f"/voices/{v.id}/preview" if v.preview_key else None
    # Extensions: what the voice is made of and where it came from.
    out["kind"] = v.kind
    out["fine_tune_id"] = v.fine_tune_id
    out.update(consent_fields(v))
    return out


def consent_fields(v: Any) -> dict:
    """voicesmith fields of a voice: its consent (verified | unverified | stock) and where it came from."""
    return {"consent": v.consent or ("stock" if v.kind == "stock" else "unverified"),
            "provenance": {"dataset_id": v.source_dataset_id, "clip": v.source_clip, "fine_tune_id": v.fine_tune_id,
                           "consent_attempt_id": v.consent_attempt_id, "api_key_id": v.created_by_key_id}}


class ConsentChallengeCreate(_Body):
    # The speaker's name as they will say it in the statement ("I, <name>, agree ...").
    name: Optional[str] = Field(None, max_length=200)


def consent_challenge_json(c: Any) -> dict:
    return {"id": c.id, "dataset_id": c.dataset_id, "statement": c.statement, "code": c.code, "status": c.status,
            "created_at": iso(c.created_at), "expires_at": iso(c.expires_at)}


def consent_attempt_json(a: Any) -> dict:
    return {"id": a.id, "dataset_id": a.dataset_id, "challenge_id": a.challenge_id, "verified": a.verified,
            "reason_code": a.reason_code, "message": a.message, "created_at": iso(a.created_at),
            "filename": a.filename, "seconds": a.seconds,
            "text": {"ok": a.code_score == 1.0 if a.code_score is not None else None, "transcript": a.transcript,
                     "code_score": a.code_score, "statement_wer": a.statement_wer},
            "speaker": {"ok": (a.similarity >= a.threshold) if a.similarity is not None and a.threshold else None,
                        "similarity": a.similarity, "threshold": a.threshold}}


def voice_metadata_json(v: Any, version: ApiVersion) -> dict:
    """VoiceMetadata (returned by clone and localize)."""
    out = {"id": v.id, "user_id": v.org_id, "name": v.name, "description": v.description,
           "created_at": iso(v.created_at), "language": v.language}
    if version >= V2026_08_14:
        out.update({"access": "public" if v.is_public else "private",
                    "visibility": "all" if v.is_public else "owner", "tagline": v.tagline or ""})
    else:
        out["is_public"] = v.is_public
    out.update(consent_fields(v))
    return out


def api_key_json(k: Any) -> dict:
    return {"id": k.id, "description": k.description, "created_at": iso(k.created_at), "creator_email": None,
            "creator_still_in_org": True, "creator_image_url": None,
            # Extensions: enough to recognise a key without revealing it.
            "prefix": k.prefix, "is_admin": k.is_admin}


