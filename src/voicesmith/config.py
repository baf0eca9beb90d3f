"""All of the server's settings, read from the environment in one place.

Each setting is a field of `Settings` with its default written once, there; `VOICESMITH_<FIELD>` in the
environment overrides it (`VOICESMITH_DATA` for data_dir). The engine's own knobs (threads, device) are
read in engine/settings.py, and the client's (base URL, key) in client/config.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path


CONSENT_POLICIES = ("record", "require")


@dataclass(frozen=True)
class Settings:
    # Where the embedded defaults keep everything (VOICESMITH_DATA).
    data_dir: Path = Path("./data")
    # Default: SQLite in the data dir.
    database_url: str | None = None
    # Default: kombu's SQLAlchemy transport on SQLite in the data dir; scale-out: redis://...
    broker_url: str | None = None
    # Default: <data_dir>/blobs.
    blob_dir: Path | None = None
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
    # Synthesis steps run at once in the API process (None: as many as the cores hold without oversubscribing).
    tts_workers: int | None = None
    # An open TTS WebSocket with no message in either direction for this long is closed (Cartesia's 5 minutes).
    ws_idle_timeout_s: float = 300.0
    # A training job whose heartbeat is older than this is dispatched again.
    heartbeat_timeout_s: float = 60.0
    # A fine-tune whose worker died this many times is failed instead of dispatched again.
    max_job_attempts: int = 3
    # A worker pool process that grew past this (KiB) after a job is replaced by a fresh one.
    worker_max_memory_kb: int = 6 * 1024 * 1024
    # The module the worker processes run Celery on: it registers the tasks (and may choose the trainer).
    worker_app: str = "voicesmith.worker.tasks"
    # Secret for access tokens (JWT HS256); generated into the data dir when not given.
    token_secret: str | None = None
    # Consent policy (service/consent.py, docs/consent.md): "record" marks voices made without a verified spoken
    # consent as unverified; "require" refuses fine-tunes and instant clones without one (403 consent_required).
    consent: str = "record"

    def __post_init__(self) -> None:
        # The defaults that live in the data directory, filled in once it is known.
        data = Path(self.data_dir).resolve()
        object.__setattr__(self, "data_dir", data)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data / 'voicesmith.db'}")
        if not self.broker_url:
            object.__setattr__(self, "broker_url", f"sqla+sqlite:///{data / 'broker.db'}")
        object.__setattr__(self, "blob_dir", Path(self.blob_dir or data / "blobs").resolve())
        object.__setattr__(self, "tts_concurrency", max(1, self.tts_concurrency))
        if self.tts_workers is not None:
            object.__setattr__(self, "tts_workers", max(1, self.tts_workers))
        consent = self.consent.strip().lower()
        if consent not in CONSENT_POLICIES:
            raise ValueError(f"{env_name('consent')} must be one of {', '.join(CONSENT_POLICIES)} (got {consent!r})")
        object.__setattr__(self, "consent", consent)


def env_name(field_name: str) -> str:
    return "VOICESMITH_DATA" if field_name == "data_dir" else f"VOICESMITH_{field_name.upper()}"


def _parse(kind: str, raw: str) -> object:
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    if "Path" in kind:
        return Path(raw)
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {}
    for f in fields(Settings):
        raw = os.environ.get(env_name(f.name))
        if raw not in (None, ""):
            values[f.name] = _parse(str(f.type), raw)
    return Settings(**values)
