"""Object ids. Datasets, files and fine-tunes get prefixed random ids (like Cartesia's
`fine_tune_5YoCXHgSEyadGrZraMJWwf`); voices and API keys are UUIDs as in Cartesia's examples."""

from __future__ import annotations

import secrets
import uuid

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # base58: no 0/O/I/l


def new_id(prefix: str, length: int = 22) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_uuid() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True
