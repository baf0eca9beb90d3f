"""Server administration used by the `voicesmith` CLI and by `serve`: schema, keys, credits, bootstrap."""

from __future__ import annotations

import sys

from voicesmith.config import get_settings
from voicesmith.service import keys
from voicesmith.store.db import database_exists
from voicesmith.store.db import migrate as _migrate_db

BOOTSTRAP_ORG = "default"


def _existing_database() -> None:
    """Refuse to work on a database that is not there: run in the wrong folder, `keys list` would otherwise
    make a new empty one and answer that there are no keys."""
    if not database_exists():
        raise SystemExit(f"no voicesmith database in {get_settings().data_dir}: run this in the folder where "
                         "`voicesmith serve` runs, or pass --data DIR (or set VOICESMITH_DATA / "
                         "VOICESMITH_DATABASE_URL)")
    _migrate_db()


def migrate() -> None:
    """Bring the database schema up to date."""
    _migrate_db()


def create_key(org: str = BOOTSTRAP_ORG, description: str = "", is_admin: bool = False) -> str:
    """Create an API key (and the organisation, with its initial credits, if new); returns the secret."""
    if not database_exists():
        # Allowed (keys can be made before the first start), but never silently.
        print(f"voicesmith: no database in {get_settings().data_dir} yet: creating a new one", file=sys.stderr)
    _migrate_db()
    _, secret = keys.create_key(org, description, is_admin)
    return secret


def print_keys() -> None:
    """Print every active key: id, organisation, prefix, admin flag, created, description (never secrets)."""
    _existing_database()
    rows = keys.list_keys()
    if not rows:
        print("no API keys; create one with: voicesmith keys create [--org NAME] [--admin]")
        return
    print(f"{'id':36}  {'org':16}  {'prefix':14}  {'admin':5}  {'created':20}  description")
    for key, org_name in rows:
        created = key.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{key.id:36}  {org_name[:16]:16}  {key.prefix:14}  {'yes' if key.is_admin else 'no':5}  "
              f"{created:20}  {key.description}")


def revoke_key(key_id: str) -> None:
    """Revoke a key by id; raises SystemExit(1) with a message when there is no such active key."""
    _existing_database()
    if not keys.revoke_key(key_id):
        raise SystemExit(f"no active API key with id {key_id}")
    print(f"revoked {key_id}")


def add_credits(org: str, amount: int) -> None:
    """Add `amount` credits (negative: remove) to an organisation; raises SystemExit(1) with a message on refusal."""
    from voicesmith.service import orgs
    from voicesmith.service.errors import ServiceError
    from voicesmith.store.db import session_scope

    _existing_database()
    try:
        with session_scope() as session:
            o = orgs.add_credits(session, org, amount)
            balance, reserved = o.credits_balance, o.credits_reserved
    except ServiceError as exc:
        raise SystemExit(exc.message) from None
    print(f"{org}: {balance:,} credits ({reserved:,} reserved by running fine-tunes)")


def ensure_bootstrap_key() -> str | None:
    """On a fresh install (no keys at all), create an admin key for org 'default' and return it so that
    `serve` can print it once; None when keys already exist."""
    _migrate_db()
    if keys.count_keys() > 0:
        return None
    _, secret = keys.create_key(BOOTSTRAP_ORG, "created on first start", is_admin=True)
    return secret
