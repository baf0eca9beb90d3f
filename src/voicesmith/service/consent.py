"""Consent before cloning (docs/consent.md): a spoken challenge, its verification, and the server's policy.

1. A challenge: a statement with a random code ("... Code: amber river 47.") for the speaker to read aloud,
   valid CHALLENGE_TTL_S, one active per dataset (or per organisation for instant clones); asking again
   supersedes the previous one.
2. An attempt: the speaker's recording of it. It passes when Whisper hears the code words in order
   (engine.consent.match_code) and its voice matches the dataset's training speech (or the clip being
   cloned) above engine.consent.SPEAKER_THRESHOLD. Every attempt is stored with its scores; at most
   MAX_ATTEMPTS per ATTEMPT_WINDOW_S per dataset (per organisation for clones). A verified attempt uses
   its challenge up: the same recording sent again fails. A challenge whose code words this server was asked
   to speak with a non-stock voice while it was active (`note_synthesis`, called for every TTS request) is
   spent too: a clone made here reads a fresh code as well as it reads anything, and passes the speaker check.
3. The policy (Settings.consent): `require` refuses fine-tunes on datasets without a verified consent and
   instant clones without a consent clip (403 consent_required); `record` lets them run and marks what they
   make `unverified`. Voices carry `consent` (verified | unverified | stock) and their provenance.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from voicesmith.config import get_settings
from voicesmith.engine import consent as checks
from voicesmith.engine.audio import AudioDecodeError, load_audio
from voicesmith.service.datasets import PendingUpload, owned
from voicesmith.service.errors import Forbidden, InvalidRequest, ServiceError
from voicesmith.service.ids import new_id
from voicesmith.store.blobs import get_blob_store
from voicesmith.store.db import session_scope
from voicesmith.store.models import ConsentAttempt, ConsentChallenge

CHALLENGE_TTL_S = 600.0  # ten minutes to read and upload the statement
MAX_ATTEMPTS = 5
ATTEMPT_WINDOW_S = 3600.0
MAX_REFERENCE_FILES = 20  # training files embedded when the dataset's analysis has not run yet
REFERENCE_FILE_S = 30.0

# Short, common, clearly different English words (no homophones, no numbers): the code is two of them and a
# number from 21 to 99, about 5,000 x 79 = 400,000 combinations, read in under two seconds.
CODE_WORDS = (
    "amber", "anchor", "apple", "arrow", "autumn", "badge", "basket", "beacon", "bicycle", "blanket",
    "bottle", "bridge", "bucket", "butter", "cabin", "camera", "candle", "canyon", "carpet", "castle",
    "cherry", "circle", "cloud", "copper", "cotton", "desert", "dragon", "engine", "falcon", "feather",
    "forest", "garden", "ginger", "glacier", "hammer", "harbor", "helmet", "island", "jacket", "jungle",
    "kettle", "ladder", "lemon", "lantern", "magnet", "marble", "meadow", "mirror", "monkey", "mountain",
    "needle", "orange", "orchard", "oyster", "paddle", "parrot", "pepper", "pillow", "planet", "pocket",
    "puzzle", "rabbit", "ribbon", "river", "rocket", "saddle", "silver", "spider", "squirrel", "sunset",
    "tiger", "tomato", "tunnel", "turtle", "velvet", "violin", "wagon", "walnut", "window", "winter",
)


def generate_code() -> list[str]:
    """Two random code words and a number (21-99): what the speaker reads after the statement."""
    first, second = secrets.SystemRandom().sample(CODE_WORDS, 2)
    return [first, second, str(secrets.randbelow(79) + 21)]


class ConsentRequired(Forbidden):
    default_code = "consent_required"
    default_title = "Consent required"


class ConsentFailed(ServiceError):
    status = 422
    default_code = "consent_failed"
    default_title = "Consent not verified"


class TooManyAttempts(ServiceError):
    status = 429
    default_code = "too_many_consent_attempts"
    default_title = "Too many attempts"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def policy() -> str:
    return get_settings().consent


def _statement(name: str, code: str) -> str:
    return f"I, {name}, agree that voicesmith may create a synthetic copy of my voice. Code: {code}."


# Challenges -----------------------------------------------------------------------------------

def create_challenge(org_id: str, dataset_id: str | None, *, speaker_name: str | None = None,
                     api_key_id: str | None = None, generate: Callable[[], Sequence[str]] | None = None
                     ) -> ConsentChallenge:
    """A fresh challenge for a dataset (dataset_id None: for instant clones); supersedes the active one."""
    name = " ".join((speaker_name or "").split())[:200] or "the speaker"
    code = " ".join(str(w) for w in (generate or generate_code)())
    now = utcnow()
    with session_scope() as session:
        if dataset_id is not None:
            owned(session, org_id, dataset_id)
        session.execute(
            update(ConsentChallenge)
            .where(ConsentChallenge.org_id == org_id, _same_subject(dataset_id), ConsentChallenge.status == "active")
            .values(status="superseded")
            .execution_options(synchronize_session=False)
        )
        challenge = ConsentChallenge(id=new_id("consent_challenge"), org_id=org_id, dataset_id=dataset_id,
                                     speaker_name=name, code=code, statement=_statement(name, code),
                                     status="active", api_key_id=api_key_id, created_at=now,
                                     expires_at=now + timedelta(seconds=CHALLENGE_TTL_S))
        session.add(challenge)
    return challenge


def _same_subject(dataset_id: str | None):  # noqa: ANN202 (SQL expression)
    column = ConsentChallenge.dataset_id
    return column.is_(None) if dataset_id is None else column == dataset_id


def _challenge_for(session: Session, org_id: str, dataset_id: str | None, challenge_id: str | None
                   ) -> ConsentChallenge | None:
    stmt = select(ConsentChallenge).where(ConsentChallenge.org_id == org_id, _same_subject(dataset_id))
    if challenge_id:
        return session.scalar(stmt.where(ConsentChallenge.id == challenge_id))
    return session.scalar(stmt.order_by(ConsentChallenge.seq.desc()).limit(1))


# Attempts -------------------------------------------------------------------------------------

def _check_attempt_budget(session: Session, org_id: str, dataset_id: str | None) -> None:
    since = utcnow() - timedelta(seconds=ATTEMPT_WINDOW_S)
    subject = ConsentAttempt.dataset_id.is_(None) if dataset_id is None else ConsentAttempt.dataset_id == dataset_id
    recent = session.scalar(select(func.count()).select_from(ConsentAttempt).where(
        ConsentAttempt.org_id == org_id, subject, ConsentAttempt.created_at >= since)) or 0
    if recent >= MAX_ATTEMPTS:
        what = f"dataset {dataset_id}" if dataset_id else "instant clones in your organisation"
        raise TooManyAttempts(f"{MAX_ATTEMPTS} consent attempts were made for {what} in the last hour; "
                              "wait before trying again.")


@dataclass(frozen=True)
class Clip:
    """A consent recording: where its bytes are and what it was called."""

    path: Path
    filename: str
    sha256: str
    blob_key: str | None = None  # already in the blob store (a dataset upload)


def _decode(path: Path, filename: str) -> tuple[np.ndarray, int]:
    try:
        return load_audio(path)
    except AudioDecodeError as exc:
        raise InvalidRequest(f"The consent clip {filename} could not be read as audio ({exc}). Send wav, flac, "
                             "mp3, ogg, m4a or webm.", error_code="invalid_audio") from None


def _training_reference(dataset_id: str) -> np.ndarray:
    """The voice of a dataset's training audio: its analysed files' narrowband embeddings when the quality
    report has them, else embeddings of the first MAX_REFERENCE_FILES audio files."""
    from voicesmith.service.dataset_analysis import dataset_audio

    entries = dataset_audio(dataset_id) or []
    embeddings: list[np.ndarray] = []
    weights: list[float] = []
    to_embed = []
    for entry in entries:
        a = entry.analysis
        if isinstance(a, dict) and a.get("verdict") != "rejected":
            emb = a.get("embedding_narrowband") or (a.get("embedding") if (a.get("sample_rate") or 0) <= 8000 else None)
            if emb and a.get("embedded_seconds"):
                embeddings.append(np.asarray(emb, dtype=np.float32))
                weights.append(float(a["embedded_seconds"]))
                continue
        if a is None:
            to_embed.append(entry)
    for entry in to_embed[:MAX_REFERENCE_FILES]:
        try:
            audio, rate = load_audio(entry.path)
            embeddings.append(checks.voice_embedding(audio[: int(REFERENCE_FILE_S * rate)], rate))
            weights.append(min(len(audio) / rate, REFERENCE_FILE_S))
        except (AudioDecodeError, ValueError, OSError):
            continue
    if not embeddings:
        raise InvalidRequest(f"Dataset {dataset_id} has no training speech to compare the consent clip with; "
                             "upload the speaker's audio first.", error_code="dataset_empty")
    return checks.reference(embeddings, weights)


def _record(org_id: str, dataset_id: str | None, challenge_id: str | None, api_key_id: str | None, clip: Clip,
            *, reason_code: str | None, message: str, scores: checks.ClipCheck | None = None) -> ConsentAttempt:
    """Store an attempt; a verified one uses up its challenge (and fails if another attempt got there first)."""
    attempt_id = new_id("consent_attempt")
    key = clip.blob_key
    if key is None:
        prefix = f"datasets/{dataset_id}/consent" if dataset_id else f"consent/{org_id}"
        key = f"{prefix}/{attempt_id}"
        get_blob_store().put_bytes(key, clip.path.read_bytes())
    now = utcnow()
    with session_scope() as session:
        if reason_code is None:
            won = session.execute(
                update(ConsentChallenge)
                .where(ConsentChallenge.id == challenge_id, ConsentChallenge.status == "active")
                .values(status="used", used_at=now)
                .execution_options(synchronize_session=False)
            )
            if won.rowcount != 1:
                reason_code, message = "challenge_used", "This challenge was already used; ask for a new one."
        attempt = ConsentAttempt(
            id=attempt_id, org_id=org_id, dataset_id=dataset_id, challenge_id=challenge_id, api_key_id=api_key_id,
            created_at=now, verified=reason_code is None, reason_code=reason_code, message=message,
            filename=clip.filename[:500], sha256=clip.sha256, blob_key=key,
            transcript=scores.transcript if scores else None,
            code_score=round(scores.code.score, 4) if scores else None,
            statement_wer=round(scores.statement_wer, 4) if scores else None,
            similarity=round(scores.similarity, 4) if scores and scores.similarity is not None else None,
            threshold=scores.threshold if scores else None, seconds=round(scores.seconds, 2) if scores else None)
        session.add(attempt)
    return attempt


def _verify(org_id: str, dataset_id: str | None, clip: Clip, *, api_key_id: str | None,
            challenge_id: str | None, reference: Callable[[], np.ndarray]) -> ConsentAttempt:
    now = utcnow()
    with session_scope() as session:
        if dataset_id is not None:
            owned(session, org_id, dataset_id)
        _check_attempt_budget(session, org_id, dataset_id)
        challenge = _challenge_for(session, org_id, dataset_id, challenge_id)
        found = None if challenge is None else (challenge.id, challenge.status, _utc(challenge.expires_at),
                                                challenge.code, challenge.statement)
    subject = f"POST /datasets/{dataset_id}/consent-challenge" if dataset_id else "POST /voices/consent-challenge"
    if found is None:
        return _record(org_id, dataset_id, None, api_key_id, clip, reason_code="no_challenge",
                       message=f"There is no consent challenge to answer; ask for one with {subject}.")
    cid, status, expires_at, code, statement = found
    if status == "used":
        return _record(org_id, dataset_id, cid, api_key_id, clip, reason_code="challenge_used",
                       message=f"This challenge was already answered; ask for a new one with {subject}.")
    if status == "synthesised":
        return _record(org_id, dataset_id, cid, api_key_id, clip, reason_code="challenge_synthesised",
                       message="This server was asked to speak words of this challenge's code with a cloned voice "
                       "after the challenge was issued, so no recording of it can show a live reading; ask for a "
                       f"new one with {subject}.")
    if status != "active":
        return _record(org_id, dataset_id, cid, api_key_id, clip, reason_code="challenge_superseded",
                       message=f"A newer challenge replaced this one; read the newest statement ({subject}).")
    if now > expires_at:
        return _record(org_id, dataset_id, cid, api_key_id, clip, reason_code="challenge_expired",
                       message=f"The challenge expired at {expires_at:%H:%M:%S} UTC; ask for a new one with {subject}.")
    audio, rate = _decode(clip.path, clip.filename)
    scores = checks.check_clip(audio, rate, code_words=code.split(), statement=statement,
                               reference_embedding=reference())
    reason, message = None, "Consent verified."
    if not scores.text_ok:
        reason = "code_mismatch"
        message = (f"The code words were not heard in the recording ({scores.code.matched} of {len(scores.code.code)} "
                   f"found; heard: {scores.transcript!r}). Read the whole statement, code included, clearly.")
    if not scores.speaker_ok:
        sim = "no voice found" if scores.similarity is None else f"similarity {scores.similarity:.2f}"
        speaker_message = (f"The voice in the recording does not match the training speech ({sim}, needs "
                           f"{scores.threshold:.2f}): the person whose voice is cloned must read the statement.")
        reason = reason or "speaker_mismatch"
        message = speaker_message if reason == "speaker_mismatch" else f"{message} {speaker_message}"
    return _record(org_id, dataset_id, cid, api_key_id, clip, reason_code=reason, message=message, scores=scores)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_dataset_clip(org_id: str, dataset_id: str, data: bytes, filename: str, *, api_key_id: str | None = None,
                        challenge_id: str | None = None) -> ConsentAttempt:
    """Check a consent recording for a dataset (POST /datasets/{id}/consent); returns the stored attempt."""
    if not data:
        raise InvalidRequest("The consent clip is empty.", error_code="empty_file")
    with tempfile.NamedTemporaryFile(suffix=Path(filename).suffix[:16] or ".bin") as tmp:
        tmp.write(data)
        tmp.flush()
        clip = Clip(Path(tmp.name), filename, hashlib.sha256(data).hexdigest())
        return _verify(org_id, dataset_id, clip, api_key_id=api_key_id, challenge_id=challenge_id,
                       reference=lambda: _training_reference(dataset_id))


def verify_upload(upload: PendingUpload, filename: str, *, api_key_id: str | None = None) -> ConsentAttempt:
    """A dataset file uploaded with purpose=consent: kept with the attempt (under the dataset, so deleting the
    dataset deletes it), never used for training. Raises ConsentFailed when it does not verify."""
    if upload.writer.size == 0:
        upload.abort()
        raise InvalidRequest("The uploaded file is empty.", error_code="empty_file")
    info = upload.writer.commit()
    store = get_blob_store()
    try:
        clip = Clip(store.local_path(info.key), filename, info.sha256, blob_key=info.key)
        attempt = _verify(upload.org_id, upload.dataset_id, clip, api_key_id=api_key_id, challenge_id=None,
                          reference=lambda: _training_reference(upload.dataset_id))
    except BaseException:
        store.delete(info.key)
        raise
    if not attempt.verified:
        raise ConsentFailed(f"{attempt.message} (attempt {attempt.id})")
    return attempt


@dataclass(frozen=True)
class CloneConsent:
    consent: str  # verified | unverified
    attempt_id: str | None = None


def clone_consent(org_id: str, clone_audio: np.ndarray, clone_rate: int, clip: bytes | None, filename: str, *,
                  api_key_id: str | None = None, challenge_id: str | None = None) -> CloneConsent:
    """The consent behind an instant clone: the consent recording must answer the organisation's clone
    challenge in the voice of the clip being cloned. Without a recording: ConsentRequired under `require`,
    unverified under `record`. A recording that fails is ConsentFailed under either policy."""
    if not clip:
        if policy() == "require":
            raise ConsentRequired(
                "This server requires the speaker's spoken consent for instant clones: ask for a statement with "
                "POST /voices/consent-challenge, record the speaker reading it, and send the recording as the "
                "'consent' field of POST /voices/clone.")
        return CloneConsent("unverified")
    with tempfile.NamedTemporaryFile(suffix=Path(filename).suffix[:16] or ".bin") as tmp:
        tmp.write(clip)
        tmp.flush()
        recording = Clip(Path(tmp.name), filename, hashlib.sha256(clip).hexdigest())

        def reference() -> np.ndarray:
            try:
                return checks.reference([checks.voice_embedding(clone_audio, clone_rate)])
            except ValueError:
                raise InvalidRequest("The clip to clone holds too little voice to compare with the consent "
                                     "recording.", error_code="unclonable_clip") from None

        attempt = _verify(org_id, None, recording, api_key_id=api_key_id, challenge_id=challenge_id,
                          reference=reference)
    if not attempt.verified:
        raise ConsentFailed(f"{attempt.message} (attempt {attempt.id})")
    return CloneConsent("verified", attempt.id)


# Policy ---------------------------------------------------------------------------------------

def verified_attempt(session: Session, org_id: str, dataset_id: str) -> ConsentAttempt | None:
    """The dataset's newest verified consent attempt, if any."""
    return session.scalar(select(ConsentAttempt).where(
        ConsentAttempt.org_id == org_id, ConsentAttempt.dataset_id == dataset_id, ConsentAttempt.verified.is_(True)
    ).order_by(ConsentAttempt.seq.desc()).limit(1))


