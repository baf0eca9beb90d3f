"""API keys (hashed at rest) and access tokens."""

from __future__ import annotations

import hashlib

import pytest


def test_keys_are_stored_hashed(store_env):
    from sqlalchemy import select

    from voicesmith.service import keys
    from voicesmith.store.db import session_scope
    from voicesmith.store.models import ApiKey

    row, secret = keys.create_key("hashorg", "d", is_admin=True)
    assert secret.startswith("sk_vs_admin_")
    with session_scope() as s:
        stored = s.scalar(select(ApiKey).where(ApiKey.id == row.id))
        assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in (stored.key_hash, stored.prefix, stored.description)
        owner = keys.authenticate(s, secret)
        assert owner.is_admin and owner.org_name == "hashorg"
        assert keys.authenticate(s, secret + "x") is None


def test_bootstrap_key_only_on_a_fresh_install(store_env):
    from voicesmith import admin
    from voicesmith.service import keys

    first = admin.ensure_bootstrap_key()
    assert first and first.startswith("sk_vs_admin_")
    assert admin.ensure_bootstrap_key() is None
    assert [(k.is_admin, org) for k, org in keys.list_keys()] == [(True, "default")]


def test_token_roundtrip_and_tampering(store_env):
    from voicesmith.service import tokens

    token = tokens.issue("org_1", "key_1", {"tts": True}, 60)
    claims = tokens.verify(token)
    assert (claims.org_id, claims.api_key_id, claims.grants) == ("org_1", "key_1", {"tts": True})
    head, payload, sig = token.split(".")
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(f"{head}.{payload}.{sig[:-2]}AA")
    # the secret lives in the data dir, private, and is reused
    secret_file = store_env / "token_secret"
    assert secret_file.stat().st_mode & 0o077 == 0
    assert tokens.verify(tokens.issue("org_1", "key_1", {}, 60)).grants == {}
