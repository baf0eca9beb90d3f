"""Who is calling: API keys (X-API-Key or Authorization: Bearer) and access tokens (JWT).

Access tokens are accepted only on /tts/* (as Cartesia does) and only with the matching grant.
WebSocket clients that cannot set handshake headers may pass `?api_key=` or `?access_token=`.

Every authenticated request counts against its API key's rate (service.limits; an access token counts
against the key that minted it). A key revoked, or a token expired, is refused from the next request on, and on
an open WebSocket from its next message (`still_valid`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from voicesmith.api.errors import ApiError
from voicesmith.service import keys, tokens
from voicesmith.service.limits import check_request_rate
from voicesmith.store.db import session_scope


@dataclass(frozen=True)
class Principal:
    org_id: str
    api_key_id: str
    is_admin: bool = False
    grants: dict[str, bool] = field(default_factory=dict)
    via_token: bool = False
    expires_at: int | None = None  # an access token's expiry (Unix time)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized", message, headers=_CHALLENGE)


def _credential(conn: HTTPConnection) -> str | None:
    auth = conn.headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("The Authorization header must be 'Bearer <API key or access token>'.")
        return value.strip()
    key = conn.headers.get("x-api-key")
    if key:
        return key.strip()
    if conn.scope["type"] == "websocket":
        # Browsers cannot set handshake headers; Cartesia's WebSocket clients use these instead.
        return conn.query_params.get("access_token") or conn.query_params.get("api_key") or None
    return None


def authenticate(conn: HTTPConnection, *, allow_token: bool = False, grant: str | None = None) -> Principal:
    """Resolve the caller or raise ApiError(401/403). Usable from HTTP routes and WebSocket handlers."""
    cached = conn.scope.setdefault("state", {}).get("principal")
    if cached is not None and (allow_token or not cached.via_token):
        return cached
    credential = _credential(conn)
    if not credential:
        raise _unauthorized("Missing credentials: send 'Authorization: Bearer <API key>' or 'X-API-Key: <API key>'.")
    if tokens.looks_like_jwt(credential):
        principal = _from_token(credential, allow_token, grant)
    else:
        with session_scope() as session:
            owner = keys.authenticate(session, credential)
        if owner is None:
            raise _unauthorized("Invalid API key.")
        principal = Principal(org_id=owner.org_id, api_key_id=owner.api_key_id, is_admin=owner.is_admin)
    check_request_rate(principal.api_key_id)
    conn.scope["state"]["principal"] = principal
    return principal


def still_valid(principal: Principal) -> ApiError | None:
    """For a long-lived connection: None while its credential still holds, else the 401 to answer with."""
    if principal.expires_at is not None and time.time() >= principal.expires_at:
        return _unauthorized("Invalid access token: the access token has expired.")
    with session_scope() as session:
        if not keys.is_active(session, principal.api_key_id):
            what = "the API key that minted it" if principal.via_token else "this API key"
            return _unauthorized(f"Invalid credentials: {what} was revoked.")
    return None


def _from_token(token: str, allow_token: bool, grant: str | None) -> Principal:
    if not allow_token:
        raise _unauthorized("Access tokens are accepted only on /tts endpoints; use an API key here.")
    try:
        claims = tokens.verify(token)
    except tokens.InvalidToken as exc:
        raise _unauthorized(f"Invalid access token: {exc}.") from None
    with session_scope() as session:
        if not keys.is_active(session, claims.api_key_id):
            raise _unauthorized("Invalid access token: the API key that minted it was revoked.")
    if grant is not None and not claims.grants.get(grant):
        raise ApiError(403, "permission_denied", "Permission denied",
                       f"This access token has no '{grant}' grant.")
    return Principal(org_id=claims.org_id, api_key_id=claims.api_key_id, grants=claims.grants, via_token=True,
                     expires_at=claims.expires_at)


# FastAPI dependencies -------------------------------------------------------------------------

def api_key_principal(conn: HTTPConnection) -> Principal:
    """Routes that take an API key only (datasets, fine-tunes, voices, access-token...)."""
    return authenticate(conn)


def tts_principal(conn: HTTPConnection) -> Principal:
    """/tts/* routes: an API key, or an access token with the `tts` grant."""
    return authenticate(conn, allow_token=True, grant="tts")


def admin_principal(conn: HTTPConnection) -> Principal:
    """/usage/* and /api-keys: an admin API key."""
    principal = authenticate(conn)
    if not principal.is_admin:
        raise ApiError(403, "permission_denied", "Permission denied",
                       "This endpoint needs an admin API key (voicesmith keys create --admin).")
    return principal
