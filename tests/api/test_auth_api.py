"""Authentication: API keys in both headers, access tokens only on /tts, admin-only endpoints."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import Depends, FastAPI, WebSocket
from fastapi.testclient import TestClient

from voicesmith.api.auth import Principal, authenticate, tts_principal
from voicesmith.api.errors import RequestContextMiddleware, install_error_handlers
from voicesmith.api.routes.tts_websocket import CREDENTIAL_RECHECK_S


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


def test_keys_are_stored_hashed_nowhere_in_the_clear(api):
    """The secret appears in no byte of the data directory (database, WAL, blobs): only its sha256 is kept."""
    key = api.key("hashed")
    assert api.client.get("/datasets", headers={"X-API-Key": key}).status_code == 200
    from voicesmith.store.db import dispose_engines

    dispose_engines()  # checkpoint: whatever SQLite holds is in the files now
    secret = key.encode()
    for path in api.data_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), f"the API key's secret is stored in {path.name}"


def _ws_generation_text(context_id: str) -> str:
    import json

    return json.dumps({"context_id": context_id, "transcript": "", "continue": False})


def test_revoked_key_is_refused_on_an_open_websocket_within_a_second(api):
    from voicesmith.service import keys

    key = api.key("ws-revoker")
    with api.client.websocket_connect("/tts/websocket", headers={"X-API-Key": key}) as ws:
        ws.send_text(_ws_generation_text("before"))
        assert ws.receive_json()["type"] == "done"
        assert keys.revoke_key(keys.list_keys(api.org_id("ws-revoker"))[0][0].id) is True
        time.sleep(CREDENTIAL_RECHECK_S + 0.1)  # the socket looks the key up again at most once a second
        ws.send_text(_ws_generation_text("after"))
        event = ws.receive_json()
        assert (event["type"], event["status_code"], event["error_code"]) == ("error", 401, "unauthorized"), event
        assert "revoked" in event["message"]
        closed = ws.receive()
        assert closed["type"] == "websocket.close" and closed["code"] == 1008
    r = api.client.get("/datasets", headers={"X-API-Key": key})
    assert r.status_code == 401


def test_access_token_is_refused_on_an_open_websocket_once_expired(api):
    from voicesmith.service import tokens

    token = tokens.issue(api.org_id("ws-expiry"), keys_id(api, "ws-expiry"), {"tts": True}, expires_in=1)
    with api.client.websocket_connect(f"/tts/websocket?access_token={token}") as ws:
        ws.send_text(_ws_generation_text("in-time"))
        assert ws.receive_json()["type"] == "done"
        time.sleep(1.2)
        ws.send_text(_ws_generation_text("late"))
        event = ws.receive_json()
        assert event["status_code"] == 401 and "expired" in event["message"], event


def keys_id(api, org: str) -> str:
    from voicesmith.service import keys

    api.key(org)
    return keys.list_keys(api.org_id(org))[0][0].id


def test_per_key_rate_limit_answers_429_with_retry_after(api, data_dir_switch):
    """With 30 requests a minute, the 31st within the minute is refused with Retry-After; another key is not
    affected; after the wait the key works again (a token every 2 s)."""
    from voicesmith.service import limits

    with data_dir_switch(api.data_dir, VOICESMITH_RATE_LIMIT_PER_MIN="30"):
        limited, other = api.key("rate-a"), api.key("rate-b")
        codes = [api.client.get("/datasets", headers={"X-API-Key": limited}).status_code for _ in range(30)]
        assert codes == [200] * 30
        r = api.client.get("/datasets", headers={"X-API-Key": limited})
        assert r.status_code == 429 and r.json()["error_code"] == "rate_limited", r.text
        assert 1 <= int(r.headers["retry-after"]) <= 2 and "VOICESMITH_RATE_LIMIT_PER_MIN" in r.json()["message"]
        assert api.client.get("/datasets", headers={"X-API-Key": other}).status_code == 200
        # A WebSocket handshake counts too, refused with the same 429 and Retry-After.
        from starlette.testclient import WebSocketDenialResponse

        with pytest.raises(WebSocketDenialResponse) as denied:
            with api.client.websocket_connect("/tts/websocket", headers={"X-API-Key": limited}):
                pass
        assert denied.value.status_code == 429 and denied.value.headers["retry-after"]
        time.sleep(int(r.headers["retry-after"]) + 0.1)
        assert api.client.get("/datasets", headers={"X-API-Key": limited}).status_code == 200
    # The bucket itself: a burst of per_min, then per_min/60 a second.
    buckets = limits._Buckets()
    assert [buckets.take("k", 60, 100.0) for _ in range(60)] == [0.0] * 60
    assert buckets.take("k", 60, 100.0) == pytest.approx(1.0)
    assert buckets.take("k", 60, 101.0) == 0.0
    with data_dir_switch(api.data_dir, VOICESMITH_RATE_LIMIT_PER_MIN="0"):
        for _ in range(50):
            limits.check_request_rate("unlimited", now=0.0)  # 0 turns the limit off
