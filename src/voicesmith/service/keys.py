"""API keys: created for an organisation, stored only as a sha256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from voicesmith.service.errors import NotFound
from voicesmith.service.ids import new_uuid
from voicesmith.service.orgs import get_or_create_org
from voicesmith.store.db import session_scope
from voicesmith.store.models import ApiKey, Organization

KEY_PREFIX = "sk_vs_"
ADMIN_KEY_PREFIX = "sk_vs_admin_"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class KeyOwner:
    """Who a valid key belongs to."""

    api_key_id: str
    org_id: str
    org_name: str
    is_admin: bool


def create_key(org_name: str, description: str = "", is_admin: bool = False) -> tuple[ApiKey, str]:
    """Create a key (and the organisation if it is new); returns the row and the secret, shown once."""
    secret = (ADMIN_KEY_PREFIX if is_admin else KEY_PREFIX) + secrets.token_urlsafe(32)
    with session_scope() as session:
        org = get_or_create_org(session, org_name)
        key = ApiKey(id=new_uuid(), org_id=org.id, key_hash=hash_key(secret), prefix=secret[:14],
                     description=description, is_admin=is_admin)
        session.add(key)
    return key, secret


def authenticate(session: Session, secret: str) -> KeyOwner | None:
    row = session.execute(
        select(ApiKey.id, ApiKey.org_id, ApiKey.is_admin, Organization.name)
        .join(Organization, Organization.id == ApiKey.org_id)
        .where(ApiKey.key_hash == hash_key(secret), ApiKey.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return KeyOwner(api_key_id=row[0], org_id=row[1], is_admin=bool(row[2]), org_name=row[3])


def is_active(session: Session, api_key_id: str) -> bool:
    return session.scalar(select(ApiKey.id).where(ApiKey.id == api_key_id, ApiKey.revoked_at.is_(None))) is not None


def list_keys(org_id: str | None = None, include_revoked: bool = False) -> list[tuple[ApiKey, str]]:
    """Keys oldest first, each with its organisation's name; all organisations when org_id is None."""
    with session_scope() as session:
        stmt = select(ApiKey, Organization.name).join(Organization, Organization.id == ApiKey.org_id)
        if org_id is not None:
            stmt = stmt.where(ApiKey.org_id == org_id)
        if not include_revoked:
            stmt = stmt.where(ApiKey.revoked_at.is_(None))
        stmt = stmt.order_by(ApiKey.created_at, ApiKey.id)
        return [(k, name) for k, name in session.execute(stmt).all()]


def get_key(org_id: str, key_id: str) -> ApiKey:
    with session_scope() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == org_id,
                                                  ApiKey.revoked_at.is_(None)))
        if key is None:
            raise NotFound(f"No API key {key_id!r} in your organisation.", error_code="api_key_not_found")
        return key


def revoke_key(key_id: str) -> bool:
    """Revoke by id; False when no active key has that id."""
    with session_scope() as session:
        key = session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            return False
        key.revoked_at = datetime.now(timezone.utc)
        return True


def count_keys() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(ApiKey)) or 0
