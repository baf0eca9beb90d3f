"""All of voicesmith's settings, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


CONSENT_POLICIES = ("record", "require")


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)} (got {raw!r})")
    return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    blob_dir: Path
    # Credits: a fresh organisation's balance and what one fine-tune costs (charged on completion only).
    initial_credits: int = 1_000_000_000
    fine_tune_cost: int = 1_000_000
    # Minimum usable speech (seconds) before a fine-tune may start.
    min_usable_speech_s: float = 60.0
    # Largest accepted upload, in bytes.
    max_upload_bytes: int = 2 * 1024**3
    # Longest TTS transcript, in characters.
    max_transcript_chars: int = 5000
    # TTS generations one organisation may run at once: each /tts/bytes or /tts/sse request and each open
    # WebSocket context counts one; more get 429. Open WebSockets are capped at 10x this. Streams share the CPU
    # chunk by chunk, so more concurrency only makes every stream slower (on the 2-core dev machine one stream
    # runs at RTF ~0.5, docs/benchmarks.md); 4 lets a client pipeline a few streams, and past that a fast 429
    # (which the SDKs retry) beats stuttering. Raise it on bigger hardware.
    tts_concurrency: int = 4
    # An open TTS WebSocket with no message in either direction for this long is closed (the contract's 5 min).
    ws_idle_timeout_s: float = 300.0
    # A training job whose heartbeat is older than this is dispatched again.
    heartbeat_timeout_s: float = 60.0
    # A fine-tune whose worker died this many times is failed instead of dispatched again.
    max_job_attempts: int = 3
    # Secret for access tokens (JWT HS256); generated into the data dir when not given.
    token_secret: str | None = None
    # Consent policy (service/consent.py, docs/consent.md): "record" marks voices made without a verified spoken
    # consent as unverified; "require" refuses fine-tunes and instant clones without one (403 consent_required).
    consent: str = "record"
    extra: dict[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(os.environ.get("VOICESMITH_DATA", "./data")).resolve()
    db_url = os.environ.get("VOICESMITH_DATABASE_URL") or f"sqlite:///{data_dir / 'voicesmith.db'}"
    broker = os.environ.get("VOICESMITH_BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.db'}"
    return Settings(
        data_dir=data_dir,
        database_url=db_url,
        broker_url=broker,
        blob_dir=Path(os.environ.get("VOICESMITH_BLOB_DIR", str(data_dir / "blobs"))).resolve(),
        initial_credits=_int("VOICESMITH_INITIAL_CREDITS", 1_000_000_000),
        fine_tune_cost=_int("VOICESMITH_FINE_TUNE_COST", 1_000_000),
        min_usable_speech_s=_float("VOICESMITH_MIN_USABLE_SPEECH_S", 60.0),
        max_upload_bytes=_int("VOICESMITH_MAX_UPLOAD_BYTES", 2 * 1024**3),
        max_transcript_chars=_int("VOICESMITH_MAX_TRANSCRIPT_CHARS", 5000),
        tts_concurrency=max(1, _int("VOICESMITH_TTS_CONCURRENCY", 4)),
        ws_idle_timeout_s=_float("VOICESMITH_WS_IDLE_TIMEOUT_S", 300.0),
        heartbeat_timeout_s=_float("VOICESMITH_HEARTBEAT_TIMEOUT_S", 60.0),
        max_job_attempts=_int("VOICESMITH_MAX_JOB_ATTEMPTS", 3),
        token_secret=os.environ.get("VOICESMITH_TOKEN_SECRET") or None,
        consent=_choice("VOICESMITH_CONSENT", CONSENT_POLICIES, "record"),
    )

