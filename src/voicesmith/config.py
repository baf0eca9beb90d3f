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


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    broker_url: str
    blob_dir: Path
    # Where blobs (uploads, voice artifacts, checkpoints) live: None for the filesystem at blob_dir, or
    # "s3://bucket/prefix" for an S3-compatible object store (VOICESMITH_BLOB_URL). The S3 endpoint, region and
    # credentials are boto3's own standard variables (AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_PROFILE...), read by boto3, not here.
    blob_url: str | None = None
    # With an object store: the node-local copy of the blobs this node read (the engine takes file paths), and
    # the size it is trimmed back to (least recently used first).
    blob_cache_dir: Path = Path("blob-cache")
    blob_cache_bytes: int = 20 * 1024**3
    # With an object store: how often a running fine-tune copies its new checkpoint files there (seconds; 0 = never),
    # so that another machine resumes the job from them.
    checkpoint_sync_s: float = 30.0
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
    # With a Redis broker, the TTS limits are counted in Redis, across every API process. A process's slots are
    # held by a lease it renews every third of this; a process that dies frees its slots this long after.
    tts_lease_ttl_s: float = 15.0
    # An open TTS WebSocket with no message in either direction for this long is closed (the contract's 5 min).
    ws_idle_timeout_s: float = 300.0
    # A training job whose heartbeat is older than this is dispatched again.
    heartbeat_timeout_s: float = 60.0
    # A fine-tune whose worker died this many times is failed instead of dispatched again.
    max_job_attempts: int = 3
    # Secret for access tokens (JWT HS256); generated into the data dir when not given.
    token_secret: str | None = None
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
        blob_url=os.environ.get("VOICESMITH_BLOB_URL") or None,
        blob_cache_dir=Path(os.environ.get("VOICESMITH_BLOB_CACHE_DIR", str(data_dir / "blob-cache"))).resolve(),
        blob_cache_bytes=_int("VOICESMITH_BLOB_CACHE_BYTES", 20 * 1024**3),
        checkpoint_sync_s=_float("VOICESMITH_CHECKPOINT_SYNC_S", 30.0),
        tts_lease_ttl_s=max(1.0, _float("VOICESMITH_TTS_LEASE_TTL_S", 15.0)),
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
    )

