"""Access tokens: short-lived HS256 JWTs an API key holder mints for browsers and apps.

They carry the claims Cartesia's tokens carry (grants, jti, iat, exp, iss, and a `kid` header) plus
the organisation and the minting key, so revoking that key also invalidates its tokens.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt

from voicesmith.config import get_settings

ISSUER = "https://api.cartesia.ai"
MAX_EXPIRES_IN = 3600
DEFAULT_EXPIRES_IN = 3600
GRANT_NAMES = ("tts", "stt", "agent")

_secret_lock = threading.Lock()


@dataclass(frozen=True)
class TokenClaims:
    org_id: str
    api_key_id: str
    grants: dict[str, bool]
    expires_at: int


class InvalidToken(Exception):
    pass


def _secret() -> str:
    settings = get_settings()
    if settings.token_secret:
        return settings.token_secret
    path: Path = settings.data_dir / "token_secret"
    with _secret_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: if another process created it first, use theirs.
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
        for _ in range(50):  # a concurrent creator may not have written yet
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.01)
        raise RuntimeError(f"token secret file {path} is empty")


def _kid(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def issue(org_id: str, api_key_id: str, grants: dict[str, bool], expires_in: int) -> str:
    secret = _secret()
    now = int(time.time())
    claims = {
        "grants": grants,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + expires_in,
        "iss": ISSUER,
        "sub": org_id,
        "akid": api_key_id,
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": _kid(secret)})


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def verify(token: str) -> TokenClaims:
    secret = _secret()
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "akid"]})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the access token has expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("the access token is invalid") from None
    grants = claims.get("grants") or {}
    return TokenClaims(org_id=str(claims["sub"]), api_key_id=str(claims["akid"]),
                       grants={k: bool(v) for k, v in grants.items() if k in GRANT_NAMES},
                       expires_at=int(claims["exp"]))
