"""Instant clones (POST /voices/clone): one clip becomes a new voice of the organisation.

The speaker's consent recording, when sent (or required by the policy), is checked by service/consent.py
before the clone is made; the voice is stored by service/voices.py with its provenance.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from voicesmith.service import consent, voices
from voicesmith.service.errors import InvalidRequest
from voicesmith.service.ids import new_uuid
from voicesmith.service.languages import validate_language
from voicesmith.store.models import Voice

CLONE_WINDOW_S = 30.0  # seconds of a clone clip that are used


@dataclass(frozen=True)
class CloneRequest:
    clip: bytes
    filename: str
    name: str
    language: str
    description: str = ""
    base_voice_id: str | None = None
    enhance: bool = False
    mode: str | None = None
    accent: str | None = None
    # Consent (service/consent.py): the speaker reading the organisation's clone challenge, if sent.
    consent_clip: bytes | None = None
    consent_filename: str = "consent"
    consent_challenge_id: str | None = None
    api_key_id: str | None = None


def clone_voice(org_id: str, request: CloneRequest) -> Voice:
    """Instant clone from one clip (POST /voices/clone): a new voice owned by the organisation.

    The clip is decoded from a temporary file (PyAV needs a seekable file for most containers) and
    only its first CLONE_WINDOW_S seconds are used: the mapping was fitted on 5-30 s clips.
    """
    validate_language(request.language)
    if request.base_voice_id:
        voices.get(org_id, request.base_voice_id)
    from voicesmith.engine import clone  # the engine (and torch) load only when a clone is asked for
    from voicesmith.engine.audio import AudioDecodeError, load_audio

    suffix = Path(request.filename).suffix[:16] or ".bin"
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        tmp.write(request.clip)
        tmp.flush()
        try:
            audio, rate = load_audio(tmp.name)
        except AudioDecodeError as exc:
            raise InvalidRequest(f"The clip could not be read as audio ({exc}). Send wav, flac, mp3, ogg, "
                                 "m4a or webm.", error_code="invalid_audio") from None
    audio = audio[: int(CLONE_WINDOW_S * rate)]
    verdict = consent.clone_consent(org_id, audio, rate, request.consent_clip, request.consent_filename,
                                    api_key_id=request.api_key_id, challenge_id=request.consent_challenge_id)
    try:
        artifact = clone.instant_clone(audio, rate)
    except clone.CloneError as exc:
        raise InvalidRequest(f"This clip cannot be cloned: {exc}. Send 5-30 s of one person speaking.",
                             error_code="unclonable_clip") from None
    description = request.description or f"Instant clone of {request.filename}."
    return voices.add_voice(
        voice_id=new_uuid(), org_id=org_id, kind="clone", name=request.name, description=description,
        language=request.language, artifact=artifact, accent=request.accent, consent=verdict.consent,
        consent_attempt_id=verdict.attempt_id, created_by_key_id=request.api_key_id,
        source_clip={"filename": request.filename[:500], "sha256": hashlib.sha256(request.clip).hexdigest(),
                     "seconds": round(len(audio) / rate, 2)},
    )
