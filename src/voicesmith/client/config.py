"""Where the CLI finds its server and API key.

Base URL: --base-url, then VOICESMITH_BASE_URL, then the local default server.
API key: --api-key, then VOICESMITH_API_KEY, CARTESIA_API_KEY, CARTESIA_API_TOKEN (in that order: the
seed script reads CARTESIA_API_KEY while its docs say CARTESIA_API_TOKEN, so both work), then the key
that a local `voicesmith serve` saved for that base URL.
"""

from __future__ import annotations

import os
from pathlib import Path

from voicesmith.client import credentials

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
KEY_ENV_VARS = ("VOICESMITH_API_KEY", "CARTESIA_API_KEY", "CARTESIA_API_TOKEN")


class ConfigError(Exception):
    """The CLI lacks something it needs to talk to the server (said in one line)."""


def app_dir() -> Path:
    """The user's voicesmith config directory, shared with the saved credentials."""
    return credentials.config_dir()


def resolve_base_url(flag: str | None) -> str:
    url = flag or os.environ.get("VOICESMITH_BASE_URL") or DEFAULT_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"base URL must start with http:// or https:// (got {url!r})")
    return url.rstrip("/")


def resolve_api_key(flag: str | None, base_url: str) -> str:
    if flag:
        return flag
    for name in KEY_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    saved = credentials.load(base_url)
    if saved:
        return saved
    raise ConfigError(
        f"no API key for {base_url}: pass --api-key or set VOICESMITH_API_KEY "
        "(create one with `voicesmith keys create` on the server)"
    )
