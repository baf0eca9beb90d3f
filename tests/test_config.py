"""config.py: the consent policy setting (VOICESMITH_CONSENT) as get_settings() reads it."""

from __future__ import annotations

import pytest

from voicesmith.config import Settings, get_settings


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield get_settings
    get_settings.cache_clear()


def test_consent_defaults_to_record_and_reads_the_environment(monkeypatch, fresh_settings) -> None:
    monkeypatch.delenv("VOICESMITH_CONSENT", raising=False)
    assert fresh_settings().consent == "record"
    monkeypatch.setenv("VOICESMITH_CONSENT", " Require ")
    fresh_settings.cache_clear()
    assert fresh_settings().consent == "require"


def test_an_unknown_consent_policy_is_refused_with_the_variable_named(monkeypatch, fresh_settings) -> None:
    monkeypatch.setenv("VOICESMITH_CONSENT", "maybe")
    with pytest.raises(ValueError, match="VOICESMITH_CONSENT must be one of record, require"):
        fresh_settings()
    with pytest.raises(ValueError, match="got 'off'"):
        Settings(consent="off")