def fine_tune_consent(session: Session, org_id: str, dataset_id: str) -> tuple[str, str | None]:
    """(consent, attempt id) for a fine-tune about to be created on a dataset; ConsentRequired under `require`
    when the dataset has no verified consent."""
    attempt = verified_attempt(session, org_id, dataset_id)
    if attempt is not None:
        return "verified", attempt.id
    if policy() == "require":
        raise ConsentRequired(
            f"This server requires the speaker's spoken consent before training on dataset {dataset_id}: ask for "
            f"a statement with POST /datasets/{dataset_id}/consent-challenge, record the speaker reading it, and "
            f"upload the recording with POST /datasets/{dataset_id}/consent (or as a file with purpose=consent).")
    return "unverified", None


def status(org_id: str, dataset_id: str) -> dict:
    """The dataset's consent as the API shows it: policy, verdict, active challenge, recent attempts."""
    now = utcnow()
    with session_scope() as session:
        owned(session, org_id, dataset_id)
        verified = verified_attempt(session, org_id, dataset_id)
        challenge = _challenge_for(session, org_id, dataset_id, None)
        attempts = session.scalars(select(ConsentAttempt).where(
            ConsentAttempt.org_id == org_id, ConsentAttempt.dataset_id == dataset_id
        ).order_by(ConsentAttempt.seq.desc()).limit(20)).all()
        active = challenge if challenge is not None and challenge.status == "active" \
            and _utc(challenge.expires_at) >= now else None
        return {"dataset_id": dataset_id, "policy": policy(),
                "consent": "verified" if verified is not None else "unverified",
                "verified_attempt_id": verified.id if verified is not None else None,
                "challenge": active, "attempts": list(attempts)}



def note_synthesis(text: str, *, voice_kind: str) -> int:
    """This server is about to speak `text` with a voice of kind `voice_kind`. Unless it is a stock voice (no
    real person's), every active challenge whose code words it holds (engine.consent.mentions_code) is marked
    `synthesised` and can no longer verify. Any organisation's request counts: whoever holds a clone of a voice
    may hold an account of their own. Returns how many challenges were spent."""
    if voice_kind == "stock" or not text.strip():
        return 0
    now = utcnow()
    with session_scope() as session:
        rows = session.execute(select(ConsentChallenge.id, ConsentChallenge.code, ConsentChallenge.expires_at)
                               .where(ConsentChallenge.status == "active")).all()
        hit = [cid for cid, code, expires_at in rows
               if _utc(expires_at) >= now and checks.mentions_code(code, text)]
        if hit:
            session.execute(update(ConsentChallenge)
                            .where(ConsentChallenge.id.in_(hit), ConsentChallenge.status == "active")
                            .values(status="synthesised").execution_options(synchronize_session=False))
    return len(hit)
