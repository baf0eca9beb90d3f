"""Where the CLI takes its server URL and API key from, in the documented order."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicesmith.client import credentials
from voicesmith.client.config import DEFAULT_BASE_URL, KEY_ENV_VARS, ConfigError, resolve_api_key, resolve_base_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in (*KEY_ENV_VARS, "VOICESMITH_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_base_url_flag_then_env_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_base_url(None) == DEFAULT_BASE_URL
    monkeypatch.setenv("VOICESMITH_BASE_URL", "http://env:9/")
    assert resolve_base_url(None) == "http://env:9"
    assert resolve_base_url("https://flag:1") == "https://flag:1"
    with pytest.raises(ConfigError, match="http://"):
        resolve_base_url("localhost:8000")


def test_api_key_order(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:8000"
    with pytest.raises(ConfigError, match="no API key"):
        resolve_api_key(None, url)
    credentials.save(url, "saved")
    assert resolve_api_key(None, url) == "saved"
    # The later a variable is in KEY_ENV_VARS, the weaker it is.
    for name in reversed(KEY_ENV_VARS):
        monkeypatch.setenv(name, name.lower())
        assert resolve_api_key(None, url) == name.lower()
    assert resolve_api_key("flag", url) == "flag"


def test_saved_key_is_per_server_and_found_under_a_loopback_alias() -> None:
    credentials.save("http://0.0.0.0:8000", "local")
    assert resolve_api_key(None, "http://localhost:8000") == "local"
    with pytest.raises(ConfigError):
        resolve_api_key(None, "http://example.org:8000")
