"""The database schema. Every change here gets an Alembic migration in store/migrations/versions/."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; everything voicesmith writes is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Credits the organisation owns; `credits_reserved` is held by fine-tunes still running.
    credits_balance: Mapped[int] = mapped_column(BigInteger)
    credits_reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a UUID, never the secret
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the secret
    prefix: Mapped[str] = mapped_column(String(32))  # first characters, to recognise a key in listings
    description: Mapped[str] = mapped_column(String(500), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Dataset(Base):
    __tablename__ = "datasets"
    # seq orders every listing: ids are random, and created_at can tie.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The quality report (engine.dataset_report): None until analysed; status pending|ready|failed.
    report_status: Mapped[str] = mapped_column(String(16), default="pending")
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    report_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DatasetFile(Base):
    __tablename__ = "dataset_files"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    purpose: Mapped[str] = mapped_column(String(32), default="fine_tune")
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    blob_key: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Per-file verdict from ingest (usable seconds, SNR, reasons...), filled by the analysis job.
    analysis: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class FineTune(Base):
    __tablename__ = "fine_tunes"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(String(64), index=True)  # kept even if the dataset is deleted later
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str] = mapped_column(String(100))  # as the client sent it
    engine_model: Mapped[str] = mapped_column(String(100))  # the voicesmith engine it resolved to
    accent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # created -> training -> completed | failed (the Cartesia enum); stage/progress say where training is.
    status: Mapped[str] = mapped_column(String(16), default="created", index=True)
    stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    credits_reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_charged: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Job bookkeeping: the database, not the broker, is the job's truth.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    params: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # training budget and options
    # Consent of the dataset's speaker when the fine-tune was created (service/consent.py): verified | unverified,
    # the verified attempt behind it, and the API key that asked for the fine-tune.
    consent: Mapped[str] = mapped_column(String(16), default="unverified", server_default="unverified")
    consent_attempt_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    api_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Voice(Base):
    __tablename__ = "voices"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)  # UUID
    org_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"), nullable=True, index=True)
    fine_tune_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # stock | clone | fine_tune | localized
    name: Mapped[str] = mapped_column(String(500))
    tagline: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16), default="en")
    gender: Mapped[str | None] = mapped_column(String(32), nullable=True)
    accent: Mapped[str | None] = mapped_column(String(100), nullable=True)
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    engine_model: Mapped[str] = mapped_column(String(100))
    artifact_key: Mapped[str] = mapped_column(String(300))  # blob holding engine.voice.VoiceArtifact bytes
    preview_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Provenance (service/consent.py): verified | unverified | stock; the dataset or clip the voice was made
    # from, the consent attempt that verified it, and the API key that created it.
    consent: Mapped[str] = mapped_column(String(16), default="unverified", server_default="unverified")
    consent_attempt_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_dataset_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_clip: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # {filename, sha256, seconds}
    created_by_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ConsentChallenge(Base):
    """A statement with a random code for the speaker to read aloud (one active per dataset, or per
    organisation for instant clones: dataset_id None)."""

    __tablename__ = "consent_challenges"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    dataset_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    speaker_name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(200))  # the code words, spelled out, space separated
    statement: Mapped[str] = mapped_column(Text)
    # active -> used (a verified attempt consumed it) | superseded (a newer challenge replaced it)
    #        | synthesised (this server spoke its code words with a cloned voice meanwhile)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConsentAttempt(Base):
    """One consent clip checked against a challenge, with its scores (kept after the audio is deleted)."""

    __tablename__ = "consent_attempts"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    dataset_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    challenge_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    api_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    reason_code: Mapped[str | None] = mapped_column(String(64), nullable=True)  # why it failed
    message: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # share of code words heard in order
    statement_wer: Mapped[float | None] = mapped_column(Float, nullable=True)
    similarity: Mapped[float | None] = mapped_column(Float, nullable=True)  # cosine to the training speech
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    filename: Mapped[str] = mapped_column(String(500), default="")
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    blob_key: Mapped[str | None] = mapped_column(String(300), nullable=True)  # None once the audio is deleted


class UsageEvent(Base):
    __tablename__ = "usage_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # tts | fine_tune
    quantity: Mapped[int] = mapped_column(BigInteger)  # characters, or 1 fine-tune
    credits: Mapped[int] = mapped_column(BigInteger)
    ref_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
