"""Authentication: API keys in both headers, access tokens only on /tts, admin-only endpoints."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient

from voicesmith.api.auth import Principal, authenticate, tts_principal
from voicesmith.api.errors import RequestContextMiddleware, install_error_handlers


def test_x_api_key_and_bearer_both_work(api):
    key = api.key("authorg")
    assert api.client.get("/datasets", headers={"X-API-Key": key}).status_code == 200
    assert api.client.get("/datasets", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert api.client.get("/datasets", headers={"authorization": f"bearer {key}"}).status_code == 200


@pytest.mark.parametrize("headers", [
    {}, {"X-API-Key": "sk_vs_wrong"}, {"Authorization": "Bearer sk_vs_wrong"}, {"Authorization": "Basic abc"},
    {"Authorization": "Bearer "},
])
def test_missing_or_bad_credentials_are_401(api, headers):
    r = api.client.get("/datasets", headers=headers)
    assert r.status_code == 401
    body = r.json()
    assert body["error_code"] == "unauthorized" and body["message"] and body["request_id"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_query_key_is_not_accepted_on_http(api):
    assert api.client.get("/datasets", params={"api_key": api.key()}).status_code == 401


def test_status_needs_no_auth(api):
    r = api.client.get("/")
    assert r.status_code == 200 and r.json() == {"ok": True, "version": "2026-08-14"}


def test_revoked_key_is_401(api):
    from voicesmith.service import keys

    key = api.key("revoker")
    assert api.client.get("/datasets", headers={"X-API-Key": key}).status_code == 200
    key_id = keys.list_keys(api.org_id("revoker"))[0][0].id
    assert keys.revoke_key(key_id) is True
    assert api.client.get("/datasets", headers={"X-API-Key": key}).status_code == 401


def _token(api, org="tok", **body):
    r = api.client.post("/access-token", json=body, headers=api.h(org))
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_access_token_format(api):
    token = _token(api, grants={"tts": True}, expires_in=60)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["kid"]
    assert claims["grants"] == {"tts": True, "stt": False, "agent": False}
    assert claims["iss"] == "https://api.cartesia.ai" and claims["jti"]
    assert claims["exp"] - claims["iat"] == 60
    r = api.client.post("/access-token", json={"expires_in": 3601}, headers=api.h("tok"))
    assert r.status_code == 422 and "expires_in" in r.json()["message"]


def test_access_tokens_are_refused_outside_tts(api):
    token = _token(api, grants={"tts": True})
    r = api.client.get("/datasets", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "/tts" in r.json()["message"]
    r = api.client.post("/access-token", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.fixture(scope="module")
def tts_probe(api):
    """A stand-in /tts route guarded exactly like the real ones (tts_principal)."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/tts/probe")
    def probe(principal: Principal = Depends(tts_principal)) -> dict:
        return {"org_id": principal.org_id, "via_token": principal.via_token}

    @app.websocket("/tts/ws")
    async def ws(websocket: WebSocket) -> None:
        principal = authenticate(websocket, allow_token=True, grant="tts")
        await websocket.accept()
        await websocket.send_json({"org_id": principal.org_id})
        await websocket.close()

    return TestClient(app)


def test_tts_takes_tokens_with_the_grant(api, tts_probe):
    ok = _token(api, "tok", grants={"tts": True})
    r = tts_probe.get("/tts/probe", headers={"Authorization": f"Bearer {ok}"})
    assert r.status_code == 200 and r.json() == {"org_id": api.org_id("tok"), "via_token": True}
    no_grant = _token(api, "tok", grants={"stt": True})
    r = tts_probe.get("/tts/probe", headers={"Authorization": f"Bearer {no_grant}"})
    assert r.status_code == 403 and r.json()["error_code"] == "permission_denied"
    assert tts_probe.get("/tts/probe", headers={"X-API-Key": api.key("tok")}).json()["via_token"] is False
    with tts_probe.websocket_connect(f"/tts/ws?access_token={ok}") as ws:
        assert ws.receive_json() == {"org_id": api.org_id("tok")}
    with tts_probe.websocket_connect(f"/tts/ws?api_key={api.key('tok')}") as ws:
        assert ws.receive_json() == {"org_id": api.org_id("tok")}


def test_expired_tampered_and_revoked_tokens(api, tts_probe):
    from voicesmith.service import keys, tokens

    expired = tokens.issue(api.org_id("tok"), "whatever", {"tts": True}, expires_in=1)
    time.sleep(1.1)
    r = tts_probe.get("/tts/probe", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["message"]
    forged = jwt.encode({"sub": api.org_id("tok"), "akid": "x", "grants": {"tts": True}, "iat": int(time.time()),
                         "exp": int(time.time()) + 60, "iss": tokens.ISSUER}, "a-different-secret-of-thirty-two-bytes!", algorithm="HS256")
    assert tts_probe.get("/tts/probe", headers={"Authorization": f"Bearer {forged}"}).status_code == 401

    key = api.key("tokrev")
    token = api.client.post("/access-token", json={"grants": {"tts": True}}, headers={"X-API-Key": key}).json()["token"]
    assert tts_probe.get("/tts/probe", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    keys.revoke_key(keys.list_keys(api.org_id("tokrev"))[0][0].id)
    r = tts_probe.get("/tts/probe", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_admin_endpoints_need_an_admin_key(api):
    for path in ("/usage/credits", "/api-keys"):
        r = api.client.get(path, headers=api.h("adm"))
        assert r.status_code == 403 and r.json()["error_code"] == "permission_denied"
        assert api.client.get(path, headers=api.h("adm", admin=True)).status_code == 200
