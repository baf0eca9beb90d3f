"""API keys saved for the local user, one per server base URL.

`voicesmith serve` saves the key it creates on first start here, and the CLI reads it, so a local
user never copies keys by hand. The file is `$XDG_CONFIG_HOME/voicesmith/credentials.json`
(default `~/.config/voicesmith/`), readable by its owner only (0600) because it holds secrets.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

# A server listening on a wildcard or loopback address is reached by clients as localhost or 127.0.0.1.
_LOOPBACK = ("127.0.0.1", "localhost", "0.0.0.0", "::", "[::]", "::1", "[::1]")


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "voicesmith"


def credentials_path() -> Path:
    return config_dir() / "credentials.json"


def normalize_base_url(base_url: str) -> str:
    """Scheme and host lower-cased, explicit port, no trailing slash: one spelling per server."""
    parts = urlsplit(base_url.strip())
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if scheme == "https" else 80)
    if ":" in host:
        host = f"[{host}]"
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}:{port}{path}"


def _aliases(base_url: str) -> list[str]:
    """The spellings a local client may use for the same server (loopback and wildcard addresses)."""
    norm = normalize_base_url(base_url)
    parts = urlsplit(norm)
    host = parts.hostname or ""
    if host not in {h.strip("[]") for h in _LOOPBACK}:
        return [norm]
    return [norm] + [
        normalize_base_url(f"{parts.scheme}://{alias}:{parts.port}{parts.path}")
        for alias in ("127.0.0.1", "localhost")
        if alias != host
    ]


def _read() -> dict:
    try:
        data = json.loads(credentials_path().read_text())
    except (FileNotFoundError, ValueError):
        return {"servers": {}}
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        return {"servers": {}}
    return data


def save(base_url: str, key: str) -> Path:
    """Remember `key` for the server at `base_url` (and its loopback aliases). Returns the file written."""
    data = _read()
    entry = {"api_key": key, "saved_at": datetime.now(timezone.utc).isoformat()}
    for url in _aliases(base_url):
        data["servers"][url] = entry
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written to a 0600 temp file and renamed, so the secret is never world-readable, even briefly.
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".credentials-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, credentials_path())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return credentials_path()


def load(base_url: str) -> str | None:
    """The key saved for `base_url`, or None."""
    servers = _read()["servers"]
    for url in _aliases(base_url):
        entry = servers.get(url)
        if isinstance(entry, dict) and isinstance(entry.get("api_key"), str):
            return entry["api_key"]
    return None
